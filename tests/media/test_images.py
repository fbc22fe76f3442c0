"""Images re-encoded before they are stored: upright, scaled to max-pixels, and with nothing
of what the camera wrote beside the pixels (EXIF, GPS, XMP, ICC, comments, text chunks)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fieldapp.errors import MediaRejected
from fieldapp.media.images import DEFAULT_MAX_PIXELS, reencode_image
from tests.media._images import halves, needles, photo_jpeg, signature_png

CANARY = "Qwintzelmark"


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_photo_loses_every_metadata_and_becomes_a_jpeg_of_at_most_1600_px() -> None:
    source = photo_jpeg(CANARY)
    assert all(needle in source for needle in needles(CANARY)[:1])

    clean = reencode_image(source, field="document_photo")

    assert clean.media_type == "image/jpeg"
    assert (clean.width, clean.height) == (DEFAULT_MAX_PIXELS, DEFAULT_MAX_PIXELS // 2)
    assert not any(needle in clean.data for needle in needles(CANARY))
    image = opened(clean.data)
    assert image.format == "JPEG"
    assert image.size == (1600, 800)
    assert not image.getexif()
    for name in ("exif", "icc_profile", "comment", "xmp", "photoshop"):
        assert name not in image.info, name


def test_the_orientation_is_applied_before_it_is_stripped() -> None:
    """EXIF orientation 6: the camera held sideways, the picture shown turned 90° clockwise,
    so the left (red) half is on top once upright."""
    clean = reencode_image(photo_jpeg(CANARY, size=(400, 200), orientation=6), field="photo")
    image = opened(clean.data).convert("RGB")
    assert image.size == (200, 400)
    top = image.getpixel((100, 50))
    bottom = image.getpixel((100, 350))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 100, top  # red
    assert bottom[2] > 150 and bottom[0] < 100, bottom  # blue


def test_max_pixels_scales_the_long_side_and_a_small_image_is_not_enlarged() -> None:
    small = io.BytesIO()
    halves((300, 120)).save(small, format="PNG")
    assert reencode_image(small.getvalue(), field="p", max_pixels=200).width == 200
    kept = reencode_image(small.getvalue(), field="p")
    assert (kept.width, kept.height) == (300, 120)
    whole = reencode_image(photo_jpeg(CANARY), field="p", max_pixels=None)
    assert (whole.width, whole.height) == (2400, 1200)


def test_a_signature_stays_a_png_with_its_transparency_and_loses_its_text_chunks() -> None:
    source = signature_png(CANARY)
    assert CANARY.encode() in source

    clean = reencode_image(source, field="consent_signature", kind="signature")

    assert clean.media_type == "image/png"
    assert not any(needle in clean.data for needle in needles(CANARY))
    image = opened(clean.data)
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.getpixel((0, 199)) == (0, 0, 0, 0)  # still transparent
    assert not image.getexif()
    assert not getattr(image, "text", {})


def test_a_transparent_png_photo_is_laid_on_white() -> None:
    clear = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(clear, format="PNG")
    image = opened(reencode_image(clear.getvalue(), field="photo").data)
    assert image.mode == "RGB"
    pixel = image.getpixel((5, 5))
    assert isinstance(pixel, tuple) and min(pixel) > 240


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "not an image"),
        (b"", "not an image"),
        (photo_jpeg(CANARY)[:2000], "damaged or truncated"),
    ],
    ids=["pdf", "empty", "truncated-jpeg"],
)
def test_what_is_not_a_whole_image_is_refused_naming_the_field(data: bytes, problem: str) -> None:
    with pytest.raises(MediaRejected, match=rf"^injury_photo: .*{problem}") as refused:
        reencode_image(data, field="injury_photo")
    assert refused.value.field == "injury_photo"
    assert refused.value.problem in ("not_an_image", "damaged")


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    """A 14,000 × 14,000 black picture: a few kilobytes of PNG, 196 million pixels."""
    bomb = io.BytesIO()
    Image.new("1", (14_000, 14_000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(MediaRejected, match=r"^photo: .*too large") as refused:
        reencode_image(bomb.getvalue(), field="photo")
    assert (refused.value.field, refused.value.problem) == ("photo", "too_many_pixels")


def test_a_picture_over_the_source_limit_is_refused_by_its_header() -> None:
    """11,000 × 11,000 (121 megapixels): under Pillow's own refusal, over MAX_SOURCE_PIXELS."""
    big = io.BytesIO()
    Image.new("1", (11_000, 11_000)).save(big, format="PNG")
    with pytest.raises(MediaRejected, match=r"^photo: .*too large.*11000×11000"):
        reencode_image(big.getvalue(), field="photo")


def test_an_icon_or_other_format_is_not_accepted() -> None:
    icon = io.BytesIO()
    Image.new("RGB", (16, 16)).save(icon, format="ICO")
    with pytest.raises(MediaRejected, match=r"^photo: .*accepted format"):
        reencode_image(icon.getvalue(), field="photo")


def test_max_pixels_must_be_positive() -> None:
    with pytest.raises(MediaRejected, match=r"^photo: max-pixels must be a positive"):
        reencode_image(photo_jpeg(CANARY), field="photo", max_pixels=0)
