"""Read a QR Code (ISO/IEC 18004, model 2) from an image: pure Python over Pillow's pixels.

Phones running the app have no QR library (pyzbar and zxing need C), so this reads the code
itself. The picture is reduced, made black and white (a local threshold, then a global one),
searched for the three finder patterns (runs of 1:1:3:1:1, cross-checked vertically,
horizontally and diagonally), and its grid is sampled through a perspective transform anchored
on the finders and the bottom-right alignment pattern. Format and version information are read
with their BCH tolerance; the modules are unmasked, the blocks de-interleaved and corrected with
Reed-Solomon over GF(256), and the numeric, alphanumeric, byte and kanji segments decoded.
Dark modules on a light background, any rotation, mild perspective, blur and JPEG.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations

from PIL import Image, ImageChops, ImageFilter, ImageOps

from fieldapp.errors import QRNotFound, QRUnreadable

__all__ = ["decode_qr"]

_MAX_PIXELS = 80_000_000  # larger pictures are refused before they are decoded
_WORKING_SIDES = (1024, 2048)  # px: the picture is searched at this size, then this one
_BORDER = 4  # px of light added round the black-and-white picture: runs always end
_POOL = 10  # finder candidates (most often seen first) combined into triples
_TRIES = 6  # best-shaped triples tried before giving up on a picture

_DARK = re.compile(rb"\x01+")
Point = tuple[float, float]


def decode_qr(image_bytes: bytes) -> str:
    """The text of the QR code in an image (PNG, JPEG, WebP, ... anything Pillow reads).

    Raises QRNotFound when the picture is not an image or no code can be located in it, and
    QRUnreadable when a code is there but too damaged to recover (never a wrong text).
    """
    with _open(image_bytes) as image:
        longest = max(image.size)
    first, finer = _WORKING_SIDES
    problem: str | None = None
    for side in [first] if longest <= first else [first, min(finer, longest)]:
        with _open(image_bytes) as image:
            gray = _grayscale(image, side)
        for bitmap in _binarisations(gray):
            try:
                return _read_bitmap(bitmap)
            except QRUnreadable as unreadable:
                problem = str(unreadable)
            except QRNotFound:
                continue
    if problem is not None:
        raise QRUnreadable(
            f"a QR code was found but could not be read ({problem}): "
            "take a sharper, closer picture of the whole code"
        )
    raise QRNotFound(
        "no QR code was found in the image: take the picture closer, with the whole code "
        "in view and nothing covering it"
    )


# -- pixels -----------------------------------------------------------------------------------
def _open(image_bytes: bytes) -> Image.Image:
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


def _grayscale(image: Image.Image, side: int) -> Image.Image:
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
class _Bitmap:
    """A black-and-white picture: 1 for dark, 0 for light, with a light border all round."""

    data: bytes
    width: int
    height: int

    @classmethod
    def of(cls, binary: Image.Image) -> _Bitmap:
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


def _binarisations(gray: Image.Image) -> Iterator[_Bitmap]:
    """Black and white by a local threshold (uneven light, photos), then by a global one."""
    histogram = gray.histogram()
    low, high = _percentile(histogram, 0.01), _percentile(histogram, 0.99)
    if high - low < 20:
        return  # a flat picture: nothing printed on it
    offset = max(3, (high - low) // 10)
    radius = max(4, max(gray.size) // 8)
    below_mean = ImageChops.subtract(gray.filter(ImageFilter.BoxBlur(radius)), gray)
    yield _Bitmap.of(below_mean.point([int(v > offset) for v in range(256)]))
    middle = (low + high) // 2  # not Otsu's: blurred light modules are thin and gray
    yield _Bitmap.of(gray.point([int(v < middle) for v in range(256)]))


def _percentile(histogram: Sequence[int], fraction: float) -> int:
    wanted, seen = fraction * sum(histogram), 0
    for level, count in enumerate(histogram):
        seen += count
        if seen >= wanted:
            return level
    return len(histogram) - 1


# -- locating the symbol -----------------------------------------------------------------------
@dataclass
class _Finder:
    """A finder pattern's centre, its module size (as seen across it) and how often seen."""

    x: float
    y: float
    module: float
    hits: int = 1


