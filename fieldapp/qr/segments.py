"""The data bit stream: numeric, alphanumeric, byte and kanji segments, and ECI character
sets, up to the terminator."""

from __future__ import annotations

from fieldapp.errors import QRUnreadable

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_CHARSETS = {1: "iso-8859-1", 3: "iso-8859-1", 4: "iso-8859-2", 20: "shift_jis", 26: "utf-8"}


class _Bits:
    """Reads big-endian fields off the data codewords."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def read(self, width: int) -> int:
        if width > self.left:
            raise QRUnreadable("the data ends in the middle of a segment")
        self.left -= width
        return (self.value >> self.left) & ((1 << width) - 1)


def _count_width(version: int, widths: tuple[int, int, int]) -> int:
    return widths[0] if version <= 9 else widths[1] if version <= 26 else widths[2]


def decode_segments(data: bytes, version: int) -> str:
    """The text of the data segments, up to the terminator or the end of the data."""
    bits = _Bits(data)
    parts: list[str] = []
    charset: str | None = None
    while bits.left >= 4:
        mode = bits.read(4)
        if mode == 0:  # terminator
            break
        if mode == 1:
            parts.append(_numeric(bits, bits.read(_count_width(version, (10, 12, 14)))))
        elif mode == 2:
            parts.append(_alphanumeric(bits, bits.read(_count_width(version, (9, 11, 13)))))
        elif mode == 4:
            count = bits.read(_count_width(version, (8, 16, 16)))
            parts.append(_text(bytes(bits.read(8) for _ in range(count)), charset))
        elif mode == 8:
            parts.append(_kanji(bits, bits.read(_count_width(version, (8, 10, 12)))))
        elif mode == 7:
            charset = _CHARSETS.get(_eci(bits))
            if charset is None:
                raise QRUnreadable("the text uses a character set this app does not know")
        elif mode == 3:  # structured append: sequence, total, parity
            bits.read(16)
        elif mode == 9:  # FNC1 in second position: an application indicator
            bits.read(8)
        elif mode != 5:  # FNC1 in first position carries nothing to read
            raise QRUnreadable(f"unknown data mode {mode}")
    return "".join(parts)


def _numeric(bits: _Bits, count: int) -> str:
    digits = []
    while count > 0:
        take = min(3, count)
        value = bits.read((4, 7, 10)[take - 1])
        if value >= 10**take:
            raise QRUnreadable("a numeric segment holds a value that is not digits")
        digits.append(str(value).zfill(take))
        count -= take
    return "".join(digits)


def _alphanumeric(bits: _Bits, count: int) -> str:
    chars = []
    while count > 1:
        value = bits.read(11)
        if value >= 45 * 45:
            raise QRUnreadable("an alphanumeric segment holds an invalid pair")
        chars += [_ALPHANUMERIC[value // 45], _ALPHANUMERIC[value % 45]]
        count -= 2
    if count:
        value = bits.read(6)
        if value >= 45:
            raise QRUnreadable("an alphanumeric segment holds an invalid character")
        chars.append(_ALPHANUMERIC[value])
    return "".join(chars)


def _kanji(bits: _Bits, count: int) -> str:
    raw = bytearray()
    for _ in range(count):
        value = bits.read(13)
        code = ((value // 0xC0) << 8) | (value % 0xC0)
        code += 0x8140 if code < 0x1F00 else 0xC140
        raw += code.to_bytes(2, "big")
    return _text(bytes(raw), "shift_jis")


def _eci(bits: _Bits) -> int:
    first = bits.read(8)
    if first & 0x80 == 0:
        return first
    if first & 0xC0 == 0x80:
        return ((first & 0x3F) << 8) | bits.read(8)
    return ((first & 0x1F) << 16) | bits.read(16)


def _text(raw: bytes, charset: str | None) -> str:
    """Bytes as text: in the declared character set, else UTF-8, else ISO-8859-1 (the
    standard's default, which every byte string decodes as)."""
    try:
        return raw.decode(charset or "utf-8")
    except UnicodeDecodeError:
        if charset is not None:
            raise QRUnreadable(f"the text is not valid {charset}") from None
        return raw.decode("iso-8859-1")
