"""An attacker written apart from the library, to judge its protection.

It reads what a report publishes (its JSON, or every cell of its tables with the hidden ones
blank), rebuilds the equations from the values dicts alone (a cell is the set of its
field=value pairs, so tables sharing a cell share a variable), and bounds each blank cell two
ways: by its own linear programs, and by enumerating every whole-number table that fits (small
tables only). Nothing here calls the library's audit.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_array

from fieldapp.office.aggregates import Report

Cell = frozenset[tuple[str, Any]]
_MARGIN = object()


@dataclass
class System:
    """Known cells, unknown ones, and constraints Σ coef·x = 0 (or ≤ 0) over all cells."""

    known: dict[Cell, int] = field(default_factory=dict)
    unknown: set[Cell] = field(default_factory=set)
    equal: list[dict[Cell, int]] = field(default_factory=list)
    at_most: list[dict[Cell, int]] = field(default_factory=list)
    _built: Any = field(default=None, compare=False, repr=False)

    def add_table(
        self,
        by: Sequence[str],
        categories: Mapping[str, Sequence[Any]],
        published: Mapping[Cell, int | None],
        multiple: Collection[str],
    ) -> None:
        axes = [[*categories[f], _MARGIN] for f in by]
        for combination in itertools.product(*axes):
            cell = frozenset(
                (f, v) for f, v in zip(by, combination, strict=True) if v is not _MARGIN
            )
            count = published.get(cell)
            if count is None:
                if cell not in self.known:
                    self.unknown.add(cell)
            else:
                assert self.known.get(cell, count) == count, f"two tables disagree on {cell}"
                self.known[cell] = count
                self.unknown.discard(cell)
        for f in by:
            others = [[*categories[g], _MARGIN] for g in by if g != f]
            for fixed in itertools.product(*others):
                rest = frozenset(
                    (g, v)
                    for g, v in zip([g for g in by if g != f], fixed, strict=True)
                    if v is not _MARGIN
                )
                members = [rest | {(f, v)} for v in categories[f]]
                if f in multiple:
                    for m in members:
                        self.at_most.append({m: 1, rest: -1})
                    self.at_most.append({rest: 1, **{m: -1 for m in members}})
                else:
                    self.equal.append({rest: 1, **{m: -1 for m in members}})

    def tagged(self, tag: str) -> System:
        """The same system with every cell marked `tag`, to stand beside another release's."""

        def mark(cell: Cell) -> Cell:
            return cell | {("_release", tag)}

        return System(
            {mark(c): n for c, n in self.known.items()},
            {mark(c) for c in self.unknown},
            [{mark(c): co for c, co in row.items()} for row in self.equal],
            [{mark(c): co for c, co in row.items()} for row in self.at_most],
        )

    def joined(self, other: System) -> System:
        return System(
            {**self.known, **other.known},
            self.unknown | other.unknown,
            self.equal + other.equal,
            self.at_most + other.at_most,
        )

    def lp_range(self, objective: Mapping[Cell, float]) -> tuple[float, float]:
        """min and max of Σ objective·x by linear programming (x ≥ 0, not whole numbers)."""
        position, a_eq, b_eq, a_ub, b_ub = self._matrices()
        cost = np.zeros(len(position))
        constant = 0.0
        for cell, weight in objective.items():
            if cell in position:
                cost[position[cell]] = weight
            else:
                constant += weight * self.known[cell]
        ends = []
        for sign in (1, -1):
            result = linprog(
                sign * cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, method="highs"
            )
            if result.status == 3:
                ends.append(float("inf") * -sign)
                continue
            assert result.status == 0, result.message
            ends.append(sign * result.fun + constant)
        return ends[0], ends[1]

    def _matrices(self) -> tuple[dict[Cell, int], Any, Any, Any, Any]:
        """The constraints over the unknown cells, built again only when the system grew."""
        size = (len(self.known), len(self.unknown), len(self.equal), len(self.at_most))
        if self._built is not None and self._built[0] == size:
            return self._built[1]
        position = {c: i for i, c in enumerate(sorted(self.unknown, key=repr))}

        def matrix(rows: list[dict[Cell, int]], equal: bool) -> tuple[Any, Any]:
            data: list[float] = []
            row_of: list[int] = []
            column: list[int] = []
            bounds: list[float] = []
            for row in rows:
                rhs = 0.0
                terms = 0
                for cell, coefficient in row.items():
                    if cell in position:
                        data.append(coefficient)
                        row_of.append(len(bounds))
                        column.append(position[cell])
                        terms += 1
                    else:
                        rhs -= coefficient * self.known[cell]
                if terms:
                    bounds.append(rhs)
                else:  # every cell known: the published figures must satisfy it
                    assert abs(rhs) < 1e-9 if equal else rhs >= -1e-9
            if not bounds:
                return None, None
            shape = (len(bounds), len(position))
            return csr_array((data, (row_of, column)), shape=shape), np.array(bounds)

        built = (position, *matrix(self.equal, True), *matrix(self.at_most, False))
        self._built = (size, built)
        return built

    def solutions(self, cap: int, limit: int = 300_000) -> Iterator[dict[Cell, int]]:
        """Every whole-number assignment of the unknown cells in 0..cap that fits."""
        rows = [(r, True) for r in self.equal] + [(r, False) for r in self.at_most]
        rows = [(r, eq) for r, eq in rows if any(c in self.unknown for c in r)]
        order = sorted(self.unknown, key=lambda c: (-sum(c in r for r, _ in rows), repr(c)))
        # A cell is at most the published margin of any additive line it is on.
        caps = dict.fromkeys(self.unknown, cap)
        for row in self.equal:
            margins = [c for c, co in row.items() if co == 1 and c in self.known]
            for c, co in row.items():
                if co == -1 and c in caps and margins:
                    caps[c] = min(caps[c], self.known[margins[0]])
        found = 0

        def value(cell: Cell, chosen: Mapping[Cell, int]) -> int | None:
            return self.known.get(cell, chosen.get(cell))

        def consistent(chosen: dict[Cell, int]) -> bool:
            changed = True
            while changed:
                changed = False
                for row, eq in rows:
                    open_cells = [c for c in row if value(c, chosen) is None]
                    total = sum(
                        co * v for c, co in row.items() if (v := value(c, chosen)) is not None
                    )
                    if not open_cells:
                        if (eq and total != 0) or (not eq and total > 0):
                            return False
                    elif eq and len(open_cells) == 1:
                        cell = open_cells[0]
                        derived, remainder = divmod(-total, row[cell])
                        if remainder or not 0 <= derived <= cap:
                            return False
                        chosen[cell] = derived
                        changed = True
            return True

        def search(chosen: dict[Cell, int]) -> Iterator[dict[Cell, int]]:
            nonlocal found
            if not consistent(chosen):
                return
            free = [c for c in order if c not in chosen]
            if not free:
                found += 1
                assert found <= limit, "too many tables to enumerate"
                yield dict(chosen)
                return
            for v in range(caps[free[0]] + 1):
                yield from search({**chosen, free[0]: v})

        yield from search({})


