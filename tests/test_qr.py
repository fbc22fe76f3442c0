"""The QR reader (fieldapp.qr) on pictures segno draws and Pillow turns, warps, blurs,
compresses and damages; the enrolment link; `admin enrol-code --qr` against a real server."""

from __future__ import annotations

import io
import random
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image
from segno import consts

from fieldapp.errors import QRError, QRNotFound, QRUnreadable
from fieldapp.qr import decode_qr
from fieldapp.qr.symbol import BLOCKS, EC_PER_BLOCK, alignment_positions, placement
from sync.protocol import BadEnrolmentLink, EnrolmentLink
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests._qr_images import (
    blot,
    blur,
    encoded,
    perspective_coefficients,
    photo,
    picture,
    render,
    rotate,
    symbol,
    warp,
)
from tests.server._harness import running
from tests.test_cli import run
from tests.test_cli_server import create_org

LEVELS = "LMQH"
CODE = "7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGY"
FINGERPRINT = "3f" * 32
LINK = EnrolmentLink("https://field.example.org/sync", CODE, FINGERPRINT).uri()


# -- the standard's tables ---------------------------------------------------------------------
def test_block_structure_matches_the_standard_for_every_version_and_level() -> None:
    """Checked against segno's copy of ISO/IEC 18004 tables 9 and E.1: alignment positions,
    codewords a symbol holds (from the reader's own module placement), blocks, EC per block."""
    levels = [consts.ERROR_MAPPING[level] for level in LEVELS]
    for version in range(1, 41):
        positions = list(consts.ALIGNMENT_POS[version - 2]) if version > 1 else []
        assert alignment_positions(version) == positions, version
        total = len(placement(version)) // 8
        for index, level in enumerate(levels):
            groups = consts.ECC[version][level]
            assert total == sum(g.num_blocks * g.num_total for g in groups), version
            assert BLOCKS[index][version - 1] == sum(g.num_blocks for g in groups)
            ec = {g.num_total - g.num_data for g in groups}
            assert ec == {EC_PER_BLOCK[index][version - 1]}, (version, level)


# -- what it reads -------------------------------------------------------------------------------
@pytest.mark.parametrize("version", range(1, 41))
def test_every_version_reads(version: int) -> None:
    level = LEVELS[version % 4]
    text = f"fieldapp v{version} {level}"
    code = symbol(text, error=level, version=version)
    assert (code.version, code.error) == (version, level)
    assert decode_qr(encoded(render(code, scale=3 if version > 20 else 4))) == text


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6, 7])
def test_every_level_reads_turned_and_compressed(version: int, level: str) -> None:
    text = f"V{version}{level}"
    code = symbol(text, error=level, version=version)
    assert decode_qr(encoded(rotate(render(code, scale=5), 33), "JPEG")) == text


@pytest.mark.parametrize(
    ("content", "options", "mode", "text"),
    [
        ("0123456789012345", {}, "numeric", "0123456789012345"),
        ("FIELDAPP 42 $%*+-./:", {}, "alphanumeric", "FIELDAPP 42 $%*+-./:"),
        ("fieldapp://enrol?ñ=سلام", {"encoding": "utf-8"}, "byte", "fieldapp://enrol?ñ=سلام"),
        ("café crème", {}, "byte", "café crème"),  # ISO-8859-1, the standard's default
        ("Grüße 東京", {"eci": True, "encoding": "utf-8"}, "byte", "Grüße 東京"),
        ("点茗", {"mode": "kanji"}, "kanji", "点茗"),
        (
            [("enrol?code=", consts.MODE_BYTE), ("7KQ2M9XD", consts.MODE_ALPHANUMERIC),
             ("2026", consts.MODE_NUMERIC)],
            {},
            None,  # several segments
            "enrol?code=7KQ2M9XD2026",
        ),
    ],
)  # fmt: skip
def test_every_data_mode_reads(content: Any, options: dict[str, Any], mode: str, text: str) -> None:
    code = segno.make_qr(content, error="M", **options)
    assert code.mode == mode
    assert decode_qr(encoded(render(code))) == text


