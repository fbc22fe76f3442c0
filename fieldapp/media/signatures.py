"""A signature drawn on the screen, saved as a PNG: black strokes on white, drawn with Pillow
from the points the pad recorded (the same picture on every platform, no screen capture)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

__all__ = ["PAD_HEIGHT", "PAD_WIDTH", "signature_png"]

PAD_WIDTH, PAD_HEIGHT = 320, 160  # the pad, in logical pixels (fits a 360-wide phone)
_SCALE = 2  # drawn at twice the pad's size: sharp when printed
_STROKE = 3


def signature_png(strokes: Sequence[Sequence[tuple[float, float]]]) -> bytes:
    """The strokes (each a list of points on the pad) as a PNG of twice the pad's size."""
    image = Image.new("L", (PAD_WIDTH * _SCALE, PAD_HEIGHT * _SCALE), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(x * _SCALE, y * _SCALE) for x, y in stroke]
        if len(points) == 1:
            x, y = points[0]
            pen.ellipse((x - _STROKE, y - _STROKE, x + _STROKE, y + _STROKE), fill=0)
        else:
            pen.line(points, fill=0, width=_STROKE * _SCALE, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
