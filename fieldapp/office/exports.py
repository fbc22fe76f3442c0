"""Exports of what the office may see (records' statistical fields, as the server's office API
lists them): CSV, XLSX and the HTCDS shape, written while the records stream in, one page at
a time, never all of them in memory.

- One table for the form and one per repeat group (nested ones too), joined as ODK Central
  does: a record's `KEY` is its id, a repeat row has `PARENT_KEY` (its record's id, or its
  parent instance's key) and its own `KEY` (`<record id>/<repeat>[<n>]`, n from 1).
  XLSX: a sheet each; CSV: the form's file at the path given, each repeat's beside it
  (`<stem>-<repeat>.csv`).
- Every record the office lists, those it merged into another as the same person too, with
  `duplicate_of` naming the record kept (blank for the others): count people by leaving out
  the rows where it is set, as the reports do.
- Codes (values and field names) or, with a language, labels in that language.
- `select_multiple`: the chosen values in one column, then one 0/1 column per choice
  (`field/choice`), as Kobo's default "both".
- Formula injection: a text cell starting with `=`, `+`, `-`, `@` (or a tab or carriage
  return, which spreadsheets skip) is written as text: XLSX stores it as a string, never a
  formula; CSV prefixes it with `'` (OWASP's advice), so no spreadsheet evaluates it.
- HTCDS: one CSV row per record with the form's HTCDS field names as columns
  (`fieldapp.office.htcds`); only statistical fields are exported, so mapped sensitive fields
  (names, date of birth) are absent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes
from fieldapp.office.htcds import to_htcds

__all__ = [
    "ExportError",
    "ExportFormat",
    "ExportResult",
    "ExportedRecord",
    "export_records",
    "open_csv",
    "safe_text",
]

ExportFormat = Literal["csv", "xlsx", "htcds"]
_RISKY_START = ("=", "+", "-", "@", "\t", "\r")
# Excel's limit on a sheet name's length and the characters it refuses in one.
_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = set("[]:*?/\\")
# `duplicate_of`: the record the office merged this one into as the same person (blank for
# most): the row stays (an export hides no record), and a spreadsheet counts people with it.
META_COLUMNS = (
    "KEY", "form_version", "region", "device_id", "received_at", "review_state", "duplicate_of",
)  # fmt: skip


class ExportError(FieldappError):
    """The export cannot be written as asked (a language the form lacks, a bad path)."""


@dataclass(frozen=True)
class ExportedRecord:
    """What an export needs of one record (an office API record, decoupled from the wire)."""

    id: str
    form_version: str
    region: str | None
    device_id: str
    received_at: str
    review_state: str
    stats: Mapping[str, Any]
    duplicate_of: str | None = None  # merged by the office into this record (same person)

    @classmethod
    def of(cls, record: Any) -> ExportedRecord:
        """From an office API record (`sync.protocol.OfficeRecord`)."""
        return cls(
            id=str(record.id),
            form_version=record.form_version,
            region=record.region,
            device_id=record.device_id,
            received_at=record.received_at.isoformat(),
            review_state=record.review_state,
            stats=record.stats,
            duplicate_of=None if record.duplicate_of is None else str(record.duplicate_of),
        )


@dataclass
class ExportResult:
    """Rows written per table (the form's first, then each repeat's), and the files."""

    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def open_csv(path: Path) -> TextIO:
    """A CSV file opened for writing (UTF-8 with a BOM, which Excel needs to read accents);
    ExportError naming `out` if it cannot be."""
    try:
        return path.open("w", newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ExportError(f"out: cannot write {path}: {exc.strerror}") from None


def safe_text(value: str) -> str:
    """A text cell for CSV that no spreadsheet evaluates as a formula."""
    return "'" + value if value.startswith(_RISKY_START) else value


@dataclass(frozen=True)
class _Column:
    header: str
    read: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class _Table:
    name: str  # "" for the form's own table, else the repeat's name
    path: tuple[str, ...]  # repeat names from the record down to this one
    columns: list[_Column]


class _Sink(Protocol):
    def row(self, table: str, values: list[Any]) -> None: ...


def export_records(
    spec: FormSpec,
    records: Iterable[ExportedRecord],
    out: Path,
    fmt: ExportFormat,
    *,
    labels: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write `records` (of `spec`, in the order given) to `out` as `fmt`; codes unless
    `labels` names a language of the form. `on_progress` gets the records written so far."""
    if labels is not None and labels not in spec.languages:
        raise ExportError(
            f"labels: the form {spec.id!r} has no language {labels!r}"
            f" (it has {', '.join(spec.languages)})"
        )
    if fmt == "htcds":
        return _export_htcds(spec, records, out, on_progress)
    tables = list(_tables(spec, labels))
    result = ExportResult(rows={t.name or spec.id: 0 for t in tables})
    with ExitStack() as stack:
        sink: _Sink
        if fmt == "csv":
            sink = _CsvSink(stack, out, spec.id, tables, result)
        elif fmt == "xlsx":
            sink = _XlsxSink(stack, out, spec.id, tables, result)
        else:
            raise ExportError(f"format: {fmt!r} is not csv, xlsx or htcds")
        for written, record in enumerate(records, start=1):
            _write_record(sink, tables, record, result, spec.id)
            if on_progress is not None and written % 500 == 0:
                on_progress(written)
    return result


