"""Images as the device keeps them: decoded and drawn again from their pixels alone, so what
a camera or a gallery wrote beside the picture (EXIF with GPS, the camera's serial number,
XMP, ICC profiles, comments, text chunks, thumbnails) never reaches the store.

A photo becomes a JPEG, a signature a PNG (sharp strokes, transparency kept), turned upright
first (the EXIF orientation is applied before it is dropped) and scaled down so that its long
side is at most the form's `max-pixels` (1,600 by default). Anything that is not an image in
one of the accepted formats, or would decode to more than `MAX_SOURCE_PIXELS`, is refused
with an error naming the question, before it is decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from fieldapp.errors import MediaRejected

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "MAX_SOURCE_PIXELS",
    "CleanImage",
    "ImageKind",
    "reencode_image",
]

# The long side of a stored image, unless the form's `max-pixels` says otherwise.
DEFAULT_MAX_PIXELS = 1600
# Pixels a source image may have: a 108-megapixel phone camera fits, a decompression bomb
# (a few kilobytes that decode to gigabytes) does not.
MAX_SOURCE_PIXELS = 120_000_000
# What a camera, a gallery or a scanner gives (HEIC needs a plugin a phone build lacks).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_JPEG_QUALITY = 85

ImageKind = Literal["photo", "signature"]


@dataclass(frozen=True)
class CleanImage:
    """An image re-encoded from its pixels alone: `data` in `media_type`."""

    data: bytes
    media_type: str
    width: int
    height: int


def reencode_image(
    data: bytes,
    *,
    field: str,
    kind: ImageKind = "photo",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> CleanImage:
    """`data` (an image file's bytes) upright, scaled to `max_pixels` on its long side (None:
    kept as large as it is), with no metadata: a JPEG for a photo, a PNG for a signature.
    Raises MediaRejected naming `field` when `data` is not an accepted image."""
    if max_pixels is not None and max_pixels < 1:
        raise MediaRejected(
            field, "setting", f"max-pixels must be a positive number, not {max_pixels}"
        )
    with warnings.catch_warnings():
        # Pillow warns from 89 megapixels (a phone's 108 fit MAX_SOURCE_PIXELS, checked below)
        # and refuses from twice that: its refusal stays, as a second guard.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return _reencode(data, field=field, kind=kind, max_pixels=max_pixels)
        except Image.DecompressionBombError:
            raise MediaRejected(
                field,
                "too_many_pixels",
                f"the image is too large to open safely (over {MAX_SOURCE_PIXELS:,} pixels)",
            ) from None
        except UnidentifiedImageError:
            raise MediaRejected(
                field,
                "not_an_image",
                f"this file is not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)})",
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaRejected(
                field, "damaged", f"the image is damaged or truncated ({exc})"
            ) from None


def _reencode(data: bytes, *, field: str, kind: ImageKind, max_pixels: int | None) -> CleanImage:
    with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
        width, height = source.size
        if width < 1 or height < 1 or width * height > MAX_SOURCE_PIXELS:
            raise MediaRejected(
                field,
                "too_many_pixels",
                f"the image is too large to open safely ({width}×{height} pixels;"
                f" at most {MAX_SOURCE_PIXELS:,})",
            )
        if max_pixels is not None:
            source.draft("RGB", (max_pixels, max_pixels))  # a JPEG decodes smaller, faster
        upright = ImageOps.exif_transpose(source)
        pixels = _plain_mode(upright, kind)
        if max_pixels is not None:
            pixels.thumbnail((max_pixels, max_pixels), Image.Resampling.LANCZOS)
        # A new image from the pixel bytes alone: no info, EXIF, ICC profile or text survives.
        clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if kind == "signature":
        clean.save(out, format="PNG", optimize=True)
        media_type = "image/png"
    else:
        clean.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
        media_type = "image/jpeg"
    return CleanImage(out.getvalue(), media_type, clean.width, clean.height)


def _plain_mode(image: Image.Image, kind: ImageKind) -> Image.Image:
    """The image in a mode its output format holds: a photo in RGB (transparency laid on
    white), a signature in RGBA (its strokes over transparency) or grey."""
    if kind == "signature":
        return image if image.mode in ("L", "LA", "RGB", "RGBA") else image.convert("RGBA")
    if image.mode in ("RGB", "L"):
        return image.copy() if image.mode == "RGB" else image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
