"""Reading the workbook cell by cell (.xlsx and .xlsm by openpyxl, .xls by xlrd, imported
inside the functions), so row numbers are exact; and what each column header means."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from fieldapp.office.spreadsheets import (
    MAX_CHOICES,
    MAX_QUESTIONS,
    MAX_ROWS,
    Reading,
    SheetReading,
    SpreadsheetError,
    SpreadsheetTooLarge,
    check_file,
)
from fieldapp.office.xlsform.problems import ImportProblem, XLSFormError, file_problem

_XLSFORM_SHEETS = ("survey", "choices", "settings", "external_choices")
# Sheets of XLSForm features the engine has no counterpart for.
UNSUPPORTED_SHEETS = {
    "entities": "entities (ODK Central datasets)",
    "osm": "OpenStreetMap tags",
}


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    language: str | None


@dataclass
class Row:
    number: int
    cells: dict[Column, str]

    def text(self, key: str) -> str:
        return next((v for c, v in self.cells.items() if c.key == key and not c.language), "")

    def column(self, key: str) -> str:
        return next((c.header for c in self.cells if c.key == key), key)

    def translations(self, key: str) -> Iterator[tuple[Column, str]]:
        return ((c, v) for c, v in self.cells.items() if c.key == key)


@dataclass
class Sheet:
    name: str
    columns: list[Column]
    rows: list[Row]
    # row -> (first, last) column numbers of values past the last header: no data, left out
    ignored: dict[int, tuple[int, int]] = field(default_factory=dict)


_Grid = dict[
    int, list[str | None]
]  # spreadsheet row number -> cell texts (blank rows may be absent)


def read_workbook(path: Path) -> dict[str, Sheet]:
    """Every XLSForm sheet of the workbook, keyed by its lower-case name; the file is checked
    against the limits of `fieldapp.office.spreadsheets` before it is opened, and its rows as
    they are read, so a zip bomb or a form of 100,000 questions is refused at once."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls"):
        raise XLSFormError([file_problem(f"{path.name}: not an .xlsx, .xlsm or .xls workbook")])
    try:
        check_file(path)
        with warnings.catch_warnings():
            # openpyxl warns about Excel extensions it drops (data validation...): not ours.
            warnings.simplefilter("ignore")
            raw = _read_xls(path) if suffix == ".xls" else _read_xlsx(path)
    except SpreadsheetTooLarge as exc:
        sheet = (exc.sheet or "file").lower()
        message = f"{path.name}: {exc.problem}"
        raise XLSFormError(
            [ImportProblem(sheet=sheet, row=exc.row, feature="limit", message=message)]
        ) from exc
    except SpreadsheetError as exc:
        raise XLSFormError([file_problem(str(exc))]) from exc
    except Exception as exc:  # any failure to read is the file's fault, never a crash
        raise XLSFormError([file_problem(f"cannot read {path.name}: {exc}")]) from exc
    return {name: _to_sheet(name, *grid) for name, grid in raw.items()}


def _wanted(titles: list[str]) -> dict[str, tuple[str, int, str]]:
    """The sheets to read: title -> (its XLSForm name, the limit of its rows, what they are).
    The XLSForm sheets and those of unsupported features; others are skipped, but a lone
    sheet is the survey (as pyxform reads it)."""
    if len(titles) == 1 and titles[0].lower() not in _XLSFORM_SHEETS:
        return {titles[0]: ("survey", MAX_QUESTIONS, "questions")}
    limits = {"survey": (MAX_QUESTIONS, "questions"), "choices": (MAX_CHOICES, "choices")}
    return {
        title: (title.lower(), *limits.get(title.lower(), (MAX_ROWS, "rows")))
        for title in titles
        if title.lower() in _XLSFORM_SHEETS or title.lower() in UNSUPPORTED_SHEETS
    }


def _grid(
    sheet: SheetReading, rows: Iterable[list[str | None]]
) -> tuple[_Grid, dict[int, tuple[int, int]]]:
    """Rows numbered from 1, each checked against the limits as it is read (so reading stops
    at the first row past one); empty rows are left out, and so are values past the header
    (pyxform reads none), noted by row."""
    grid = {}
    for number, values in enumerate(rows, start=1):
        if kept := sheet.row(number, values):
            grid[number] = kept
    return grid, sheet.ignored