def _write_record(
    sink: _Sink, tables: list[_Table], record: ExportedRecord, result: ExportResult, form: str
) -> None:
    meta = {
        "KEY": record.id,
        "form_version": record.form_version,
        "region": record.region,
        "device_id": record.device_id,
        "received_at": record.received_at,
        "review_state": record.review_state,
        "duplicate_of": record.duplicate_of,
    }
    for table in tables:
        name = table.name or form
        for row in _rows_of(table, record.id, record.stats, meta):
            sink.row(name, [column.read(row) for column in table.columns])
            result.rows[name] += 1


def _rows_of(
    table: _Table, record_id: str, stats: Mapping[str, Any], meta: Mapping[str, Any]
) -> Iterator[Mapping[str, Any]]:
    """The rows of one table for one record: the record itself, or the instances of the
    repeat at `table.path`, each with its `KEY` and `PARENT_KEY`."""
    if not table.path:
        yield {**stats, **meta}
        return
    level: list[tuple[str, Mapping[str, Any]]] = [(record_id, stats)]
    for name in table.path:
        below = []
        for parent_key, parent in level:
            instances = parent.get(name)
            if not isinstance(instances, list):
                continue
            for n, instance in enumerate(instances, start=1):
                if isinstance(instance, Mapping):
                    below.append((f"{parent_key}/{name}[{n}]", instance))
        level = [(key, {**inst, "PARENT_KEY": key.rsplit("/", 1)[0]}) for key, inst in below]
    for key, instance in level:
        yield {**instance, "KEY": key}


def _tables(spec: FormSpec, labels: str | None) -> Iterator[_Table]:
    meta = [_Column(name, _reader(name)) for name in META_COLUMNS]
    yield _Table("", (), meta + _field_columns(spec, spec.children, labels))
    yield from _repeat_tables(spec, spec.children, (), labels)


def _repeat_tables(
    spec: FormSpec, nodes: list[Node], path: tuple[str, ...], labels: str | None
) -> Iterator[_Table]:
    for node in answer_nodes(nodes):
        if not isinstance(node, RepeatSpec):
            continue
        columns = [_Column("PARENT_KEY", _reader("PARENT_KEY")), _Column("KEY", _reader("KEY"))]
        columns += _field_columns(spec, node.children, labels)
        yield _Table(node.name, (*path, node.name), columns)
        yield from _repeat_tables(spec, node.children, (*path, node.name), labels)


def _field_columns(spec: FormSpec, nodes: list[Node], labels: str | None) -> list[_Column]:
    """The statistical fields of one level (the office never sees the others)."""
    columns: list[_Column] = []
    for node in answer_nodes(nodes):
        if not isinstance(node, FieldSpec) or node.sensitivity != "statistical":
            continue
        if node.type == "note":
            continue
        header = _label(node.label, labels) or node.name if labels else node.name
        choices = spec.choices.get(node.choices or "", [])
        names = {c.value: (_label(c.label, labels) or c.value) if labels else c.value
                 for c in choices}  # fmt: skip
        if node.type == "select_one":
            columns.append(_Column(header, _choice_reader(node.name, names)))
        elif node.type == "select_multiple":
            columns.append(_Column(header, _multiple_reader(node.name, names)))
            for choice in choices:
                columns.append(
                    _Column(f"{header}/{names[choice.value]}", _ticked(node.name, choice.value))
                )
        else:
            columns.append(_Column(header, _reader(node.name)))
    return columns


