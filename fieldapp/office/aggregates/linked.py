"""The tables of one report as one system: every distinct cell once, every line of every table.

A cell meaning the same population in two tables is one variable (see `tables.Key`), so a
cell hidden in one table is hidden in all. The attacker's model is the linear system of the
published lines (as in τ-ARGUS and sdcTable); it is exact, not merely an outer bound of what
can be inferred, only under two conditions that `link` enforces, refusing otherwise:

- each select_multiple field appears in one table of the report at most, and each table has at
  most one: then a record's set of choices can be coupled freely with the other fields, and
  the per-line inequalities (cell ≤ margin ≤ sum) are all an attacker can derive;
- the tables' field sets form an acyclic hypergraph (GYO reduction): pairwise tables in a
  triangle (A×B, B×C, A×C) constrain each other beyond their shared margins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fieldapp.office.aggregates.errors import AggregateError
from fieldapp.office.aggregates.tables import Key, Line, Table, describe_key

__all__ = ["LinkedTables", "link"]

# (zero last, grand total last, margins after inner cells, smaller first, first seen first)
Rank = tuple[bool, bool, int, int, int]


@dataclass(frozen=True)
class LinkedTables:
    """`values` by key; `lines` without repeats; `through[key]`: the lines a cell is on;
    `rank[key]`: the cost order of complementary suppression."""

    tables: tuple[Table, ...]
    values: Mapping[Key, int]
    lines: tuple[Line, ...]
    through: Mapping[Key, tuple[int, ...]]
    rank: Mapping[Key, Rank]

    def cheapest(self, candidates: Iterable[Key]) -> Key | None:
        """The cell to hide next among `candidates`: non-zero, inner before margin, grand
        total last, smallest first, ties by position (so the result is deterministic)."""
        return min(candidates, key=self.rank.__getitem__, default=None)


def link(tables: Sequence[Table]) -> LinkedTables:
    """The system of `tables`, counted over the same rows; refuses what its model cannot hold."""
    _check_modelled(tables)
    values: dict[Key, int] = {}
    depth: dict[Key, int] = {}
    for table in tables:
        for index in table.indices():
            key = table.key(index)
            count = table.counts[index]
            if values.setdefault(key, count) != count:
                raise AggregateError(
                    f"tables: {describe_key(key)} is {values[key]} in one table and {count} "
                    "in another: the tables were not counted over the same records"
                )
            depth[key] = min(depth.get(key, len(table.dims)), table.margin_axes(index))
    lines: dict[tuple[frozenset[Key], Key], Line] = {}
    for table in tables:
        for line in table.lines():
            lines.setdefault((frozenset(line.members), line.margin), line)
    through: dict[Key, list[int]] = {key: [] for key in values}
    for number, line in enumerate(lines.values()):
        for key in line.cells:
            through[key].append(number)
    order = {key: position for position, key in enumerate(values)}
    rank = {
        key: (value == 0, not key[1], depth[key], value, order[key])
        for key, value in values.items()
    }
    return LinkedTables(
        tuple(tables),
        values,
        tuple(lines.values()),
        {key: tuple(numbers) for key, numbers in through.items()},
        rank,
    )


def _check_modelled(tables: Sequence[Table]) -> None:
    multiple: Counter[str] = Counter()
    for table in tables:
        several = [d.field for d in table.dims if d.multiple]
        if len(several) > 1:
            raise AggregateError(
                f"by: {', '.join(several)} are all select_multiple; a protected table may count "
                "by one select_multiple field at most (their joint counts constrain hidden cells "
                "beyond what the disclosure audit models)"
            )
        multiple.update(several)
    shared = sorted(name for name, n in multiple.items() if n > 1)
    if shared:
        raise AggregateError(
            f"by: the select_multiple field {', '.join(shared)} is in several tables of one "
            "protected report; put it in one table only"
        )
    for unit in {t.unit for t in tables}:
        edges = [set(t.fields) for t in tables if t.unit == unit]
        if not _acyclic(edges):
            raise AggregateError(
                "tables: their fields link in a cycle (such as A×B, B×C and A×C), which the "
                "disclosure audit cannot model; publish one table over those fields instead"
            )


def _acyclic(edges: list[set[str]]) -> bool:
    """GYO reduction: drop fields found in one table only, then tables inside another."""
    edges = [set(e) for e in edges]
    while edges:
        counts = Counter(name for edge in edges for name in edge)
        lone = [{name for name in edge if counts[name] == 1} for edge in edges]
        kept = [edge - alone for edge, alone in zip(edges, lone, strict=True)]
        kept = [
            edge
            for i, edge in enumerate(kept)
            if edge
            and not any(
                edge < other or (edge == other and j < i) for j, other in enumerate(kept) if j != i
            )
        ]
        if kept == edges:
            return False
        edges = kept
    return True
