"""Sealing to the organisation with HPKE (RFC 9180): recipient keys, the envelope format,
and reading an envelope's header without opening it."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from typing import Literal

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from pydantic import BaseModel, ConfigDict, model_validator

from fieldapp.crypto._encoding import B64Bytes, length_prefixed
from fieldapp.crypto.errors import CryptoError, IntegrityError
from fieldapp.crypto.symmetric import encrypt, random_key

_ENVELOPE_VERSION = b"\x01"

# A sealed plaintext never decompresses beyond this, so a hostile envelope cannot exhaust memory.
MAX_SEALED_PLAINTEXT = 64 * 1024 * 1024


KemName = Literal["MLKEM768_X25519", "X25519"]

X25519_BYTES = 32
_MLKEM768_PUBLIC_BYTES = 1184
MLKEM768_SEED_BYTES = 64
_PUBLIC_KEY_BYTES: dict[str, int] = {
    "X25519": X25519_BYTES,
    "MLKEM768_X25519": _MLKEM768_PUBLIC_BYTES + X25519_BYTES,
}
_KEM_IDS: dict[str, int] = {"X25519": 1, "MLKEM768_X25519": 2}
_KEM_NAMES: dict[int, KemName] = {1: "X25519", 2: "MLKEM768_X25519"}
_KEY_ID_BYTES = 8

_PublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
PrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


def suite(kem: KemName) -> hpke.Suite:
    hpke_kem = hpke.KEM.X25519 if kem == "X25519" else hpke.KEM.MLKEM768_X25519
    return hpke.Suite(hpke_kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _key_id(kem: str, public_key: bytes) -> str:
    return hashlib.sha256(kem.encode("ascii") + b":" + public_key).hexdigest()[: 2 * _KEY_ID_BYTES]


def _load_public_key(kem: KemName, raw: bytes) -> _PublicKey:
    if len(raw) != _PUBLIC_KEY_BYTES[kem]:
        raise ValueError(f"a {kem} public key is {_PUBLIC_KEY_BYTES[kem]} bytes, got {len(raw)}")
    if kem == "X25519":
        return x25519.X25519PublicKey.from_public_bytes(raw)
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_BYTES]),
        x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_BYTES:]),
    )


class RecipientKey(BaseModel):
    """An organisation public key that records are sealed to (public: safe to publish).

    `key_id` is the first 16 hex digits of sha256(kem + ":" + public_key) and is checked on
    load. An MLKEM768_X25519 public key is the ML-KEM-768 key (1184 bytes) then X25519 (32).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    kem: KemName
    public_key: B64Bytes

    @classmethod
    def from_public_key(cls, kem: KemName, public_key: bytes) -> RecipientKey:
        return cls(key_id=_key_id(kem, public_key), kem=kem, public_key=public_key)

    @model_validator(mode="after")
    def _consistent(self) -> RecipientKey:
        _load_public_key(self.kem, self.public_key)
        if self.key_id != _key_id(self.kem, self.public_key):
            raise ValueError("key_id does not match the public key")
        return self


def envelope_info(aad: bytes) -> bytes:
    return b"fieldapp/envelope/v1" + length_prefixed(aad)


def sealed_key_header(
    version: bytes, key: bytes, recipients: Sequence[RecipientKey], info: bytes
) -> bytes:
    """`version`, count, then per recipient its key id, kem, length and HPKE(recipient, info)
    of `key`: the header of an envelope (see `seal`) and of an epoch (crypto.epochs)."""
    unique = list({recipient.key_id: recipient for recipient in recipients}.values())
    if not unique:
        raise CryptoError("sealing needs at least one recipient")
    if len(unique) > 255:
        raise CryptoError("an envelope holds at most 255 recipients")
    header = bytearray(version + bytes([len(unique)]))
    for recipient in unique:
        public_key = _load_public_key(recipient.kem, recipient.public_key)
        sealed = suite(recipient.kem).encrypt(key, public_key, info=info)
        header += bytes.fromhex(recipient.key_id)
        header += struct.pack(">BH", _KEM_IDS[recipient.kem], len(sealed))
        header += sealed
    return bytes(header)


