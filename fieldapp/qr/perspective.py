"""From picture to grid: the perspective transform anchored on the finders and the
bottom-right alignment pattern, and the modules sampled through it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from fieldapp.errors import QRNotFound
from fieldapp.qr.locate import Corners, Point
from fieldapp.qr.pixels import DARK_RUNS, Bitmap


def transforms(bitmap: Bitmap, corners: Corners, dimension: int) -> Iterator[list[float]]:
    """Module-to-pixel maps worth trying: on the alignment pattern when one is found (versions
    2 and up), then on each estimate of the bottom-right finder."""
    far = dimension - 3.5
    source = [(3.5, 3.5), (far, 3.5), (3.5, far), (far, far)]
    finders = [(f.x, f.y) for f in (corners.tl, corners.tr, corners.bl)]
    estimates = [homography(source, [*finders, corner]) for corner in corners.bottom_right()]
    if dimension > 21:
        centre = dimension - 6.5
        aligned = _find_alignment(bitmap, estimates[0], centre)
        if aligned is not None:
            yield homography([*source[:3], (centre, centre)], [*finders, aligned])
    yield from estimates


def _map(transform: Sequence[float], u: float, v: float) -> Point:
    a, b, c, d, e, f, g, h, _ = transform
    w = g * u + h * v + 1
    return (a * u + b * v + c) / w, (d * u + e * v + f) / w


def _find_alignment(bitmap: Bitmap, estimate: Sequence[float], centre: float) -> Point | None:
    """The bottom-right alignment pattern's centre, searched ever wider around where the
    estimated transform puts it; each candidate must show its 5x5 rings in that grid."""
    expected = _map(estimate, centre, centre)
    right, below = _map(estimate, centre + 1, centre), _map(estimate, centre, centre + 1)
    across = (right[0] - expected[0], right[1] - expected[1])
    down = (below[0] - expected[0], below[1] - expected[1])
    module = (math.hypot(*across) + math.hypot(*down)) / 2
    for allowance in (4, 8, 16):
        found = _alignment_near(bitmap, expected, module, allowance * module, across, down)
        if found is not None:
            return found
    return None


def _alignment_near(
    bitmap: Bitmap,
    expected: Point,
    module: float,
    radius: float,
    across: Point,
    down: Point,
) -> Point | None:
    """The alignment pattern nearest `expected` within `radius`: rows scanned for a run of
    light, dark, light of about a module each, every hit confirmed across and by its shape."""
    width = bitmap.width
    left, right = max(0, int(expected[0] - radius)), min(width, int(expected[0] + radius) + 1)
    top, bottom = (
        max(0, int(expected[1] - radius)),
        min(bitmap.height, int(expected[1] + radius) + 1),
    )
    best: tuple[float, Point] | None = None
    for y in range(top, bottom):
        row = bitmap.data[y * width + left : y * width + right]
        spans = [match.span() for match in DARK_RUNS.finditer(row)]
        for (_, a1), (b0, b1), (c0, _) in zip(spans, spans[1:], spans[2:], strict=False):
            if not all(abs(run - module) < module / 2 for run in (b0 - a1, b1 - b0, c0 - b1)):
                continue
            centre = _confirm_alignment(bitmap, left + (b0 + b1) / 2, y + 0.5, module)
            if centre is None or not _alignment_shape(bitmap, centre, across, down):
                continue
            gap = math.hypot(centre[0] - expected[0], centre[1] - expected[1])
            if best is None or gap < best[0]:
                best = (gap, centre)
    return None if best is None else best[1]


def _confirm_alignment(bitmap: Bitmap, x: float, y: float, module: float) -> Point | None:
    """The centre of a light-dark-light cross of one module each way, refined both ways."""
    for dx, dy in ((0, 1), (1, 0)):
        runs = bitmap.cross(x, y, dx, dy, 2, 2 * module)
        if runs is None or not all(abs(run - module) < module / 2 for run in runs[0]):
            return None
        x, y = x + dx * runs[1], y + dy * runs[1]
    return x, y


def _alignment_shape(bitmap: Bitmap, centre: Point, across: Point, down: Point) -> bool:
    """At most three of the 25 modules round `centre` differ from an alignment pattern."""
    wrong = 0
    for row in range(-2, 3):
        for col in range(-2, 3):
            expected = max(abs(row), abs(col)) != 1
            x = centre[0] + col * across[0] + row * down[0]
            y = centre[1] + col * across[1] + row * down[1]
            wrong += bitmap.dark(x, y) != expected
    return wrong <= 3


def homography(source: Sequence[Point], target: Sequence[Point]) -> list[float]:
    """The projective map taking four points to four others (h33 = 1), by Gaussian
    elimination on its eight unknowns."""
    rows = []
    for (u, v), (x, y) in zip(source, target, strict=True):
        rows.append([u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x])
        rows.append([0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y])
    for col in range(8):
        pivot = max(range(col, 8), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-12:
            raise QRNotFound("the finder patterns do not span a symbol")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(8):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][8] / rows[i][i] for i in range(8)] + [1.0]


def sample(bitmap: Bitmap, transform: Sequence[float], dimension: int) -> bytearray | None:
    """The module grid (row by row, 1 for dark) read at each module's centre."""
    grid = bytearray(dimension * dimension)
    for row in range(dimension):
        for col in range(dimension):
            pixel = bitmap.dark(*_map(transform, col + 0.5, row + 0.5))
            if pixel is None:
                return None
            grid[row * dimension + col] = pixel
    return grid
