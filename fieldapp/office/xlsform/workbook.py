"""Reading the workbook cell by cell (.xlsx and .xlsm by openpyxl, .xls by xlrd, imported
inside the functions), so row numbers are exact; and what each column header means."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fieldapp.office.xlsform.problems import XLSFormError, file_problem

_XLSFORM_SHEETS = ("survey", "choices", "settings")
# Sheets of XLSForm features the engine has no counterpart for.
UNSUPPORTED_SHEETS = {
    "external_choices": "external choice lists (select_one_external)",
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


_Grid = dict[
    int, list[str | None]
]  # spreadsheet row number -> cell texts (blank rows may be absent)


def read_workbook(path: Path) -> dict[str, Sheet]:
    """Every XLSForm sheet of the workbook, keyed by its lower-case name."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls"):
        raise XLSFormError([file_problem(f"{path.name}: not an .xlsx, .xlsm or .xls workbook")])
    try:
        with warnings.catch_warnings():
            # openpyxl warns about Excel extensions it drops (data validation...): not ours.
            warnings.simplefilter("ignore")
            raw = _read_xls(path) if suffix == ".xls" else _read_xlsx(path)
    except Exception as exc:  # any failure to read is the file's fault, never a crash
        raise XLSFormError([file_problem(f"cannot read {path.name}: {exc}")]) from exc
    if len(raw) == 1 and next(iter(raw)).lower() not in _XLSFORM_SHEETS:
        raw = {"survey": next(iter(raw.values()))}  # pyxform reads a lone sheet as the survey
    sheets: dict[str, Sheet] = {}
    for title, grid in raw.items():
        name = title.lower()
        if name in _XLSFORM_SHEETS or name in UNSUPPORTED_SHEETS:
            sheets[name] = _to_sheet(name, grid)
    return sheets


def _read_xlsx(path: Path) -> dict[str, _Grid]:
    from openpyxl import load_workbook
    from pyxform.xls2json_backends import xlsx_value_to_str

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        grids = {}
        for ws in book.worksheets:
            # Trust the rows actually stored, not the declared size: sheets formatted "to the
            # end" claim 1,048,576 rows by 1,024 columns.
            ws.reset_dimensions()
            grids[ws.title] = {
                number: [None if v is None else xlsx_value_to_str(v) for v in row]
                for number, row in enumerate(ws.iter_rows(values_only=True), start=1)
                if any(v is not None for v in row)
            }
        return grids
    finally:
        book.close()


def _read_xls(path: Path) -> dict[str, _Grid]:
    import xlrd
    from pyxform.xls2json_backends import xls_value_to_unicode

    book = xlrd.open_workbook(path)
    empty = (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK)
    try:
        return {
            ws.name: {
                number + 1: [
                    None
                    if c.ctype in empty
                    else xls_value_to_unicode(c.value, c.ctype, book.datemode)
                    for c in ws.row(number)
                ]
                for number in range(ws.nrows)
            }
            for ws in book.sheets()
        }
    finally:
        book.release_resources()


def _to_sheet(name: str, grid: _Grid) -> Sheet:
    columns = [_parse_header(" ".join((h or "").split())) for h in grid.get(1, [])]
    rows = []
    for number, values in grid.items():
        cells = {}
        for column, value in zip(columns, values, strict=False):
            text = (value or "").replace("\xa0", " ").strip()
            if column.header and text:
                cells[column] = text
        if cells and number > 1:
            rows.append(Row(number, cells))
    return Sheet(name, columns, rows)


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
    """`English (en)` -> `en`; `Français` -> `fr`; unknown names -> the name in lower case."""
    match = _LANGUAGE_CODE.search(name)
    if match:
        return match.group(1)
    return _LANGUAGE_NAMES.get(name.strip().lower(), name.strip().lower())
