"""Importing records from a spreadsheet (CSV or XLSX): people arrive with participant lists.

Each row is validated against the form; invalid rows are reported by row number, field and
problem, valid rows are saved as final records, and a row is never half-saved.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes
from fieldapp.forms.validate import check
from fieldapp.store import Store, ValidationFailed

__all__ = ["ImportReport", "RowError", "SpreadsheetError", "import_records", "read_rows"]


class SpreadsheetError(FieldappError):
    """The file cannot be read as a table of answers."""


class RowError(BaseModel):
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class ImportReport(BaseModel):
    saved: list[str] = Field(default_factory=list)  # record ids (or the event record, once)
    rows_saved: int = 0
    errors: list[RowError] = Field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {header: text}) for every non-empty row after the header."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
    else:
        raise SpreadsheetError(f"{path.name}: expected a .csv or .xlsx file")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise SpreadsheetError(f"{path.name}: the first row must name the columns")
        for number, cells in enumerate(reader, start=2):
            row = {h.strip(): c.strip() for h, c in zip(header, cells, strict=False) if h.strip()}
            if any(row.values()):
                yield number, row


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        from openpyxl import load_workbook  # coordinator/server extra, not in the mobile app
    except ImportError:
        raise SpreadsheetError(
            "reading .xlsx needs openpyxl: pip install 'fieldapp[server]'"
        ) from None
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        if not any(header):
            raise SpreadsheetError(f"{path.name}: the first row must name the columns")
        for number, cells in enumerate(rows, start=2):
            row = {
                h: _cell_text(c) for h, c in zip(header, cells, strict=False) if h and c is not None
            }
            if any(row.values()):
                yield number, row
    finally:
        workbook.close()


def _cell_text(cell: Any) -> str:
    if hasattr(cell, "date") and hasattr(cell, "hour"):
        return str(cell.date().isoformat() if not (cell.hour or cell.minute) else cell.isoformat())
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _columns(spec: FormSpec, nodes: list[Node]) -> dict[str, FieldSpec]:
    """Header text (field name, or its label in any language, case-insensitive) -> field."""
    columns: dict[str, FieldSpec] = {}
    for node in answer_nodes(nodes):
        if isinstance(node, FieldSpec) and node.holds_value and node.type != "calculate":
            columns[node.name.lower()] = node
            for label in node.label.values():
                columns.setdefault(label.strip().lower(), node)
    return columns


def _answers(
    number: int, row: Mapping[str, str], columns: Mapping[str, FieldSpec], errors: list[RowError]
) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for header, text in row.items():
        field = columns.get(header.lower())
        if field is None:
            errors.append(RowError(row=number, field=header, message=f"unknown column '{header}'"))
        elif text != "":
            answers[field.name] = text
    return answers


def import_records(
    store: Store,
    form_id: str,
    path: Path,
    *,
    into: str | None = None,
    repeat: str | None = None,
    lang: str = "en",
) -> ImportReport:
    """Import every row as a final record, or (`into`) as entries of a record's repeat group."""
    if into is not None:
        return _import_into(store, into, path, repeat, lang)
    spec = store.forms.get(form_id)
    columns = _columns(spec, spec.children)
    report = ImportReport()
    for number, row in read_rows(path):
        row_errors: list[RowError] = []
        answers = _answers(number, row, columns, row_errors)
        if row_errors:
            report.errors += row_errors
            continue
        try:
            record = store.records.create_final(form_id, answers, lang=lang)
        except ValidationFailed as failure:
            report.errors += [
                RowError(row=number, field=e.path, message=e.message) for e in failure.errors
            ]
            continue
        report.saved.append(record.id)
        report.rows_saved += 1
    return report


def _import_into(
    store: Store, record_id: str, path: Path, repeat: str | None, lang: str
) -> ImportReport:
    """Append rows to a repeat (participants of a training event) in one durable save."""
    record = store.records.get(record_id)
    spec = store.forms.get(record.form_id, record.form_version)
    group = _pick_repeat(spec, repeat)
    columns = _columns(spec, group.children)
    values = dict(record.values)
    instances = list(values.get(group.name) or [])
    report = ImportReport()
    for number, row in read_rows(path):
        row_errors: list[RowError] = []
        answers = _answers(number, row, columns, row_errors)
        candidate = {**values, group.name: [*instances, answers]}
        prefix = f"{group.name}[{len(instances)}]."
        row_errors += [
            RowError(row=number, field=e.path.removeprefix(prefix), message=e.message)
            for e in check(spec, candidate, lang=lang, partial=record.status == "draft").errors
            if e.path.startswith(prefix)
        ]
        if row_errors:
            report.errors += row_errors
        else:
            instances.append(answers)
            report.rows_saved += 1
    if report.rows_saved:
        values[group.name] = instances
        if record.status == "draft":
            store.records.save_draft(record_id, values)
        else:
            store.records.finalise(record_id, values, lang=lang)
        report.saved.append(record_id)
    return report


def _pick_repeat(spec: FormSpec, name: str | None) -> RepeatSpec:
    repeats = [n for n in spec.walk() if isinstance(n, RepeatSpec)]
    if name is not None:
        repeats = [r for r in repeats if r.name == name]
    if len(repeats) != 1:
        known = ", ".join(r.name for r in spec.walk() if isinstance(r, RepeatSpec)) or "none"
        raise SpreadsheetError(
            f"form {spec.id}: name the repeat group to import into with --repeat ({known})"
        )
    return repeats[0]
