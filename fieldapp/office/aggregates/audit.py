"""The attacker: what the published cells of linked tables reveal about the hidden ones.

Every hidden cell is a variable x ≥ 0; every published cell is fixed; every line gives an
equation (an additive axis: margin = sum) or inequalities (a select_multiple axis: each cell ≤
margin ≤ sum). The range of a hidden cell is its minimum and maximum by linear programming
(`scipy.optimize.linprog`, HiGHS). Integrality is not assumed; the range is rounded inward to
whole people, which is exact for two-way additive tables (their constraint matrix is totally
unimodular) and may be wider than an integer attacker's in three-way ones.

The hidden cells split into independent components (cells sharing no line through other hidden
cells); each is solved on its own. scipy belongs to the `office` extra and is imported here only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fieldapp.office.aggregates.errors import AggregateError
from fieldapp.office.aggregates.linked import LinkedTables
from fieldapp.office.aggregates.tables import Key, describe_key

__all__ = ["Attacker", "Interval"]

# LP solutions are exact to about 1e-9 on these sizes; a bound this close to a whole number is it.
_SLACK = 1e-6


@dataclass(frozen=True)
class Interval:
    """What the attacker can prove about one hidden cell: low ≤ x ≤ high (high may be inf)."""

    low: float
    high: float

    @property
    def width(self) -> float:
        """The range in whole people: inf when unbounded, 0 when the value is known exactly."""
        if math.isinf(self.high):
            return math.inf
        return math.floor(self.high + _SLACK) - math.ceil(self.low - _SLACK)


@dataclass
class _Row:
    coefficients: dict[Key, float]
    bound: float
    equal: bool


class Attacker:
    """The linear system left once `hidden` cells are unknown and every other cell is known."""

    def __init__(self, linked: LinkedTables, hidden: Iterable[Key]) -> None:
        self.hidden = frozenset(hidden)
        self._truth = linked.values
        # A finite box for the batch programs of `narrow`: any solution inside it is one
        # outside it too, so what it proves holds for the unbounded attacker.
        self._box = float(sum(linked.values.values()) + 1)
        rows = _rows(linked, self.hidden)
        self._component = _components(self.hidden, rows)
        self._rows_of: dict[int, list[_Row]] = {}
        for row in rows:
            self._rows_of.setdefault(self._component[next(iter(row.coefficients))], []).append(row)
        self._systems: dict[int, tuple[list[Key], Any, Any, Any, Any]] = {}

    def interval(self, key: Key) -> Interval:
        """The minimum and maximum of a hidden cell."""
        if key not in self.hidden:
            raise AggregateError(f"{describe_key(key)} is published, not hidden")
        return Interval(-self._optimum({key: -1.0}), self._optimum({key: 1.0}))

    def narrow(self, keys: Sequence[Key], width: int) -> list[Key]:
        """The hidden cells among `keys` whose range is narrower than `width` whole people.

        The true table is one solution; a single program maximising (then minimising) the sum
        of many cells finds another, and every cell that moved by `width` or more between the
        two is proven wide enough at once. A few such rounds leave few cells, which are then
        solved one by one (`interval`)."""
        remaining = list(keys)
        for _ in range(3):
            if not remaining:
                break
            low = {key: float(self._truth[key]) for key in remaining}
            high = dict(low)
            for sign in (1.0, -1.0):
                for key, value in self._solution(dict.fromkeys(remaining, sign)).items():
                    low[key], high[key] = min(low[key], value), max(high[key], value)
            wide = {k for k in remaining if Interval(low[k], high[k]).width >= width}
            if not wide:
                break
            remaining = [k for k in remaining if k not in wide]
        return [k for k in remaining if self.interval(k).width < width]

    def same_component(self, one: Key, other: Key) -> bool:
        """Whether two hidden cells are tied by constraints through hidden cells."""
        return self._component[one] == self._component[other]

    def most(self, keys: Iterable[Key]) -> float:
        """The maximum of the sum of hidden cells (a group's cells beside its only non-zero)."""
        return self._optimum(dict.fromkeys(keys, 1.0))

    def _optimum(self, objective: Mapping[Key, float]) -> float:
        """max of objective · x, component by component."""
        by_component: dict[int, dict[Key, float]] = {}
        for key, weight in objective.items():
            by_component.setdefault(self._component[key], {})[key] = weight
        return sum(self._maximise(c, weights) for c, weights in sorted(by_component.items()))

    def _maximise(self, component: int, weights: Mapping[Key, float]) -> float:
        result = self._program(component, weights, None)
        return math.inf if result is None else float(-result.fun)

    def _solution(self, weights: Mapping[Key, float]) -> dict[Key, float]:
        """A point of the attacker's set maximising weights · x within the box."""
        by_component: dict[int, dict[Key, float]] = {}
        for key, weight in weights.items():
            by_component.setdefault(self._component[key], {})[key] = weight
        point: dict[Key, float] = {}
        for component, chosen in sorted(by_component.items()):
            result = self._program(component, chosen, self._box)
            assert result is not None  # bounded by the box
            position = {key: i for i, key in enumerate(self._system(component)[0])}
            point.update((key, float(result.x[position[key]])) for key in chosen)
        return point

    def _program(self, component: int, weights: Mapping[Key, float], box: float | None) -> Any:
        """scipy's result of max weights · x (None when unbounded)."""
        import numpy as np
        from scipy.optimize import linprog

        keys, a_eq, b_eq, a_ub, b_ub = self._system(component)
        position = {key: i for i, key in enumerate(keys)}
        cost = np.zeros(len(keys))
        for key, weight in weights.items():
            cost[position[key]] = -weight
        result = linprog(
            cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, box), method="highs"
        )
        if result.status == 3:
            return None
        if result.status != 0:
            raise AggregateError(f"the disclosure audit failed: {result.message}")
        return result

    def _system(self, component: int) -> tuple[list[Key], Any, Any, Any, Any]:
        if component not in self._systems:
            from scipy.sparse import csr_array

            keys = sorted((k for k, c in self._component.items() if c == component), key=repr)
            position = {key: i for i, key in enumerate(keys)}
            rows = self._rows_of.get(component, [])
            parts: list[Any] = []
            for equal in (True, False):
                chosen = [r for r in rows if r.equal == equal]
                if not chosen:
                    parts += [None, None]
                    continue
                data, row_of, column = [], [], []
                for number, row in enumerate(chosen):
                    for key, coefficient in row.coefficients.items():
                        data.append(coefficient)
                        row_of.append(number)
                        column.append(position[key])
                matrix = csr_array((data, (row_of, column)), shape=(len(chosen), len(keys)))
                parts += [matrix, [r.bound for r in chosen]]
            self._systems[component] = (keys, parts[0], parts[1], parts[2], parts[3])
        return self._systems[component]


