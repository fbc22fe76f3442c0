"""Count tables with every margin, and the lines that tie their cells together.

A table over N fields is held extended: each axis has one index per category plus one more,
the margin (every category of that field together). A *line* runs along one axis with the other
indices fixed, its margin last: the equations an attacker reads from a published table. A
select_one axis is additive (the margin is the sum of the line). A select_multiple axis is not:
a record counts once in each chosen value but once in the margin, so each cell is at most the
margin and the margin at most the sum (every record is in at least one cell, "not answered"
being a category).

A cell's *key* says what population it counts: the unit counted (records, or the instances of a
repeat) and the value of each field it is not a margin of. Two tables of one report share a
cell when their keys are equal (the nationality totals of nationality × age band and of
nationality × sex), whatever their position.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Category", "Dimension", "Key", "Line", "Table", "describe_key"]

# (unit, ((field, value), ...) sorted by field): a population; unit None counts records.
Key = tuple[str | None, tuple[tuple[str, Any], ...]]


@dataclass(frozen=True)
class Category:
    """One value of a dimension (None: not answered) and its label in each language."""

    value: Any
    labels: Mapping[str, str]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("en") or str(self.value)


@dataclass(frozen=True)
class Dimension:
    """A field a report counts by: its categories in display order; `multiple` for a
    select_multiple; `pooled`: the values merged into the category `OTHER` (see counting)."""

    field: str
    label: Mapping[str, str]
    categories: tuple[Category, ...]
    multiple: bool = False
    pooled: tuple[Any, ...] = ()

    @property
    def size(self) -> int:
        return len(self.categories)


@dataclass(frozen=True)
class Line:
    """Cells along one axis (`members`) and their margin; `multiple`: a select_multiple axis."""

    members: tuple[Key, ...]
    margin: Key
    multiple: bool

    @property
    def cells(self) -> tuple[Key, ...]:
        return (*self.members, self.margin)


@dataclass(frozen=True)
class Table:
    """Counts over the extended index space: index `dim.size` on an axis is its margin."""

    dims: tuple[Dimension, ...]
    counts: Mapping[tuple[int, ...], int]
    unit: str | None = None
    _keys: dict[tuple[int, ...], Key] = field(default_factory=dict, compare=False, repr=False)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(d.field for d in self.dims)

    def indices(self) -> Iterator[tuple[int, ...]]:
        """Every cell of the extended table, inner cells first along each axis (row-major)."""
        return itertools.product(*(range(d.size + 1) for d in self.dims))

    def margin_axes(self, index: tuple[int, ...]) -> int:
        """How many axes the cell is a margin of: 0 for an inner cell, N for the grand total."""
        return sum(i == d.size for i, d in zip(index, self.dims, strict=True))

    def key(self, index: tuple[int, ...]) -> Key:
        if index not in self._keys:
            values = tuple(
                sorted(
                    (d.field, d.categories[i].value)
                    for i, d in zip(index, self.dims, strict=True)
                    if i < d.size
                )
            )
            self._keys[index] = (self.unit, values)
        return self._keys[index]

    def lines(self) -> Iterator[Line]:
        """Every line of the extended table, axis by axis."""
        for axis, dim in enumerate(self.dims):
            others = [range(d.size + 1) for a, d in enumerate(self.dims) if a != axis]
            for fixed in itertools.product(*others):

                def at(i: int, fixed: tuple[int, ...] = fixed, axis: int = axis) -> Key:
                    return self.key((*fixed[:axis], i, *fixed[axis:]))

                members = tuple(at(i) for i in range(dim.size))
                yield Line(members, at(dim.size), dim.multiple)


def describe_key(key: Key) -> str:
    """A cell as people read it: `nationality=AF, sex=female`, `total` for the grand total;
    the unit counted is named when it is a repeat's instances."""
    unit, values = key
    text = ", ".join(f"{name}={_shown(value)}" for name, value in values) or "total"
    return f"{unit}: {text}" if unit else text


def _shown(value: Any) -> str:
    if value is None:
        return "(not answered)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