@pytest.mark.parametrize("scale", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("border", [0, 1, 4, 30])
def test_any_scale_with_or_without_a_quiet_zone(scale: int, border: int) -> None:
    code = symbol(LINK, error="Q")
    assert decode_qr(encoded(render(code, scale=scale, border=border))) == LINK


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_any_format_pillow_reads(kind: str) -> None:
    code = symbol(LINK)
    assert decode_qr(encoded(render(code, scale=4), kind)) == LINK


def test_a_transparent_background_counts_as_light() -> None:
    out = io.BytesIO()
    symbol(LINK).save(out, kind="png", scale=4, light=None)
    with Image.open(io.BytesIO(out.getvalue())) as image:
        assert image.has_transparency_data
    assert decode_qr(out.getvalue()) == LINK


@pytest.mark.parametrize("degrees", [0, 7, 30, 45, 90, 123, 180, 222, 270, 315, 359])
def test_any_rotation(degrees: float) -> None:
    code = symbol(LINK)
    assert decode_qr(encoded(rotate(render(code, scale=5), degrees), "JPEG")) == LINK


@pytest.mark.parametrize("seed", range(8))
def test_mild_perspective(seed: int) -> None:
    rng = random.Random(seed)
    code = symbol(LINK, error=rng.choice(LEVELS))
    image = warp(rotate(render(code, scale=6), rng.uniform(0, 360)), rng, amount=0.08)
    assert decode_qr(encoded(blur(image, 0.6), "JPEG")) == LINK


@pytest.mark.parametrize("span", [1 / 3, 1 / 10])
def test_a_phone_photo_of_a_screen(span: float) -> None:
    """12 megapixels, uneven light, noise, a turned and tilted screen, JPEG; the code a third
    of the picture's height, or a tenth (read on the second, finer pass)."""
    picture = photo(symbol(LINK), (4000, 3000), span=span)
    assert decode_qr(encoded(picture, "JPEG", 85)) == LINK


def test_a_screenshot() -> None:
    shot = Image.new("L", (640, 480), 235)
    shot.paste(render(symbol(LINK), scale=4, border=2), (380, 150))
    assert decode_qr(encoded(shot.convert("RGB"))) == LINK


# -- property: a seeded random set of pictures ---------------------------------------------------
_ALPHABETS = (
    "0123456789",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:",
    "abcdefghijklmnopqrstuvwxyz0123456789-_.~:/?#[]@!$&'()*+,;=%",
    "aéçñü€سلامدرود东京ДОМ ",
)


def random_picture(rng: random.Random) -> tuple[str, bytes, str]:
    """A random text, level and (sometimes) version, drawn at a random scale and margin, then
    maybe turned, warped, blurred, and saved as PNG, JPEG or WebP."""
    text = "".join(rng.choice(rng.choice(_ALPHABETS)) for _ in range(rng.randint(1, 90)))
    level = rng.choice(LEVELS)
    # Bytes as UTF-8, as the app's codes are: without an ECI a reader cannot tell Shift JIS
    # (which segno would pick for some of these texts) from ISO-8859-1.
    utf8: dict[str, Any] = {"error": level, "boost_error": False, "encoding": "utf-8"}
    try:
        code = segno.make_qr(text, **utf8, version=rng.choice([None, rng.randint(1, 12)]))
    except segno.DataOverflowError:
        code = segno.make_qr(text, **utf8)
    turned, lossy = rng.random() < 0.7, rng.random() < 0.5
    scale = rng.randint(3, 7) if turned or lossy else rng.randint(1, 7)
    image = render(code, scale=scale, border=rng.choice([0, 1, 2, 4, 10]))
    steps = [f"v{code.version}-{level}", f"scale {scale}"]
    if turned:
        degrees = rng.uniform(0, 360)
        image = rotate(image, degrees)
        steps.append(f"turned {degrees:.0f}")
        if rng.random() < 0.5:
            image = warp(image, rng, amount=0.05)
            steps.append("warped")
    if lossy and rng.random() < 0.5:
        image = blur(image, rng.uniform(0.3, 0.8))
        steps.append("blurred")
    kind = rng.choice(["JPEG", "WEBP"]) if lossy else "PNG"
    steps.append(kind)
    return text, encoded(image, kind, quality=70), ", ".join(steps)


@pytest.mark.slow  # 200 pictures: the full run only
def test_a_seeded_random_set_of_pictures_all_read_exactly() -> None:
    rng = random.Random(2026)
    failures = []
    for case in range(200):
        text, data, how = random_picture(rng)
        try:
            read = decode_qr(data)
        except QRError as error:
            failures.append(f"case {case} ({how}): {error}")
            continue
        assert read == text, f"case {case} ({how}) read a wrong text"
    assert not failures, "\n".join(failures)


# -- damage ------------------------------------------------------------------------------------
def block_of_each_codeword(version: int, level: str) -> list[int]:
    """The block each codeword belongs to, in the order the symbol holds them: data codewords
    one per block in turn (the longer blocks last), then error correction likewise."""
    index = LEVELS.index(level)
    ec = EC_PER_BLOCK[index][version - 1]
    count = BLOCKS[index][version - 1]
    short, longer = divmod(len(placement(version)) // 8, count)
    data = [short - ec] * (count - longer) + [short + 1 - ec] * longer
    order = [block for i in range(max(data)) for block in range(count) if i < data[block]]
    return order + [block for _ in range(ec) for block in range(count)]


def correctable(version: int, level: str) -> int:
    """Codewords per block the standard corrects: half the EC codewords, less those the
    smallest symbols keep to detect a wrong correction (ISO/IEC 18004 table 9, "p")."""
    ec = EC_PER_BLOCK[LEVELS.index(level)][version - 1]
    protection = {(1, "L"): 3, (1, "M"): 2, (1, "Q"): 1, (1, "H"): 1, (2, "L"): 2, (3, "L"): 1}
    return (ec - protection.get((version, level), 0)) // 2


def with_codewords_flipped(code: segno.QRCode, codewords: Sequence[int]) -> list[bytearray]:
    """The code's modules with every bit of these codewords inverted."""
    matrix = [bytearray(row) for row in code.matrix]
    order = placement(code.version)
    for codeword in codewords:
        for row, col in order[8 * codeword : 8 * codeword + 8]:
            matrix[row][col] ^= 1
    return matrix


DAMAGE_CASES = [(1, "L"), (1, "H"), (2, "L"), (3, "M"), (4, "Q"), (5, "H"), (6, "M"), (7, "Q"),
                (10, "H"), (15, "L"), (27, "M")]  # fmt: skip


@pytest.mark.parametrize(("version", "level"), DAMAGE_CASES)
def test_damage_within_the_correction_capacity_reads(version: int, level: str) -> None:
    rng = random.Random(version)
    text = f"QR{version}{level}"
    code = symbol(text, error=level, version=version)
    blocks = block_of_each_codeword(version, level)
    wrong = [
        codeword
        for block in sorted(set(blocks))
        for codeword in rng.sample(
            [i for i, b in enumerate(blocks) if b == block], correctable(version, level)
        )
    ]
    damaged = picture(with_codewords_flipped(code, wrong), scale=4)
    assert decode_qr(encoded(rotate(damaged, 20), "JPEG", 90)) == text


@pytest.mark.parametrize(("version", "level"), DAMAGE_CASES)
def test_damage_beyond_the_capacity_is_refused_never_misread(version: int, level: str) -> None:
    rng = random.Random(version)
    code = symbol(f"QR{version}{level}", error=level, version=version)
    blocks = block_of_each_codeword(version, level)
    victim = rng.randrange(max(blocks) + 1)
    mine = [i for i, b in enumerate(blocks) if b == victim]
    wrong = rng.sample(mine, correctable(version, level) + 1 + rng.randint(0, 3))
    damaged = picture(with_codewords_flipped(code, wrong), scale=4)
    with pytest.raises(QRUnreadable, match="could not be read"):
        decode_qr(encoded(rotate(damaged, 20), "JPEG", 90))


def test_a_stain_within_the_capacity_reads_and_a_large_one_is_refused() -> None:
    code = symbol(LINK, error="H")
    size, scale, border = code.symbol_size(border=0)[0], 6, 4
    image = render(code, scale=scale, border=border)

    def box(left: float, top: float, right: float, bottom: float) -> tuple[int, int, int, int]:
        """Fractions of the symbol's side to pixels of the picture."""

        def px(fraction: float) -> int:
            return round((border + size * fraction) * scale)

        return px(left), px(top), px(right), px(bottom)

    stained = blot(image, [box(0.4, 0.35, 0.6, 0.55)], shade=60)
    assert decode_qr(encoded(stained, "JPEG")) == LINK
    ruined = blot(image, [box(0.3, 0.3, 1.0, 0.8), box(0.3, 0.3, 0.8, 1.0)], shade=0)
    with pytest.raises(QRError):
        decode_qr(encoded(ruined, "JPEG"))


# -- what it refuses -----------------------------------------------------------------------------
def test_no_code_in_the_picture() -> None:
    blank = Image.new("L", (640, 480), 250)
    with pytest.raises(QRNotFound, match="no QR code was found"):
        decode_qr(encoded(blank))
    noise = Image.effect_noise((500, 400), 90)
    with pytest.raises(QRNotFound):
        decode_qr(encoded(noise))
    image = render(symbol(LINK), scale=4, border=4)
    half = image.crop((0, 0, image.width, image.height // 2))  # the bottom-left finder is gone
    with pytest.raises(QRNotFound):
        decode_qr(encoded(half))


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", encoded(render(symbol(LINK)))[:200]],
    ids=["empty", "text", "cut"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(QRNotFound, match="image"):
        decode_qr(data)


# -- the enrolment link --------------------------------------------------------------------------
def test_the_enrolment_link_round_trips_with_its_fingerprint() -> None:
    link = EnrolmentLink("https://sync.example.org:8443/field?", CODE, FINGERPRINT)
    uri = link.uri()
    assert uri.startswith("fieldapp://enrol?server=https%3A%2F%2Fsync.example.org")
    assert uri.endswith(f"&fingerprint={FINGERPRINT}")
    assert EnrolmentLink.parse(uri) == link
    assert EnrolmentLink.parse(f"  {LINK}\n") == EnrolmentLink.parse(LINK)
    assert EnrolmentLink.parse(decode_qr(encoded(render(symbol(LINK))))).fingerprint == FINGERPRINT
    earlier = EnrolmentLink("https://a.org", "7KQ2-M9XD-4RTA-0PZH")  # before fingerprints
    assert EnrolmentLink.parse(earlier.uri()).fingerprint is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("https://example.org/?code=7KQ2-M9XD", "not a fieldapp enrolment link"),
        ("WIFI:S:office;T:WPA;P:secret;;", "not a fieldapp enrolment link"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org", "exactly one 'code'"),
        ("fieldapp://enrol?code=7KQ2-M9XD", "exactly one 'server'"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD&code=7KQ2-M9XD",
         "exactly one 'code'"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD&org=x",
         "unknown parameter 'org'"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD#x", "fragment"),
        ("fieldapp://enrol?server=ftp%3A%2F%2Fa.org&code=7KQ2-M9XD", "not an http(s) address"),
        ("fieldapp://enrol?server=https%3A%2F%2F%5B%3A%3A1&code=7KQ2-M9XD",
         "not an http(s) address"),
        ("fieldapp://enrol?server=https%3A%2F%2Fu%3Ap%40a.org&code=7KQ2-M9XD", "user name"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2+M9XD", "letters and digits"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=ABC", "letters and digits"),
        ("fieldapp://enrol?server&code", "malformed"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD&fingerprint=3f3f",
         "fingerprint must be 64"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD&fingerprint=" + "3F" * 32,
         "fingerprint must be 64 lowercase"),
        ("fieldapp://enrol?server=https%3A%2F%2Fa.org&code=7KQ2-M9XD"
         f"&fingerprint={FINGERPRINT}&fingerprint={FINGERPRINT}", "at most one 'fingerprint'"),
        ("fieldapp://enrol?" + "x" * 3000, "too long"),
    ],
)  # fmt: skip
def test_a_bad_enrolment_link_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(BadEnrolmentLink, match=problem.replace("(", r"\(").replace(")", r"\)")):
        EnrolmentLink.parse(text)


# -- the admin command, end to end -------------------------------------------------------------
def test_admin_enrol_code_writes_a_qr_image_that_enrols_a_device(tmp_path: Path) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    qr = tmp_path / "enrol.png"
    with running(create_app(ServerSettings(data_dir=server))) as url:
        missing = run(server, "admin", "enrol-code", "--org", "Office", "--role", "collector",
                      "--qr", str(qr))  # fmt: skip
        assert missing.returncode == 1 and "--server" in missing.stderr and not qr.exists()
        insecure = run(server, "admin", "enrol-code", "--org", "Office", "--role", "collector",
                       "--qr", str(qr), "--server", "http://192.0.2.7:8765")  # fmt: skip
        assert insecure.returncode == 1 and "https://" in insecure.stderr and not qr.exists()

        issued = run(server, "admin", "enrol-code", "--org", "Office", "--role", "collector",
                     "--qr", str(qr), "--server", url)  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        assert "secret" in issued.stderr
        assert stat.S_IMODE(qr.stat().st_mode) == 0o600
        link = EnrolmentLink.parse(decode_qr(qr.read_bytes()))
        assert link.server == url and link.code == issued.stdout.split("\t")[0]
        assert link.fingerprint is not None and len(link.fingerprint) == 64

        device = tmp_path / "device"
        assert run(device, "init").returncode == 0
        wrong = link.fingerprint[::-1]
        refused = run(device, "enrol", "--server", link.server, "--code", link.code,
                      "--fingerprint", wrong)  # fmt: skip
        assert refused.returncode == 1 and "Nothing was stored" in refused.stderr
        enrolled = run(device, "enrol", "--server", link.server, "--code", link.code,
                       "--fingerprint", link.fingerprint)  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        assert "enrolled device" in enrolled.stdout
        earlier = run(device, "enrol", "--server", link.server, "--code", link.code[:19])
        assert earlier.returncode == 1 and "ask your coordinator for a new code" in earlier.stderr


def test_the_test_pictures_warp_puts_each_corner_where_it_is_asked_to() -> None:
    """The warp's own solver (not the reader's): each asked-for corner reads the picture's."""
    corners = [(31.0, 12.5), (410.0, 40.0), (380.5, 455.0), (8.0, 399.0)]
    a, b, c, d, e, f, g, h = perspective_coefficients(corners, (400, 300))
    read = [
        ((a * x + b * y + c) / (g * x + h * y + 1), (d * x + e * y + f) / (g * x + h * y + 1))
        for x, y in corners
    ]
    for (x, y), expected in zip(read, [(0, 0), (400, 0), (400, 300), (0, 300)], strict=True):
        assert (x, y) == pytest.approx(expected, abs=1e-6)