def _rows(linked: LinkedTables, hidden: frozenset[Key]) -> list[_Row]:
    """Each line as constraints over the hidden cells, published values moved to the bound."""
    rows: list[_Row] = []

    def add(terms: list[tuple[Key, float]], equal: bool) -> None:
        coefficients: dict[Key, float] = {}
        bound = 0.0
        for key, coefficient in terms:
            if key in hidden:
                coefficients[key] = coefficients.get(key, 0.0) + coefficient
            else:
                bound -= coefficient * linked.values[key]
        if coefficients:
            rows.append(_Row(coefficients, bound, equal))

    for line in linked.lines:
        if not hidden.intersection(line.cells):
            continue
        margin = line.margin
        if not line.multiple:
            add([(margin, 1.0), *((m, -1.0) for m in line.members)], equal=True)
            continue
        for member in line.members:  # a record counts in each of its choices: cell ≤ margin
            add([(member, 1.0), (margin, -1.0)], equal=False)
        add([(margin, 1.0), *((m, -1.0) for m in line.members)], equal=False)  # margin ≤ sum
    return rows


def _components(hidden: frozenset[Key], rows: list[_Row]) -> dict[Key, int]:
    """Union-find over hidden cells sharing a constraint; each cell's component number."""
    parent = {key: key for key in hidden}

    def root(key: Key) -> Key:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for row in rows:
        first, *others = row.coefficients
        for other in others:
            a, b = root(first), root(other)
            if a != b:
                parent[max(a, b, key=repr)] = min(a, b, key=repr)
    roots = sorted({root(key) for key in hidden}, key=repr)
    number = {r: i for i, r in enumerate(roots)}
    return {key: number[root(key)] for key in hidden}
