"""Images as cameras and galleries make them, carrying a canary in every kind of metadata."""

from __future__ import annotations

import io

from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

# EXIF tags: ImageDescription, Make, Artist, Orientation; the GPS IFD and two of its tags.
DESCRIPTION, MAKE, ARTIST, ORIENTATION, GPS_IFD = 0x010E, 0x010F, 0x013B, 0x0112, 0x8825
GPS_LATITUDE_REF, GPS_AREA = 0x0001, 0x001C


def exif_with(canary: str, *, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[DESCRIPTION] = canary
    exif[MAKE] = f"{canary} camera"
    exif[ARTIST] = canary
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({GPS_LATITUDE_REF: "N", GPS_AREA: canary})
    return exif


def halves(size: tuple[int, int] = (2400, 1200)) -> Image.Image:
    """Left half red, right half blue: where each ends up shows how the image was turned."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def canary_row(image: Image.Image, canary: str) -> Image.Image:
    """The canary's bytes written into the pixels of the first row (pixels-as-text)."""
    raw = canary.encode() * 3
    row = [tuple(raw[i : i + 3]) for i in range(0, len(raw) - 2, 3)]
    for x, pixel in enumerate(row):
        image.putpixel((x, 0), pixel)
    return image


def photo_jpeg(canary: str, *, size: tuple[int, int] = (2400, 1200), orientation: int = 1) -> bytes:
    """A camera's JPEG: EXIF with GPS, a comment, XMP and an ICC profile, each naming the
    canary."""
    out = io.BytesIO()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    canary_row(halves(size), canary).save(
        out,
        format="JPEG",
        quality=95,
        exif=exif_with(canary, orientation=orientation),
        comment=canary.encode(),
        icc_profile=profile + canary.encode(),
        xmp=f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{canary}</x:xmpmeta>'.encode(),
    )
    return out.getvalue()


def signature_png(canary: str, size: tuple[int, int] = (600, 200)) -> bytes:
    """A drawn signature: dark strokes over transparency, with text chunks naming the
    canary (tEXt, iTXt) and EXIF."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    for x in range(20, size[0] - 20):
        image.putpixel((x, size[1] // 2 + (x % 40) // 4), (10, 10, 60, 255))
    info = PngInfo()
    info.add_text("Comment", canary)
    info.add_itxt("Description", canary, lang="en", tkey=canary)
    out = io.BytesIO()
    canary_row(image.convert("RGBA"), canary).save(
        out, format="PNG", pnginfo=info, exif=exif_with(canary)
    )
    return out.getvalue()


def needles(canary: str) -> list[bytes]:
    return [canary.encode(), canary.encode("utf-16-le"), canary.lower().encode()]
