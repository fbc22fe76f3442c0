"""Pictures of QR codes as people take them: drawn by segno, then turned, warped, blurred,
compressed and photographed with Pillow (shared by tests/test_qr.py and bench/qr.py)."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import segno
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from fieldapp._qr import _homography

Point = tuple[float, float]


def symbol(text: str, *, error: str = "M", version: int | None = None) -> segno.QRCode:
    """A QR code (never a Micro QR) exactly at `version` when given, its level not boosted."""
    return segno.make_qr(text, error=error, version=version, boost_error=False)


def render(code: segno.QRCode, *, scale: int = 4, border: int = 4) -> Image.Image:
    """The code as a grayscale picture, `scale` pixels a module, `border` modules of margin."""
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    out.seek(0)
    with Image.open(out) as image:
        return image.convert("L")


def picture(matrix: Sequence[Sequence[int]], *, scale: int = 4, border: int = 4) -> Image.Image:
    """A module matrix (1 for dark, as segno's `QRCode.matrix`) drawn as a grayscale picture."""
    size = len(matrix)
    image = Image.new("L", (size, size))
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    return ImageOps.expand(image, border=border * scale, fill=255)


def rotate(image: Image.Image, degrees: float, fill: int | tuple[int, ...] = 255) -> Image.Image:
    """Turned about its centre, on a canvas grown to hold it all, the corners filled white."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def warp(
    image: Image.Image,
    rng: random.Random,
    amount: float = 0.06,
    fill: int | tuple[int, ...] = 255,
) -> Image.Image:
    """A mild perspective: each corner moved by up to `amount` of the picture's size, on a
    canvas a fifth larger so nothing is cut."""
    width, height = image.size
    margin = 0.1

    def jitter(x: float, y: float) -> Point:
        return (
            (x + margin + rng.uniform(-amount, amount)) * width,
            (y + margin + rng.uniform(-amount, amount)) * height,
        )

    corners = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    target = [jitter(x, y) for x, y in corners]
    source = [(x * width, y * height) for x, y in corners]
    size = (round(width * (1 + 2 * margin)), round(height * (1 + 2 * margin)))
    return image.transform(
        size,
        Image.Transform.PERSPECTIVE,
        _homography(target, source)[:8],  # Pillow's PERSPECTIVE data: output -> input pixels
        Image.Resampling.BICUBIC,
        fillcolor=fill,
    )


def blur(image: Image.Image, radius: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def encoded(image: Image.Image, kind: str = "PNG", quality: int = 70) -> bytes:
    """The picture as a file's bytes: PNG, JPEG or WEBP (lossy ones at `quality`)."""
    out = io.BytesIO()
    image.save(out, format=kind, quality=quality)
    return out.getvalue()


def blot(image: Image.Image, boxes: Sequence[tuple[int, int, int, int]], shade: int) -> Image.Image:
    """The picture with rectangles (left, top, right, bottom) painted over in `shade`."""
    damaged = image.copy()
    draw = ImageDraw.Draw(damaged)
    for box in boxes:
        draw.rectangle(box, fill=shade)
    return damaged


def photo(
    code: segno.QRCode, size: tuple[int, int], seed: int = 1, span: float = 1 / 3
) -> Image.Image:
    """A phone's photo of the code on a screen: a desk in uneven light, the screen turned
    and seen at an angle, sensor noise and a little blur. The code spans `span` of the height."""
    rng = random.Random(seed)
    width, height = size
    light = Image.linear_gradient("L").rotate(rng.uniform(0, 360), Image.Resampling.BICUBIC)
    desk = light.crop((64, 64, 192, 192)).resize(size).point(lambda v: 70 + v // 3)
    module = max(2, round(height * span / code.symbol_size(border=0)[0]))
    screen = render(code, scale=module, border=6).point(lambda v: 40 + v * 190 // 255)
    screen.putalpha(255)
    screen = warp(rotate(screen, rng.uniform(-25, 25), (0, 0)), rng, 0.05, (0, 0))
    shot = desk.copy()
    left, top = rng.randint(0, width - screen.width), rng.randint(0, height - screen.height)
    shot.paste(screen.getchannel("L"), (left, top), screen.getchannel("A"))
    shot = ImageChops.add(shot, Image.effect_noise(size, 12), scale=1.0, offset=-128)
    return blur(shot, 1.2)
