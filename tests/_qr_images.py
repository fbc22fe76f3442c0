"""Pictures of QR codes as people take them: drawn by segno, then turned, warped, blurred,
compressed and photographed with Pillow (shared by tests/test_qr.py and bench/qr.py)."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import segno
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

Point = tuple[float, float]
Matrix = tuple[tuple[float, float, float], ...]


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
    size = (round(width * (1 + 2 * margin)), round(height * (1 + 2 * margin)))
    return image.transform(
        size,
        Image.Transform.PERSPECTIVE,
        perspective_coefficients(target, (width, height)),
        Image.Resampling.BICUBIC,
        fillcolor=fill,
    )


def perspective_coefficients(corners: Sequence[Point], size: tuple[int, int]) -> list[float]:
    """Pillow's PERSPECTIVE data (a, b, c, d, e, f, g, h: each output pixel (x, y) reads the
    input at ((ax + by + c) / (gx + hy + 1), (dx + ey + f) / (gx + hy + 1))) that puts the
    picture's corners (top-left, top-right, bottom-right, bottom-left) at `corners`.

    Worked out here, not by the reader under test: Heckbert's closed form of the map from the
    unit square onto a quadrilateral, inverted by its adjugate, then scaled to the picture."""
    width, height = size
    square_to_corners = _square_to(corners)
    inverse = _adjugate(square_to_corners)  # corners -> unit square, up to a factor
    to_picture = [[width * v for v in inverse[0]], [height * v for v in inverse[1]], inverse[2]]
    scale = to_picture[2][2]
    return [to_picture[row][col] / scale for row in range(3) for col in range(3)][:8]


def _square_to(corners: Sequence[Point]) -> Matrix:
    """The projective map taking (0, 0), (1, 0), (1, 1), (0, 1) to `corners`, as a 3x3
    matrix on homogeneous coordinates (Heckbert, "Fundamentals of Texture Mapping", 1989)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = corners
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
    determinant = dx1 * dy2 - dx2 * dy1
    g = (sx * dy2 - dx2 * sy) / determinant
    h = (dx1 * sy - sx * dy1) / determinant
    return (
        (x1 - x0 + g * x1, x3 - x0 + h * x3, x0),
        (y1 - y0 + g * y1, y3 - y0 + h * y3, y0),
        (g, h, 1.0),
    )


def _adjugate(m: Matrix) -> Matrix:
    """The adjugate of a 3x3 matrix: its inverse times its determinant (enough for a
    projective map, which any non-zero factor leaves unchanged)."""
    (a, b, c), (d, e, f), (g, h, i) = m
    return (
        (e * i - f * h, c * h - b * i, b * f - c * e),
        (f * g - d * i, a * i - c * g, c * d - a * f),
        (d * h - e * g, b * g - a * h, a * e - b * d),
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