def seal(plaintext: bytes, recipients: Sequence[RecipientKey], aad: bytes) -> bytes:
    """Seal a plaintext so that only the recipients' private keys open it.

    The plaintext is zlib-compressed (before encryption: ciphertext does not compress) and
    encrypted under a random content key; the content key is HPKE-sealed to each recipient with
    `aad` in the HPKE info, so an envelope cannot be replayed onto another record or revision.
    Below, info = b"fieldapp/envelope/v1" + 4-byte length + aad.

    Format (integers big-endian)::

        version      1 byte   0x01
        count        1 byte   number of recipients, 1..255
        count times:
          key_id     8 bytes  RecipientKey.key_id as bytes
          kem        1 byte   1 = X25519, 2 = MLKEM768_X25519
          length     2 bytes  length of the sealed content key
          sealed     HPKE(recipient, info) of the 32-byte content key (RFC 9180 base mode,
                     HKDF-SHA256, AES-256-GCM)
        payload      encrypt(content key, zlib(plaintext), info + everything above)

    The payload's associated data covers the whole header, so changing any byte of the envelope
    makes every recipient's `open` fail.
    """
    if len(plaintext) > MAX_SEALED_PLAINTEXT:
        raise CryptoError(f"cannot seal more than {MAX_SEALED_PLAINTEXT} bytes")
    content_key = random_key()
    info = envelope_info(aad)
    header = sealed_key_header(_ENVELOPE_VERSION, content_key, recipients, info)
    payload = encrypt(content_key, zlib.compress(plaintext, 9), info + header)
    return header + payload


def _header_entries(
    envelope: bytes, version: bytes = _ENVELOPE_VERSION, what: str = "envelope"
) -> tuple[int, list[tuple[str, KemName, int, int]]]:
    """(header length, [(key_id, kem, start and end of the sealed content key)]) of an
    envelope (or of an epoch header: the same layout under another `version` byte), without
    copying its bytes; IntegrityError if malformed."""
    corrupt = IntegrityError(f"{what} is truncated or corrupt")
    if len(envelope) < 2:
        raise corrupt
    if envelope[:1] != version:
        raise IntegrityError(f"unknown {what} format version {envelope[0]}")
    entries: list[tuple[str, KemName, int, int]] = []
    position = 2
    for _ in range(envelope[1]):
        if len(envelope) < position + _KEY_ID_BYTES + 3:
            raise corrupt
        key_id = envelope[position : position + _KEY_ID_BYTES].hex()
        kem_id, length = struct.unpack_from(">BH", envelope, position + _KEY_ID_BYTES)
        position += _KEY_ID_BYTES + 3
        if kem_id not in _KEM_NAMES or len(envelope) < position + length:
            raise corrupt
        entries.append((key_id, _KEM_NAMES[kem_id], position, position + length))
        position += length
    if not entries:
        raise corrupt
    return position, entries


def parse_envelope(
    envelope: bytes, version: bytes = _ENVELOPE_VERSION, what: str = "envelope"
) -> tuple[bytes, list[tuple[str, KemName, bytes]], bytes]:
    """(header, [(key_id, kem, sealed content key)], payload), IntegrityError if malformed."""
    end, entries = _header_entries(envelope, version, what)
    sealed_keys = [(key_id, kem, envelope[start:stop]) for key_id, kem, start, stop in entries]
    return envelope[:end], sealed_keys, envelope[end:]


def header_key_ids(
    envelope: bytes, version: bytes = _ENVELOPE_VERSION, what: str = "envelope"
) -> list[str]:
    """The key ids (`RecipientKey.key_id`) an envelope (or epoch header) is sealed to, in its
    order, read from its header without opening it. IntegrityError if malformed."""
    return [key_id for key_id, _, _, _ in _header_entries(envelope, version, what)[1]]


def decompress_bounded(data: bytes, wbits: int = zlib.MAX_WBITS, zdict: bytes = b"") -> bytes:
    """Inflate a sealed payload (zlib, or raw deflate with `wbits` -15, with the preset
    dictionary `zdict`), never beyond MAX_SEALED_PLAINTEXT; IntegrityError if malformed."""
    decompressor = zlib.decompressobj(wbits, zdict=zdict) if zdict else zlib.decompressobj(wbits)
    try:
        plaintext = decompressor.decompress(data, MAX_SEALED_PLAINTEXT)
    except zlib.error:
        raise IntegrityError("sealed payload is not valid compressed data") from None
    if decompressor.unconsumed_tail or not decompressor.eof or decompressor.unused_data:
        raise IntegrityError("sealed payload is oversized or malformed")
    return plaintext