def _label(texts: Mapping[str, str], lang: str | None) -> str | None:
    return texts.get(lang or "") if texts else None


def _reader(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def _choice_reader(name: str, names: Mapping[str, str]) -> Callable[[Mapping[str, Any]], Any]:
    def read(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        return names.get(value, value) if isinstance(value, str) else value

    return read


def _multiple_reader(name: str, names: Mapping[str, str]) -> Callable[[Mapping[str, Any]], Any]:
    def read(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        if not isinstance(value, list):
            return value
        return " ".join(names.get(v, str(v)) for v in value)

    return read


def _ticked(name: str, choice: str) -> Callable[[Mapping[str, Any]], Any]:
    def read(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        if not isinstance(value, list):
            return None
        return 1 if choice in value else 0

    return read


def _cell(value: Any) -> Any:
    """A value as a cell: text, number or empty; lists and dicts as their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return int(value) if isinstance(value, bool) else value
    return str(value)


class _CsvSink:
    def __init__(
        self, stack: ExitStack, out: Path, form: str, tables: list[_Table], result: ExportResult
    ) -> None:
        self._writers: dict[str, Any] = {}
        for table in tables:
            path = out if not table.name else out.with_name(f"{out.stem}-{table.name}.csv")
            handle = stack.enter_context(open_csv(path))
            result.files.append(path)
            writer = csv.writer(handle)
            writer.writerow([safe_text(c.header) for c in table.columns])
            self._writers[table.name or form] = writer

    def row(self, table: str, values: list[Any]) -> None:
        cells = [_cell(v) for v in values]
        self._writers[table].writerow([safe_text(c) if isinstance(c, str) else c for c in cells])


class _XlsxSink:
    def __init__(
        self, stack: ExitStack, out: Path, form: str, tables: list[_Table], result: ExportResult
    ) -> None:
        import xlsxwriter

        # constant_memory: each row goes to a temporary file once the next one starts, so an
        # export of any size holds one row per sheet in memory.
        workbook = xlsxwriter.Workbook(
            str(out), {"constant_memory": True, "strings_to_formulas": False}
        )
        stack.callback(self._close, workbook, out)
        result.files.append(out)
        self._sheets: dict[str, Any] = {}
        self._next_row: dict[str, int] = {}
        used: set[str] = set()
        for table in tables:
            key = table.name or form
            sheet = workbook.add_worksheet(_sheet_name(key, used))
            for col, column in enumerate(table.columns):
                sheet.write_string(0, col, column.header)
            self._sheets[key] = sheet
            self._next_row[key] = 1

    @staticmethod
    def _close(workbook: Any, out: Path) -> None:
        try:
            workbook.close()
        except OSError as exc:
            raise ExportError(f"out: cannot write {out}: {exc.strerror}") from None

    def row(self, table: str, values: list[Any]) -> None:
        sheet, row = self._sheets[table], self._next_row[table]
        for col, value in enumerate(values):
            cell = _cell(value)
            if cell is None:
                continue
            if isinstance(cell, str):
                sheet.write_string(row, col, cell)  # text, never a formula
            else:
                sheet.write_number(row, col, cell)
        self._next_row[table] = row + 1


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("_" if ch in _SHEET_FORBIDDEN else ch for ch in name)[:_SHEET_NAME_MAX]
    candidate, n = clean or "sheet", 2
    while candidate.lower() in used:
        suffix = f"~{n}"
        candidate, n = clean[: _SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def _export_htcds(
    spec: FormSpec,
    records: Iterable[ExportedRecord],
    out: Path,
    on_progress: Callable[[int], None] | None,
) -> ExportResult:
    mapped = [
        node.htcds
        for node in answer_nodes(spec.children)
        if isinstance(node, FieldSpec) and node.htcds and node.sensitivity == "statistical"
    ]
    if not mapped:
        raise ExportError(f"format: the form {spec.id!r} maps no statistical field to HTCDS")
    result = ExportResult(rows={"htcds": 0}, files=[out])
    with open_csv(out) as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", *mapped])
        for written, record in enumerate(records, start=1):
            values = to_htcds(spec, record.stats)
            cells = [record.id, *(_cell(values.get(name)) for name in mapped)]
            writer.writerow([safe_text(c) if isinstance(c, str) else c for c in cells])
            result.rows["htcds"] += 1
            if on_progress is not None and written % 500 == 0:
                on_progress(written)
    return result