def from_json(tables: Sequence[Mapping[str, Any]], multiple: Collection[str] = ()) -> System:
    """The system an attacker reads from published JSON tables (one report's, linked)."""
    system = System()
    for table in tables:
        by = table["by"]
        categories: dict[str, list[Any]] = {f: [] for f in by}
        for margin in table["margins"]:
            ((f, v),) = margin["values"].items()
            categories[f].append(v)
        published = {
            frozenset(c["values"].items()): c["count"] for c in [*table["cells"], *table["margins"]]
        }
        published[frozenset()] = table["total"]
        system.add_table(by, categories, published, multiple)
    return system


def from_report(report: Report, multiple: Collection[str] = ()) -> System:
    """The stronger attacker protection is built against: every margin of every table
    published (two-way margins of a three-way table included) unless hidden."""
    system = System()
    for published in report.tables:
        table = published.table
        by = list(table.fields)
        categories = {d.field: [c.value for c in d.categories] for d in table.dims}
        cells: dict[Cell, int | None] = {}
        for index in table.indices():
            key = table.key(index)
            cells[frozenset(key[1])] = None if key in published.hidden else table.counts[index]
        system.add_table(by, categories, cells, multiple)
    return system


def integer_ranges(
    system: System, objectives: Mapping[str, Mapping[Cell, int]], cap: int
) -> dict[str, tuple[int, int]]:
    """min and max of each objective over every whole-number table (cells ≤ cap) that fits."""
    ranges: dict[str, tuple[int, int]] = {}
    for chosen in system.solutions(cap):
        for name, objective in objectives.items():
            v = sum(w * system.known.get(c, chosen.get(c, 0)) for c, w in objective.items())
            low, high = ranges.get(name, (v, v))
            ranges[name] = (min(low, v), max(high, v))
    return ranges
