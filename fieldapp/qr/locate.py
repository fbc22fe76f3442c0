"""Locating the symbol: the three finder patterns (runs of 1:1:3:1:1, cross-checked
vertically, horizontally and diagonally), their reading order, the module size each shows
along the symbol's edges, and from it the symbol's size and its fourth corner."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from fieldapp.qr.pixels import DARK_RUNS, Bitmap

Point = tuple[float, float]

_POOL = 10  # finder candidates (most often seen first) combined into triples
_TRIES = 6  # best-shaped triples tried before giving up on a picture


@dataclass
class Finder:
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


def find_finders(bitmap: Bitmap) -> list[Finder]:
    """Every finder pattern candidate: scan rows for 1:1:3:1:1, confirm each hit."""
    found: list[Finder] = []
    width = bitmap.width
    for y in range(0, bitmap.height, max(1, bitmap.height // 400)):
        row = bitmap.data[y * width : (y + 1) * width]
        spans = [match.span() for match in DARK_RUNS.finditer(row)]
        for (a0, a1), (b0, b1), (c0, c1) in zip(spans, spans[1:], spans[2:], strict=False):
            counts = (a1 - a0, b0 - a1, b1 - b0, c0 - b1, c1 - c0)
            if _finder_ratio(counts):
                finder = _confirm_finder(bitmap, (b0 + b1) / 2, y + 0.5, sum(counts))
                if finder is not None:
                    _merge(found, finder)
    return found


def _confirm_finder(bitmap: Bitmap, x: float, y: float, across: int) -> Finder | None:
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
    return Finder(x, y, (sum(horizontal[0]) + down) / 14)


def _merge(found: list[Finder], new: Finder) -> None:
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


def triples(found: list[Finder]) -> list[tuple[Finder, Finder, Finder]]:
    """Candidate (top-left, top-right, bottom-left) triples, the most square-shaped first."""
    pool = sorted(found, key=lambda f: -f.hits)[:_POOL]
    scored: list[tuple[float, tuple[Finder, Finder, Finder]]] = []
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


def _orient(a: Finder, b: Finder, c: Finder) -> tuple[Finder, Finder, Finder]:
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


def _distance(a: Finder, b: Finder) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def _module_towards(bitmap: Bitmap, finder: Finder, other: Finder) -> float:
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
class Corners:
    """Three finders in reading order, with each one's module size measured along the
    symbol's top edge (tl, tr) and left edge (tl, bl): a finder farther from the camera
    looks smaller, which tells the perspective."""

    tl: Finder
    tr: Finder
    bl: Finder
    tl_across: float
    tr_across: float
    tl_down: float
    bl_down: float

    @classmethod
    def measure(cls, bitmap: Bitmap, tl: Finder, tr: Finder, bl: Finder) -> Corners:
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
