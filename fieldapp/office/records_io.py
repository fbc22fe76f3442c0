"""Importing records from a spreadsheet (CSV or XLSX): people arrive with participant lists.

An import is all or nothing. The file is checked against the limits of
`fieldapp.office.spreadsheets` as it is read, then every row is validated against the form,
every problem reported by row number, field and problem; only if there is none are all rows
saved, in one transaction. A failure anywhere (a bad row, a full disk) saves nothing, so
running the import again after fixing it saves each row once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes
from fieldapp.forms.validate import check
from fieldapp.office.records_media import PendingFile, read_row_files, save_with_files
from fieldapp.office.spreadsheets import (
    MAX_CELL_CHARS,
    MAX_ROWS,
    Reading,
    SpreadsheetError,
    SpreadsheetTooLarge,
    check_file,
)
from fieldapp.store import Store

__all__ = ["ImportReport", "RowError", "SpreadsheetError", "import_records", "read_rows"]


class RowError(BaseModel):
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class ImportReport(BaseModel):
    """What an import did: `saved` and `rows_saved` stay empty while `errors` has any."""

    saved: list[str] = Field(default_factory=list)  # record ids (or the event record, once)
    rows_saved: int = 0
    errors: list[RowError] = Field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {header: text}) for every non-empty row after the header.

    Raises SpreadsheetError if the file cannot be read, SpreadsheetTooLarge at the first
    limit it breaks (see `fieldapp.office.spreadsheets`).
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise SpreadsheetError(f"{path.name}: expected a .csv or .xlsx file")
    check_file(path)
    reading = Reading(path)
    grid = _csv_grid(path, reading) if suffix == ".csv" else _xlsx_grid(path, reading)
    header: list[str] | None = None
    for number, cells in grid:
        if header is None:
            header = [str(h or "").strip() for h in cells]
            if not any(header):
                raise SpreadsheetError(f"{path.name}: the first row must name the columns")
            continue
        row = {h: c.strip() for h, c in zip(header, cells, strict=False) if h and c is not None}
        if any(row.values()):
            yield number, row
    if header is None:
        raise SpreadsheetError(f"{path.name}: the first row must name the columns")


def _csv_grid(path: Path, reading: Reading) -> Iterator[tuple[int, list[str | None]]]:
    """The CSV's non-empty rows; the csv module's own refusals become messages."""
    sheet = reading.sheet(None, MAX_ROWS)
    number = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for number, cells in enumerate(csv.reader(handle), start=1):
                values = sheet.row(number, cells)
                if values:
                    yield number, values
    except UnicodeDecodeError as exc:
        raise SpreadsheetError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv.field_size_limit(), 128 KiB
            raise SpreadsheetTooLarge(
                path,
                f"a cell holds more than {csv.field_size_limit():,} characters; the limit is"
                f" {MAX_CELL_CHARS:,}",
                row=number + 1,
            ) from None
        raise SpreadsheetError(f"{path.name} row {number + 1}: {exc}") from None


def _xlsx_grid(path: Path, reading: Reading) -> Iterator[tuple[int, list[str | None]]]:
    """The first worksheet's non-empty rows, as text."""
    try:
        from openpyxl import load_workbook  # coordinator/server extra, not in the mobile app
    except ImportError:
        raise SpreadsheetError(
            "reading .xlsx needs openpyxl: pip install 'fieldapp[server]'"
        ) from None
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = workbook.worksheets[0]
        sheet = reading.sheet(worksheet.title, MAX_ROWS)
        # Trust the rows actually stored, not the declared size (often "to the end").
        worksheet.reset_dimensions()
        # Closed here, even when a limit stops the reading: it holds the file open.
        with closing(worksheet.iter_rows(values_only=True)) as rows:
            for number, cells in enumerate(rows, start=1):
                values = sheet.row(number, [None if c is None else _cell_text(c) for c in cells])
                if values:
                    yield number, values
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
    """Import every row as a final record, or (`into`) as entries of a record's repeat group:
    all rows or, if any has a problem, none (`errors` lists every problem of every row).

    Raises SpreadsheetError (SpreadsheetTooLarge) for a file that cannot be read, and
    StorageFull if the device's storage fills up: nothing is saved either way.
    """
    if into is not None:
        return _import_into(store, into, path, repeat, lang)
    spec = store.forms.get(form_id)
    columns = _columns(spec, spec.children)
    fields = {node.name: node for node in spec.fields()}
    report = ImportReport()
    answers_by_row: list[tuple[dict[str, Any], dict[str, PendingFile]]] = []
    for number, row in list(read_rows(path)):  # the whole file within its limits, first
        row_errors: list[RowError] = []
        answers = _answers(number, row, columns, row_errors)
        files, problems = read_row_files(answers, fields, path.parent)
        row_errors += [RowError(row=number, field=f, message=m) for f, m in problems.items()]
        if not row_errors:
            row_errors = [
                RowError(row=number, field=e.path, message=e.message)
                for e in store.records.check_final(form_id, answers, lang=lang).errors
            ]
        report.errors += row_errors
        answers_by_row.append((answers, files))
    if report.errors:
        return report
    with store.batch():  # one durable commit: every row, or none
        saved = [
            save_with_files(store, form_id, answers, files, lang)
            for answers, files in answers_by_row
        ]
    report.saved, report.rows_saved = saved, len(saved)
    return report


def _import_into(
    store: Store, record_id: str, path: Path, repeat: str | None, lang: str
) -> ImportReport:
    """Append rows to a repeat (participants of a training event) in one durable save: all
    rows or, if any has a problem, none."""
    record = store.records.get(record_id)
    spec = store.forms.get(record.form_id, record.form_version)
    group = _pick_repeat(spec, repeat)
    columns = _columns(spec, group.children)
    values = dict(record.values)
    instances = list(values.get(group.name) or [])
    before = len(instances)
    report = ImportReport()
    for number, row in list(read_rows(path)):  # the whole file within its limits, first
        row_errors: list[RowError] = []
        answers = _answers(number, row, columns, row_errors)
        candidate = {**values, group.name: [*instances, answers]}
        prefix = f"{group.name}[{len(instances)}]."
        row_errors += [
            RowError(row=number, field=e.path.removeprefix(prefix), message=e.message)
            for e in check(spec, candidate, lang=lang, partial=record.status == "draft").errors
            if e.path.startswith(prefix)
        ]
        report.errors += row_errors
        if not row_errors:
            instances.append(answers)
    if report.errors or len(instances) == before:
        return report
    values[group.name] = instances
    if record.status == "draft":
        store.records.save_draft(record_id, values)
    else:
        store.records.finalise(record_id, values, lang=lang)
    report.saved, report.rows_saved = [record_id], len(instances) - before
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