def _finder_ratio(counts: Sequence[int], tolerance: float = 0.5) -> bool:
    """Runs in the proportions 1:1:3:1:1, each within `tolerance` of a module."""
    total = sum(counts)
    if total < 7:
        return False
    module = total / 7
    slack = module * tolerance
    return (
        abs(counts[0] - module) < slack
        and abs(counts[1] - module) < slack
        and abs(counts[2] - 3 * module) < 3 * slack
        and abs(counts[3] - module) < slack
        and abs(counts[4] - module) < slack
    )


def _find_finders(bitmap: _Bitmap) -> list[_Finder]:
    """Every finder pattern candidate: scan rows for 1:1:3:1:1, confirm each hit."""
    found: list[_Finder] = []
    width = bitmap.width
    for y in range(0, bitmap.height, max(1, bitmap.height // 400)):
        row = bitmap.data[y * width : (y + 1) * width]
        spans = [match.span() for match in _DARK.finditer(row)]
        for (a0, a1), (b0, b1), (c0, c1) in zip(spans, spans[1:], spans[2:], strict=False):
            counts = (a1 - a0, b0 - a1, b1 - b0, c0 - b1, c1 - c0)
            if _finder_ratio(counts):
                finder = _confirm_finder(bitmap, (b0 + b1) / 2, y + 0.5, sum(counts))
                if finder is not None:
                    _merge(found, finder)
    return found


def _confirm_finder(bitmap: _Bitmap, x: float, y: float, across: int) -> _Finder | None:
    """Cross-check a row's hit down the column, along the row again and on the diagonal."""
    vertical = bitmap.cross(x, y, 0, 1, 3, across)
    if vertical is None or not _finder_ratio(vertical[0]):
        return None
    down = sum(vertical[0])
    if 5 * abs(down - across) >= 2 * across:
        return None
    y += vertical[1]
    horizontal = bitmap.cross(x, y, 1, 0, 3, across)
    if horizontal is None or not _finder_ratio(horizontal[0]):
        return None
    x += horizontal[1]
    diagonal = bitmap.cross(x, y, 1, 1, 3, 2 * across)
    if diagonal is None or not _finder_ratio(diagonal[0], tolerance=0.75):
        return None
    return _Finder(x, y, (sum(horizontal[0]) + down) / 14)


def _merge(found: list[_Finder], new: _Finder) -> None:
    """Count `new` as another sighting of a known pattern at the same place, or add it."""
    for old in found:
        if (
            abs(old.x - new.x) <= old.module
            and abs(old.y - new.y) <= old.module
            and abs(old.module - new.module) <= max(1.0, old.module)
        ):
            hits = old.hits + 1
            old.x = (old.x * old.hits + new.x) / hits
            old.y = (old.y * old.hits + new.y) / hits
            old.module = (old.module * old.hits + new.module) / hits
            old.hits = hits
            return
    found.append(new)


def _triples(found: list[_Finder]) -> list[tuple[_Finder, _Finder, _Finder]]:
    """Candidate (top-left, top-right, bottom-left) triples, the most square-shaped first."""
    pool = sorted(found, key=lambda f: -f.hits)[:_POOL]
    scored: list[tuple[float, tuple[_Finder, _Finder, _Finder]]] = []
    for trio in combinations(pool, 3):
        sizes = sorted(f.module for f in trio)
        if sizes[2] > 1.6 * sizes[0]:
            continue
        top_left, top_right, bottom_left = _orient(*trio)
        side_a = _distance(top_left, top_right)
        side_b = _distance(top_left, bottom_left)
        hypotenuse = _distance(top_right, bottom_left)
        modules = (side_a + side_b) / 2 / sizes[1]
        if not 8 <= modules <= 200:
            continue
        skew = abs(side_a - side_b) / max(side_a, side_b)
        corner = abs(hypotenuse - math.hypot(side_a, side_b)) / hypotenuse
        if skew < 0.5 and corner < 0.25:
            score = skew + corner + (sizes[2] - sizes[0]) / sizes[1]
            scored.append((score, (top_left, top_right, bottom_left)))
    scored.sort(key=lambda item: item[0])
    return [oriented for _, oriented in scored[:_TRIES]]


def _orient(a: _Finder, b: _Finder, c: _Finder) -> tuple[_Finder, _Finder, _Finder]:
    """(top-left, top-right, bottom-left): the corner faces the longest side; the symbol's
    reading order fixes which of the other two comes first (y grows downwards)."""
    ab, bc, ac = _distance(a, b), _distance(b, c), _distance(a, c)
    if bc >= ab and bc >= ac:
        corner, one, two = a, b, c
    elif ac >= ab:
        corner, one, two = b, a, c
    else:
        corner, one, two = c, a, b
    cross = (one.x - corner.x) * (two.y - corner.y) - (one.y - corner.y) * (two.x - corner.x)
    return (corner, one, two) if cross > 0 else (corner, two, one)


def _distance(a: _Finder, b: _Finder) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def _module_towards(bitmap: _Bitmap, finder: _Finder, other: _Finder) -> float:
    """The module size measured across `finder` on the line to `other` (7 modules wide)."""
    length = _distance(finder, other)
    dx, dy = (other.x - finder.x) / length, (other.y - finder.y) / length
    limit = 5 * finder.module + 3
    ahead = bitmap.runs(finder.x, finder.y, dx, dy, 3, limit)
    behind = bitmap.runs(finder.x, finder.y, -dx, -dy, 3, limit)
    if ahead is None or behind is None:
        return finder.module
    return (sum(ahead) + sum(behind) - 1) / 7


@dataclass(frozen=True)
class _Corners:
    """Three finders in reading order, with each one's module size measured along the
    symbol's top edge (tl, tr) and left edge (tl, bl): a finder farther from the camera
    looks smaller, which tells the perspective."""

    tl: _Finder
    tr: _Finder
    bl: _Finder
    tl_across: float
    tr_across: float
    tl_down: float
    bl_down: float

    @classmethod
    def measure(cls, bitmap: _Bitmap, tl: _Finder, tr: _Finder, bl: _Finder) -> _Corners:
        return cls(
            tl,
            tr,
            bl,
            _module_towards(bitmap, tl, tr),
            _module_towards(bitmap, tr, tl),
            _module_towards(bitmap, tl, bl),
            _module_towards(bitmap, bl, tl),
        )

    def dimensions(self) -> list[int]:
        """Likely symbol sizes (4v + 17 modules), the best estimate first. Along an edge
        seen in perspective, the modules between two centres are the distance over the
        geometric mean of the module sizes at both ends."""
        across = _distance(self.tl, self.tr) / math.sqrt(self.tl_across * self.tr_across)
        down = _distance(self.tl, self.bl) / math.sqrt(self.tl_down * self.bl_down)
        best = 17 + 4 * round(((across + down) / 2 + 7 - 17) / 4)
        return [d for d in (best, best + 4, best - 4) if 21 <= d <= 177]

    def bottom_right(self) -> list[Point]:
        """Where the bottom-right finder would be: in perspective (each edge's vanishing point
        from how the module size shrinks along it), then as a parallelogram."""
        tl, tr, bl = self.tl, self.tr, self.bl
        parallelogram = (tr.x - tl.x + bl.x, tr.y - tl.y + bl.y)
        # The vanishing point of an edge from tl through p, whose modules shrink by `ratio`
        # from tl to p, is tl + (p - tl) / (1 - sqrt(ratio)); in homogeneous coordinates a
        # ratio of 1 (edges seen parallel) is simply a point at infinity.
        shrink_across = math.sqrt(min(2.0, max(0.5, self.tr_across / self.tl_across)))
        shrink_down = math.sqrt(min(2.0, max(0.5, self.bl_down / self.tl_down)))
        across = (tr.x - shrink_across * tl.x, tr.y - shrink_across * tl.y, 1 - shrink_across)
        down = (bl.x - shrink_down * tl.x, bl.y - shrink_down * tl.y, 1 - shrink_down)
        right_edge = _cross((tr.x, tr.y, 1.0), down)
        bottom_edge = _cross((bl.x, bl.y, 1.0), across)
        x, y, w = _cross(right_edge, bottom_edge)
        if abs(w) < 1e-9:
            return [parallelogram]
        return [(x / w, y / w), parallelogram]


def _cross(
    a: tuple[float, float, float], b: tuple[float, float, float]
) -> tuple[float, float, float]:
    """The line through two homogeneous points, or the point where two lines meet."""
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _transforms(bitmap: _Bitmap, corners: _Corners, dimension: int) -> Iterator[list[float]]:
    """Module-to-pixel maps worth trying: on the alignment pattern when one is found (versions
    2 and up), then on each estimate of the bottom-right finder."""
    far = dimension - 3.5
    source = [(3.5, 3.5), (far, 3.5), (3.5, far), (far, far)]
    finders = [(f.x, f.y) for f in (corners.tl, corners.tr, corners.bl)]
    estimates = [_homography(source, [*finders, corner]) for corner in corners.bottom_right()]
    if dimension > 21:
        centre = dimension - 6.5
        aligned = _find_alignment(bitmap, estimates[0], centre)
        if aligned is not None:
            yield _homography([*source[:3], (centre, centre)], [*finders, aligned])
    yield from estimates


def _map(transform: Sequence[float], u: float, v: float) -> Point:
    a, b, c, d, e, f, g, h, _ = transform
    w = g * u + h * v + 1
    return (a * u + b * v + c) / w, (d * u + e * v + f) / w


def _find_alignment(bitmap: _Bitmap, estimate: Sequence[float], centre: float) -> Point | None:
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
    bitmap: _Bitmap,
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
        spans = [match.span() for match in _DARK.finditer(row)]
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


def _confirm_alignment(bitmap: _Bitmap, x: float, y: float, module: float) -> Point | None:
    """The centre of a light-dark-light cross of one module each way, refined both ways."""
    for dx, dy in ((0, 1), (1, 0)):
        runs = bitmap.cross(x, y, dx, dy, 2, 2 * module)
        if runs is None or not all(abs(run - module) < module / 2 for run in runs[0]):
            return None
        x, y = x + dx * runs[1], y + dy * runs[1]
    return x, y


def _alignment_shape(bitmap: _Bitmap, centre: Point, across: Point, down: Point) -> bool:
    """At most three of the 25 modules round `centre` differ from an alignment pattern."""
    wrong = 0
    for row in range(-2, 3):
        for col in range(-2, 3):
            expected = max(abs(row), abs(col)) != 1
            x = centre[0] + col * across[0] + row * down[0]
            y = centre[1] + col * across[1] + row * down[1]
            wrong += bitmap.dark(x, y) != expected
    return wrong <= 3


def _homography(source: Sequence[Point], target: Sequence[Point]) -> list[float]:
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


def _sample(bitmap: _Bitmap, transform: Sequence[float], dimension: int) -> bytearray | None:
    """The module grid (row by row, 1 for dark) read at each module's centre."""
    grid = bytearray(dimension * dimension)
    for row in range(dimension):
        for col in range(dimension):
            pixel = bitmap.dark(*_map(transform, col + 0.5, row + 0.5))
            if pixel is None:
                return None
            grid[row * dimension + col] = pixel
    return grid


def _read_bitmap(bitmap: _Bitmap) -> str:
    """The text of the first symbol that reads; QRNotFound if no symbol shows at all."""
    problem: QRUnreadable | None = None
    for tl, tr, bl in _triples(_find_finders(bitmap)):
        corners = _Corners.measure(bitmap, tl, tr, bl)
        for dimension in corners.dimensions():
            for transform in _transforms(bitmap, corners, dimension):
                grid = _sample(bitmap, transform, dimension)
                if grid is None:
                    continue
                try:
                    return _decode_grid(grid, dimension)
                except QRUnreadable as unreadable:
                    problem = unreadable
                except QRNotFound:
                    continue
    if problem is not None:
        raise problem
    raise QRNotFound("no finder patterns")


# -- the symbol's structure ----------------------------------------------------------------------
# Per version 1-40, for error correction levels L, M, Q, H (ISO/IEC 18004 table 9):
# error correction codewords per block, and number of blocks.
_EC_PER_BLOCK = (
    (7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
     28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    (10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
     26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    (13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
     28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    (17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
     30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
)  # fmt: skip
_BLOCKS = (
    (1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
     8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    (1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
     17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    (1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
     23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    (1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
     25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
)  # fmt: skip
# Codewords the smallest symbols keep for detecting a wrong correction, not for correcting:
# (version, level index) -> count (ISO/IEC 18004 table 9, "p").
_MISDECODE_PROTECTION = {(1, 0): 3, (1, 1): 2, (1, 2): 1, (1, 3): 1, (2, 0): 2, (3, 0): 1}
_LEVEL_OF_FORMAT_BITS = {1: 0, 0: 1, 3: 2, 2: 3}  # format info's 2 bits -> L, M, Q, H index
_FORMAT_MASK = 0x5412

_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)


def _bch(value: int, generator: int, width: int) -> int:
    """`value` followed by its BCH check bits (the remainder modulo `generator`)."""
    remainder = value << width
    top = generator.bit_length()
    while remainder.bit_length() >= top:
        remainder ^= generator << (remainder.bit_length() - top)
    return (value << width) | remainder


_FORMAT_CODES = {_bch(data, 0x537, 10) ^ _FORMAT_MASK: data for data in range(32)}
_VERSION_CODES = {_bch(version, 0x1F25, 12): version for version in range(7, 41)}


def _nearest(readings: Sequence[int], codes: dict[int, int]) -> int | None:
    """The value of the code word nearest any reading, if within 3 bits (BCH corrects 3)."""
    distance, value = min(
        ((reading ^ code).bit_count(), value)
        for reading in readings
        for code, value in codes.items()
    )
    return value if distance <= 3 else None


def _alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    last = 4 * version + 10
    return [6, *reversed([last - i * step for i in range(count - 1)])]


@cache
def _function_modules(version: int) -> bytes:
    """1 for each module of the grid that carries no data (patterns, format, version)."""
    dimension = 4 * version + 17
    taken = bytearray(dimension * dimension)

    def fill(left: int, top: int, width: int, height: int) -> None:
        for row in range(top, top + height):
            taken[row * dimension + left : row * dimension + left + width] = b"\x01" * width

    fill(0, 0, 9, 9)
    fill(dimension - 8, 0, 8, 9)
    fill(0, dimension - 8, 9, 8)
    positions = _alignment_positions(version)
    first, last = (positions[0], positions[-1]) if positions else (0, 0)
    finders = {(first, first), (first, last), (last, first)}  # their place is taken
    for row in positions:
        for col in positions:
            if (row, col) not in finders:
                fill(col - 2, row - 2, 5, 5)
    fill(6, 9, 1, dimension - 17)
    fill(9, 6, dimension - 17, 1)
    if version >= 7:
        fill(dimension - 11, 0, 3, 6)
        fill(0, dimension - 11, 6, 3)
    return bytes(taken)


def _check_timing(grid: bytearray, dimension: int) -> None:
    """The timing patterns (row and column 6, alternating dark and light between the finders)
    are mostly there: what tells a symbol of this size from a grid laid over anything else."""
    between = range(8, dimension - 8)
    wrong = sum(grid[6 * dimension + i] != (i % 2 == 0) for i in between)
    wrong += sum(grid[i * dimension + 6] != (i % 2 == 0) for i in between)
    if wrong > len(between) // 2:  # a quarter of the modules
        raise QRNotFound("no timing pattern where the symbol should have one")


def _format(grid: bytearray, dimension: int) -> tuple[int, int]:
    """(level index, mask) from the two copies of the format information."""

    def at(row: int, col: int) -> int:
        return grid[row * dimension + col]

    first = [at(8, c) for c in range(6)] + [at(8, 7), at(8, 8), at(7, 8)]
    first += [at(r, 8) for r in range(5, -1, -1)]
    second = [at(r, 8) for r in range(dimension - 1, dimension - 8, -1)]
    second += [at(8, c) for c in range(dimension - 8, dimension)]
    data = _nearest([_to_int(first), _to_int(second)], _FORMAT_CODES)
    if data is None:
        raise QRNotFound("the format information is unreadable")
    return _LEVEL_OF_FORMAT_BITS[data >> 3], data & 7


def _version(grid: bytearray, dimension: int) -> int | None:
    """The version from the two copies of the version information (versions 7 and up)."""
    top_right = [
        grid[row * dimension + col]
        for row in range(5, -1, -1)
        for col in range(dimension - 9, dimension - 12, -1)
    ]
    bottom_left = [
        grid[row * dimension + col]
        for col in range(5, -1, -1)
        for row in range(dimension - 9, dimension - 12, -1)
    ]
    return _nearest([_to_int(top_right), _to_int(bottom_left)], _VERSION_CODES)


def _to_int(bits: Sequence[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def _decode_grid(grid: bytearray, dimension: int) -> str:
    """The text of a sampled grid; QRNotFound when it is no QR code grid of this size."""
    _check_timing(grid, dimension)
    level, mask = _format(grid, dimension)
    version = (dimension - 17) // 4
    if version >= 7 and _version(grid, dimension) not in (version, None):
        raise QRNotFound("the version information does not match the symbol's size")
    codewords = _codewords(grid, dimension, version, _MASKS[mask])
    data = _correct_blocks(codewords, version, level)
    return _segments(data, version)


@cache
def _placement(version: int) -> tuple[tuple[int, int], ...]:
    """(row, column) of each data bit in reading order: two-module columns zigzagging up and
    down from the bottom right, right module first, skipping the vertical timing pattern."""
    dimension = 4 * version + 17
    taken = _function_modules(version)
    order = []
    upward = True
    col = dimension - 1
    while col > 0:
        if col == 6:
            col -= 1
        for row in range(dimension - 1, -1, -1) if upward else range(dimension):
            order += [(row, c) for c in (col, col - 1) if not taken[row * dimension + c]]
        upward = not upward
        col -= 2
    return tuple(order)


def _codewords(
    grid: bytearray, dimension: int, version: int, mask: Callable[[int, int], bool]
) -> bytes:
    """The codewords, unmasked, in placement order (any remainder bits dropped)."""
    bits = [grid[row * dimension + col] ^ mask(row, col) for row, col in _placement(version)]
    return bytes(_to_int(bits[i : i + 8]) for i in range(0, len(bits) - 7, 8))


def _correct_blocks(codewords: bytes, version: int, level: int) -> bytes:
    """De-interleave the blocks, correct each, and join their data codewords."""
    ec = _EC_PER_BLOCK[level][version - 1]
    count = _BLOCKS[level][version - 1]
    short, long_blocks = divmod(len(codewords), count)
    lengths = [short] * (count - long_blocks) + [short + 1] * long_blocks
    blocks = [bytearray(length) for length in lengths]
    data_lengths = [length - ec for length in lengths]
    position = 0
    for i in range(max(data_lengths)):
        for block, data_length in zip(blocks, data_lengths, strict=True):
            if i < data_length:
                block[i] = codewords[position]
                position += 1
    for i in range(ec):
        for block, data_length in zip(blocks, data_lengths, strict=True):
            block[data_length + i] = codewords[position]
            position += 1
    budget = (ec - _MISDECODE_PROTECTION.get((version, level), 0)) // 2
    data = bytearray()
    for block, data_length in zip(blocks, data_lengths, strict=True):
        data += _reed_solomon(block, ec, budget)[:data_length]
    return bytes(data)


# -- Reed-Solomon over GF(256), x^8 + x^4 + x^3 + x^2 + 1 ----------------------------------------
def _field_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power] = exp[power + 255] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    return exp, log


_EXP, _LOG = _field_tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[(_LOG[a] - _LOG[b]) % 255]


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """A polynomial given lowest degree first, at x."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def _syndromes(block: Sequence[int], ec: int) -> list[int]:
    """The block (highest degree first) at α^0 .. α^(ec-1)."""
    result = []
    for power in range(ec):
        value, x = 0, _EXP[power]
        for codeword in block:
            value = _mul(value, x) ^ codeword
        result.append(value)
    return result


def _reed_solomon(block: bytearray, ec: int, budget: int) -> bytearray:
    """The block with at most `budget` wrong codewords corrected (Berlekamp-Massey, Chien,
    Forney); QRUnreadable if it has more."""
    syndromes = _syndromes(block, ec)
    if not any(syndromes):
        return block
    locator, errors = _berlekamp_massey(syndromes)
    if errors > budget:
        raise QRUnreadable("too many damaged codewords to correct")
    n = len(block)
    places = [e for e in range(n) if _evaluate(locator, _EXP[(255 - e) % 255]) == 0]
    if len(places) != errors:
        raise QRUnreadable("too many damaged codewords to correct")
    evaluator = [0] * ec
    for i, s in enumerate(syndromes):
        for j, coefficient in enumerate(locator):
            if i + j < ec:
                evaluator[i + j] ^= _mul(s, coefficient)
    derivative = [locator[i] if i % 2 else 0 for i in range(1, len(locator))]
    fixed = bytearray(block)
    for e in places:
        inverse = _EXP[(255 - e) % 255]
        denominator = _evaluate(derivative, inverse)
        if denominator == 0:
            raise QRUnreadable("too many damaged codewords to correct")
        fixed[n - 1 - e] ^= _mul(_EXP[e], _div(_evaluate(evaluator, inverse), denominator))
    if any(_syndromes(fixed, ec)):
        raise QRUnreadable("too many damaged codewords to correct")
    return fixed


def _berlekamp_massey(syndromes: Sequence[int]) -> tuple[list[int], int]:
    """The error locator polynomial (lowest degree first) and the number of errors."""
    locator, previous = [1], [1]
    errors, shift, last = 0, 1, 1
    for n, syndrome in enumerate(syndromes):
        discrepancy = syndrome
        for i in range(1, errors + 1):
            if i < len(locator):
                discrepancy ^= _mul(locator[i], syndromes[n - i])
        if discrepancy == 0:
            shift += 1
            continue
        factor = _div(discrepancy, last)
        updated = locator + [0] * max(0, len(previous) + shift - len(locator))
        for i, coefficient in enumerate(previous):
            updated[i + shift] ^= _mul(factor, coefficient)
        if 2 * errors <= n:
            previous, last, errors, shift = locator, discrepancy, n + 1 - errors, 1
        else:
            shift += 1
        locator = updated
    return locator[: errors + 1], errors


# -- the data bit stream ---------------------------------------------------------------------------
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_CHARSETS = {1: "iso-8859-1", 3: "iso-8859-1", 4: "iso-8859-2", 20: "shift_jis", 26: "utf-8"}


class _Bits:
    """Reads big-endian fields off the data codewords."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def read(self, width: int) -> int:
        if width > self.left:
            raise QRUnreadable("the data ends in the middle of a segment")
        self.left -= width
        return (self.value >> self.left) & ((1 << width) - 1)


def _count_width(version: int, widths: tuple[int, int, int]) -> int:
    return widths[0] if version <= 9 else widths[1] if version <= 26 else widths[2]


def _segments(data: bytes, version: int) -> str:
    """The text of the data segments, up to the terminator or the end of the data."""
    bits = _Bits(data)
    parts: list[str] = []
    charset: str | None = None
    while bits.left >= 4:
        mode = bits.read(4)
        if mode == 0:  # terminator
            break
        if mode == 1:
            parts.append(_numeric(bits, bits.read(_count_width(version, (10, 12, 14)))))
        elif mode == 2:
            parts.append(_alphanumeric(bits, bits.read(_count_width(version, (9, 11, 13)))))
        elif mode == 4:
            count = bits.read(_count_width(version, (8, 16, 16)))
            parts.append(_text(bytes(bits.read(8) for _ in range(count)), charset))
        elif mode == 8:
            parts.append(_kanji(bits, bits.read(_count_width(version, (8, 10, 12)))))
        elif mode == 7:
            charset = _CHARSETS.get(_eci(bits))
            if charset is None:
                raise QRUnreadable("the text uses a character set this app does not know")
        elif mode == 3:  # structured append: sequence, total, parity
            bits.read(16)
        elif mode == 9:  # FNC1 in second position: an application indicator
            bits.read(8)
        elif mode != 5:  # FNC1 in first position carries nothing to read
            raise QRUnreadable(f"unknown data mode {mode}")
    return "".join(parts)


def _numeric(bits: _Bits, count: int) -> str:
    digits = []
    while count > 0:
        take = min(3, count)
        value = bits.read((4, 7, 10)[take - 1])
        if value >= 10**take:
            raise QRUnreadable("a numeric segment holds a value that is not digits")
        digits.append(str(value).zfill(take))
        count -= take
    return "".join(digits)


def _alphanumeric(bits: _Bits, count: int) -> str:
    chars = []
    while count > 1:
        value = bits.read(11)
        if value >= 45 * 45:
            raise QRUnreadable("an alphanumeric segment holds an invalid pair")
        chars += [_ALPHANUMERIC[value // 45], _ALPHANUMERIC[value % 45]]
        count -= 2
    if count:
        value = bits.read(6)
        if value >= 45:
            raise QRUnreadable("an alphanumeric segment holds an invalid character")
        chars.append(_ALPHANUMERIC[value])
    return "".join(chars)


def _kanji(bits: _Bits, count: int) -> str:
    raw = bytearray()
    for _ in range(count):
        value = bits.read(13)
        code = ((value // 0xC0) << 8) | (value % 0xC0)
        code += 0x8140 if code < 0x1F00 else 0xC140
        raw += code.to_bytes(2, "big")
    return _text(bytes(raw), "shift_jis")


def _eci(bits: _Bits) -> int:
    first = bits.read(8)
    if first & 0x80 == 0:
        return first
    if first & 0xC0 == 0x80:
        return ((first & 0x3F) << 8) | bits.read(8)
    return ((first & 0x1F) << 16) | bits.read(16)


def _text(raw: bytes, charset: str | None) -> str:
    """Bytes as text: in the declared character set, else UTF-8, else ISO-8859-1 (the
    standard's default, which every byte string decodes as)."""
    try:
        return raw.decode(charset or "utf-8")
    except UnicodeDecodeError:
        if charset is not None:
            raise QRUnreadable(f"the text is not valid {charset}") from None
        return raw.decode("iso-8859-1")