def _read_xlsx(path: Path) -> dict[str, tuple[_Grid, dict[int, tuple[int, int]]]]:
    from openpyxl import load_workbook
    from pyxform.xls2json_backends import xlsx_value_to_str

    book = load_workbook(path, read_only=True, data_only=True)
    reading = Reading(path)
    try:
        grids = {}
        for title, (name, limit, what) in _wanted(book.sheetnames).items():
            ws = book[title]
            # Trust the rows actually stored, not the declared size: sheets formatted "to the
            # end" claim 1,048,576 rows by 1,024 columns.
            ws.reset_dimensions()
            # Closed here, even when a limit stops the reading: it holds the file open.
            with closing(ws.iter_rows(values_only=True)) as rows:
                texts = ([None if v is None else xlsx_value_to_str(v) for v in row] for row in rows)
                grids[name] = _grid(reading.sheet(name, limit, what, headed=True), texts)
        return grids
    finally:
        book.close()


def _read_xls(path: Path) -> dict[str, tuple[_Grid, dict[int, tuple[int, int]]]]:
    import xlrd
    from pyxform.xls2json_backends import xls_value_to_unicode

    book = xlrd.open_workbook(path)
    reading = Reading(path)
    empty = (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK)
    try:
        grids = {}
        for title, (name, limit, what) in _wanted(book.sheet_names()).items():
            ws = book.sheet_by_name(title)
            rows = (
                [
                    None
                    if c.ctype in empty
                    else xls_value_to_unicode(c.value, c.ctype, book.datemode)
                    for c in ws.row(number)
                ]
                for number in range(ws.nrows)
            )
            grids[name] = _grid(reading.sheet(name, limit, what, headed=True), rows)
        return grids
    finally:
        book.release_resources()


_SPACES = re.compile(r" {2,}")


def _to_sheet(name: str, grid: _Grid, ignored: dict[int, tuple[int, int]]) -> Sheet:
    columns = [_parse_header(" ".join((h or "").split())) for h in grid.get(1, [])]
    rows = []
    for number, values in grid.items():
        cells = {}
        for column, value in zip(columns, values, strict=False):
            text = (value or "").replace("\xa0", " ")
            if name == "survey":  # runs of spaces are one there only, as pyxform reads them
                text = _SPACES.sub(" ", text)  # (line breaks are kept)
            text = text.strip()
            if column.header and text:
                cells[column] = text
        if cells and number > 1:
            rows.append(Row(number, cells))
    return Sheet(name, columns, rows, ignored)


# -- headers ------------------------------------------------------------------------------------

# Spellings of one column (pyxform's aliases, XLSForm's old `bind:` / `jr:` forms).
_ALIASES = {
    "command": "type",
    "value": "name",
    "list name": "list_name",
    "caption": "label",
    "relevance": "relevant",
    "calculate": "calculation",
    "readonly": "read_only",
    "read only": "read_only",
    "constraint message": "constraint_message",
    "constraining_message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "jr:constraint_msg": "constraint_message",
    "requiredmsg": "required_message",
    "jr:requiredmsg": "required_message",
    "required message": "required_message",
    "count": "repeat_count",
    "jr:count": "repeat_count",
    "big_image": "big-image",
    "choice filter": "choice_filter",
}
_PREFIXES = ("bind::", "bind:", "control::", "control:", "body::", "body:", "fieldapp::")
_MEDIA_PREFIXES = ("media::", "media:")
MEDIA = frozenset({"image", "big-image", "audio", "video"})
TRANSLATABLE = frozenset(
    {"label", "hint", "guidance_hint", "constraint_message", "required_message", *MEDIA}
)


def _canonical(text: str) -> str:
    key = text.strip().lower()
    return _ALIASES.get(key, key)


def _parse_header(header: str) -> Column:
    """`label::Français (fr)` -> key `label`, language `Français (fr)`."""
    rest = header
    for prefix in (*_PREFIXES, *_MEDIA_PREFIXES):
        if rest.lower().startswith(prefix):
            rest = rest[len(prefix) :]
            break
    key = _canonical(rest)
    if key in _ALIASES.values() or key in TRANSLATABLE or ":" not in rest:
        return Column(header, key, None)
    for separator in ("::", ":"):
        base, found, language = rest.partition(separator)
        if found and _canonical(base) in TRANSLATABLE and language.strip():
            return Column(header, _canonical(base), language.strip())
    return Column(header, key, None)


_LANGUAGE_CODE = re.compile(r"\(\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)\s*\)\s*$")
_LANGUAGE_NAMES = {
    "english": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "arabic": "ar",
    "العربية": "ar",
    "portuguese": "pt",
    "português": "pt",
    "portugues": "pt",
}


def language_code(name: str) -> str:
    """`English (en)` and `English (EN)` -> `en`; `Français` -> `fr`; `pt-BR` keeps its region;
    unknown names -> the name in lower case."""
    match = _LANGUAGE_CODE.search(name)
    if match:
        primary, _, region = match.group(1).partition("-")
        return primary.lower() + (f"-{region}" if region else "")
    return _LANGUAGE_NAMES.get(name.strip().lower(), name.strip().lower())
