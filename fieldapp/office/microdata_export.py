"""The anonymised micro-data export of a victim form: one CSV row per person, holding only the
quasi-identifiers (age band, sex, nationality, exploitation type, region), made k-anonymous
by `fieldapp.office.aggregates.microdata.anonymise` (global recoding, then local blanking,
then the rows still in a group under k left out), and optionally one sensitive statistical
field carried unchanged (l-diversity warnings name the groups that give it away).

No other column: every further field (the age in years, `is_minor`, the country of
exploitation, the date...) would be one more quasi-identifier the k guarantee does not
cover. No record id, no device, no dates; rows sorted, never in the order records came.
Records the office merged into another as the same person (`duplicate_of`) are left out:
one person counted twice would make a group look bigger than it is.

Unlike the other exports this one holds every record's quasi-identifiers in memory (a few
short values each): the recoding decides over all of them at once.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldapp.forms.spec import FieldSpec, FormSpec, answer_nodes
from fieldapp.office.aggregates import AggregateError, anonymise
from fieldapp.office.aggregates.microdata import victim_quasi_identifiers
from fieldapp.office.exports import ExportedRecord, ExportError, open_csv, safe_text

__all__ = ["DEFAULT_MICRODATA_K", "MicrodataResult", "export_microdata"]

DEFAULT_MICRODATA_K = 11  # CTDC's threshold, as for the reports
_RECORD_FIELDS = frozenset({"region"})  # quasi-identifiers the record itself carries


@dataclass(frozen=True)
class MicrodataResult:
    """What was written: `rows` in the file, `suppressed` records left out (still alone in a
    group under k), `blanked` values replaced by `*`, `merged` records left out as
    duplicates of another, `recoded` how far each quasi-identifier was coarsened (0: as
    answered), the `columns` and the l-diversity `warnings`."""

    out: Path
    k: int
    rows: int
    suppressed: int
    blanked: int
    merged: int
    recoded: dict[str, int]
    columns: list[str]
    warnings: list[str]

    def summary(self) -> str:
        """One line for the person who asked (the CLI prints it)."""
        coarser = ", ".join(f"{name} (level {lv})" for name, lv in self.recoded.items() if lv)
        return (
            f"micro-data, k = {self.k}: {self.rows} rows; {self.suppressed} records suppressed"
            f" (in a group under k), {self.blanked} values blanked,"
            f" {self.merged} merged duplicates left out; recoded: {coarser or 'nothing'}"
        )


def export_microdata(
    spec: FormSpec,
    records: Iterable[ExportedRecord],
    out: Path,
    *,
    k: int = DEFAULT_MICRODATA_K,
    sensitive: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> MicrodataResult:
    """Write the k-anonymous micro-data of `records` (of `spec`) to `out` as CSV. Raises
    ExportError when the form has none of the quasi-identifiers, `sensitive` is not one of
    its statistical fields (or is a quasi-identifier), or `k` is below 2."""
    statistical = {
        node.name
        for node in answer_nodes(spec.children)
        if isinstance(node, FieldSpec) and node.sensitivity == "statistical"
    }
    qis = [
        q for q in victim_quasi_identifiers() if q.field in _RECORD_FIELDS or q.field in statistical
    ]
    if not [q for q in qis if q.field not in _RECORD_FIELDS]:
        names = ", ".join(q.field for q in victim_quasi_identifiers())
        raise ExportError(
            f"format: the form {spec.id!r} has none of the micro-data's quasi-identifiers"
            f" ({names}) as a statistical field"
        )
    if sensitive is not None and (
        sensitive not in statistical or sensitive in {q.field for q in qis}
    ):
        raise ExportError(
            f"sensitive: {sensitive!r} is not a statistical field of the form {spec.id!r}"
            " other than the quasi-identifiers"
        )
    wanted = [q.field for q in qis] + ([sensitive] if sensitive else [])
    rows: list[dict[str, Any]] = []
    merged = 0
    for seen, record in enumerate(records, start=1):
        if record.duplicate_of is not None:
            merged += 1
        else:
            values = {**record.stats, "region": record.region}
            rows.append({name: values.get(name) for name in wanted})
        if on_progress is not None and seen % 500 == 0:
            on_progress(seen)
    try:
        made = anonymise(rows, qis, k=k, sensitive=sensitive)
    except AggregateError as exc:
        raise ExportError(str(exc)) from None
    with open_csv(out) as handle:
        writer = csv.writer(handle)
        writer.writerow(wanted)
        for row in made.rows:
            writer.writerow([safe_text(_text(row.get(name))) for name in wanted])
    return MicrodataResult(
        out=out,
        k=k,
        rows=len(made.rows),
        suppressed=made.dropped,
        blanked=made.blanked,
        merged=merged,
        recoded=made.levels,
        columns=wanted,
        warnings=made.warnings,
    )


def _text(value: Any) -> str:
    """A cell: a select_multiple answer as its codes separated by spaces, blank as ""."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)
