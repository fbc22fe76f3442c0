"""The report: counts by one to three fields, protected when they are about victims, as the
JSON `fieldapp office report --json` prints and as a plain-text table.

The JSON of one table is exactly `{"by": [...], "cells": [...], "margins": [...], "total": ...}`,
each cell `{"values": {field: value}, "count": n or null, "suppressed": bool}`: a hidden
figure's count is null, never present in any other form. A three-way table publishes its inner
cells, the margin of each single field and the total; protection nevertheless treats its
two-way margins as published too (an attacker with more can only learn more), so a later
report that shows them leaks nothing new.

Several tables of one report (nationality × age band and nationality × sex) are protected
together: a figure they share is hidden in all of them or none (see `linked`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fieldapp.forms.spec import FormSpec
from fieldapp.office.aggregates.counting import OTHER, count_tables
from fieldapp.office.aggregates.linked import LinkedTables, link
from fieldapp.office.aggregates.policy import DisclosurePolicy
from fieldapp.office.aggregates.protection import Protection, protect
from fieldapp.office.aggregates.tables import Key, Table, describe_key

__all__ = ["PublishedTable", "Report", "build_report", "report_json"]

_WORDS: dict[str, dict[str, str]] = {
    "total": {"en": "Total", "fr": "Total", "es": "Total", "ar": "المجموع"},
    "hidden": {
        "en": "x: hidden to protect the people counted (groups under {k}, and what would "
        "reveal them)",
        "fr": "x : masqué pour protéger les personnes comptées (groupes de moins de {k}, et ce "
        "qui permettrait de les retrouver)",
        "es": "x: oculto para proteger a las personas contadas (grupos de menos de {k}, y lo que "
        "permitiría deducirlos)",
        "ar": "x: مخفي لحماية الأشخاص المعدودين (المجموعات الأقل من {k} وما قد يكشفها)",
    },
}


@dataclass(frozen=True)
class PublishedTable:
    """One table of a report and the cells hidden in it (none when the form is unprotected)."""

    table: Table
    hidden: frozenset[Key]

    def cell(self, index: tuple[int, ...]) -> dict[str, Any]:
        key = self.table.key(index)
        suppressed = key in self.hidden
        return {
            "values": dict(key[1]),
            "count": None if suppressed else self.table.counts[index],
            "suppressed": suppressed,
        }

    def json(self) -> dict[str, Any]:
        dims = self.table.dims
        total = tuple(d.size for d in dims)
        inner = [i for i in self.table.indices() if self.table.margin_axes(i) == 0]
        margins = [
            (*total[:axis], position, *total[axis + 1 :])
            for axis, dim in enumerate(dims)
            for position in range(dim.size)
        ]
        return {
            "by": list(self.table.fields),
            "cells": [self.cell(i) for i in inner],
            "margins": [self.cell(i) for i in margins],
            "total": self.cell(total)["count"],
        }

    def text(self, lang: str = "en") -> str:
        """Plain-text rendering for the CLI: a grid for two fields, a list otherwise."""
        dims = self.table.dims
        total = tuple(d.size for d in dims)
        word = _WORDS["total"].get(lang, "Total")
        if len(dims) == 2:
            rows = [["", *(c.label(lang) for c in dims[1].categories), word]]
            for r in range(dims[0].size + 1):
                label = dims[0].categories[r].label(lang) if r < dims[0].size else word
                rows.append([label, *(self._shown((r, c)) for c in range(dims[1].size + 1))])
            return _grid(rows)
        rows = []
        for index in self.table.indices():
            if self.table.margin_axes(index) not in (0, len(dims) - 1) or index == total:
                continue
            parts = [
                f"{d.field}={d.categories[i].label(lang)}"
                for i, d in zip(index, dims, strict=True)
                if i < d.size
            ]
            rows.append([", ".join(parts), self._shown(index)])
        rows.append([word, self._shown(total)])
        return _grid(rows)

    def _shown(self, index: tuple[int, ...]) -> str:
        count = self.cell(index)["count"]
        return "x" if count is None else str(count)


@dataclass(frozen=True)
class Report:
    """The tables of one report; `protection` is None when the form's figures are published
    as counted; `warnings` are for the person making the report (lines to review, pooling)."""

    form_id: str
    tables: tuple[PublishedTable, ...]
    k: int | None
    protection: Protection | None
    warnings: tuple[str, ...]

    def json(self) -> list[dict[str, Any]]:
        return [t.json() for t in self.tables]

    def text(self, lang: str = "en") -> str:
        blocks = [t.text(lang) for t in self.tables]
        if self.k is not None:
            blocks.append(_WORDS["hidden"].get(lang, _WORDS["hidden"]["en"]).format(k=self.k))
        blocks += [f"! {w}" for w in self.warnings]
        return "\n\n".join(blocks) + "\n"


def build_report(
    spec: FormSpec,
    rows: Iterable[Mapping[str, Any]],
    tables: Sequence[Sequence[str]],
    *,
    policy: DisclosurePolicy,
    pool: Collection[str] = (),
) -> Report:
    """Count `rows` of `spec` by each list of fields in `tables` and protect them together if
    the policy protects the form. `pool`: fields whose categories under k merge into Other."""
    counted = count_tables(spec, rows, tables, pool=pool, k=policy.k)
    if not policy.protects_form(spec):
        published = tuple(PublishedTable(t, frozenset()) for t in counted)
        return Report(spec.id, published, None, None, ())
    linked = link(counted)
    forced, warnings = _pooling_checks(counted, policy)
    protection = protect(linked, policy, forced)
    warnings += _whole_groups(linked, protection)
    published = tuple(PublishedTable(t, protection.hidden) for t in counted)
    return Report(spec.id, published, policy.k, protection, tuple(warnings))


def report_json(
    spec: FormSpec,
    rows: Iterable[Mapping[str, Any]],
    by: Sequence[str],
    *,
    policy: DisclosurePolicy,
    pool: Collection[str] = (),
) -> dict[str, Any]:
    """The JSON of `fieldapp office report --form ID --by FIELD[,FIELD...] --json`."""
    return build_report(spec, rows, [by], policy=policy, pool=pool).json()[0]


def _pooling_checks(
    tables: Sequence[Table], policy: DisclosurePolicy
) -> tuple[set[Key], list[str]]:
    """Pooled totals that would pin their members, and a note per pooled field.

    Each of the m pooled categories holds 0 to k - 1 people (that is what pooling says), so a
    pooled total P bounds each member within [P - (m - 1)(k - 1), min(P, k - 1)]; when that
    range is narrower than the protection level, the pooled total is hidden too.
    """
    forced: set[Key] = set()
    notes: dict[str, str] = {}
    k = policy.k
    for table in tables:
        total = tuple(d.size for d in table.dims)
        for axis, dim in enumerate(table.dims):
            if not dim.pooled:
                continue
            index = (*total[:axis], dim.size - 1, *total[axis + 1 :])
            pooled, members = table.counts[index], len(dim.pooled)
            low = 0 if dim.multiple else max(0, pooled - (members - 1) * (k - 1))
            if pooled and min(pooled, k - 1) - low < policy.protection_width:
                forced.add(table.key(index))
            notes[dim.field] = (
                f"{dim.field}: {members} categories with fewer than {k} each are counted "
                f"together as {OTHER!r}"
            )
    return forced, [notes[name] for name in sorted(notes)]


def _whole_groups(linked: LinkedTables, protection: Protection) -> list[str]:
    """Published lines that put a whole group of k or more in one cell (every one of the 15
    from X is female): not a small cell, but an attribute of everyone in it; flagged for review."""
    flagged = []
    for line in linked.lines:
        if line.margin in protection.hidden or linked.values[line.margin] == 0:
            continue
        nonzero = [m for m in line.members if linked.values[m] > 0]
        if len(nonzero) == 1 and nonzero[0] not in protection.hidden and len(line.members) > 1:
            flagged.append(
                f"review: all {linked.values[line.margin]} counted in "
                f"{describe_key(line.margin)} are in {describe_key(nonzero[0])}"
            )
    return flagged


def _grid(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c]) for c, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )
