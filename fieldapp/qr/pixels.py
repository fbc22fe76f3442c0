"""Pixels: the picture opened safely, reduced to gray levels, then made black and white."""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageOps

from fieldapp.errors import QRNotFound

_MAX_PIXELS = 80_000_000  # larger pictures are refused before they are decoded
WORKING_SIDES = (1024, 2048)  # px: the picture is searched at this size, then this one
_BORDER = 4  # px of light added round the black-and-white picture: runs always end

DARK_RUNS = re.compile(rb"\x01+")


def open_image(image_bytes: bytes) -> Image.Image:
    """The image, header read; QRNotFound if it is not one or is absurdly large."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(image_bytes))
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise QRNotFound("the file is not a readable image (PNG, JPEG or WebP)") from None
    width, height = image.size
    if width * height > _MAX_PIXELS:
        image.close()
        raise QRNotFound(f"the image is too large ({width}x{height} pixels)")
    return image


def grayscale(image: Image.Image, side: int) -> Image.Image:
    """Gray levels with the longest side scaled to `side` (transparency shown as white)."""
    width, height = image.size
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image.draft("L", size)  # a JPEG decodes straight at a reduced scale: much faster
    try:
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, "white")
            gray = Image.alpha_composite(white, rgba).convert("L")
        else:
            gray = image.convert("L")
    except (OSError, ValueError, SyntaxError):
        raise QRNotFound("the image file is damaged and cannot be decoded") from None
    if gray.size == size:
        return gray
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return gray.resize(size, resample)


@dataclass(frozen=True)
class Bitmap:
    """A black-and-white picture: 1 for dark, 0 for light, with a light border all round."""

    data: bytes
    width: int
    height: int

    @classmethod
    def of(cls, binary: Image.Image) -> Bitmap:
        padded = ImageOps.expand(binary, border=_BORDER, fill=0)
        return cls(padded.tobytes(), *padded.size)

    def dark(self, x: float, y: float) -> bool | None:
        """Whether the pixel under (x, y) is dark; None outside the picture."""
        px, py = math.floor(x), math.floor(y)
        if 0 <= px < self.width and 0 <= py < self.height:
            return self.data[py * self.width + px] == 1
        return None

    def runs(
        self, x: float, y: float, dx: float, dy: float, count: int, limit: float
    ) -> list[int] | None:
        """Lengths of `count` alternating runs (dark first) met stepping (dx, dy) from (x, y),
        up to where the next run starts; None if the start is light, the picture ends first, or
        a run is longer than `limit` steps."""
        counts = [0] * count
        state, want = 0, True
        step = 0
        while True:
            pixel = self.dark(x + step * dx, y + step * dy)
            if pixel is None:
                return None
            if pixel != want:
                if step == 0:
                    return None
                state += 1
                if state == count:
                    return counts
                want = not want
            counts[state] += 1
            if counts[state] > limit:
                return None
            step += 1

    def cross(
        self, x: float, y: float, dx: float, dy: float, count: int, limit: float
    ) -> tuple[list[int], float] | None:
        """The runs through (x, y) both ways along (dx, dy), outermost first, the middle run
        holding (x, y); and the offset of that run's centre from (x, y), in steps."""
        ahead = self.runs(x, y, dx, dy, count, limit)
        behind = self.runs(x, y, -dx, -dy, count, limit)
        if ahead is None or behind is None:
            return None
        middle = behind[0] + ahead[0] - 1
        return [*behind[:0:-1], middle, *ahead[1:]], (ahead[0] - behind[0]) / 2


def binarisations(gray: Image.Image) -> Iterator[Bitmap]:
    """Black and white by a local threshold (uneven light, photos), then by a global one."""
    histogram = gray.histogram()
    low, high = _percentile(histogram, 0.01), _percentile(histogram, 0.99)
    if high - low < 20:
        return  # a flat picture: nothing printed on it
    offset = max(3, (high - low) // 10)
    radius = max(4, max(gray.size) // 8)
    below_mean = ImageChops.subtract(gray.filter(ImageFilter.BoxBlur(radius)), gray)
    yield Bitmap.of(below_mean.point([int(v > offset) for v in range(256)]))
    middle = (low + high) // 2  # not Otsu's: blurred light modules are thin and gray
    yield Bitmap.of(gray.point([int(v < middle) for v in range(256)]))


def _percentile(histogram: Sequence[int], fraction: float) -> int:
    wanted, seen = fraction * sum(histogram), 0
    for level, count in enumerate(histogram):
        seen += count
        if seen >= wanted:
            return level
    return len(histogram) - 1
