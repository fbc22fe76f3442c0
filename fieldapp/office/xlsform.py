"""Import an XLSForm (.xlsx, .xlsm or .xls) as a `FormSpec`, refusing what the engine cannot honour.

A form that silently loses a constraint, a skip rule or a question would collect the wrong data
about people at risk, so every row using a feature the engine does not support becomes an
`ImportProblem` naming the sheet, the spreadsheet row (as Excel numbers it) and the feature.
All problems are collected, then raised together as one `XLSFormError`.

The workbook is untrusted: it is checked against the limits of `fieldapp.office.spreadsheets` (file
and zip sizes before it is opened, then rows, questions, choices and cells as they are read),
so a zip bomb or a form of 100,000 questions is refused at once, in bounded time and memory.

The sheets are read cell by cell here so row numbers are exact; pyxform's own conversion also
runs so its checks (bad names, malformed headers...) surface as problems too. pyxform, openpyxl
and xlrd belong to the `server` extra and are imported only inside functions; the phone build
ships neither them nor `fieldapp.office`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fieldapp.errors import FormError
from fieldapp.forms.expr import NAME_RE, ExpressionError, parse
from fieldapp.forms.spec import (
    MAX_DEPTH,
    METADATA_TYPES,
    Choice,
    FieldSpec,
    FormSpec,
    GroupSpec,
    Node,
    RepeatSpec,
    Statistics,
)
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

__all__ = ["ImportProblem", "XLSFormError", "import_xlsform"]


class ImportProblem(BaseModel):
    """One reason a workbook cannot be imported; `row` is the spreadsheet row number."""

    model_config = ConfigDict(frozen=True)

    sheet: str
    row: int | None = None
    column: str | None = None
    feature: str
    message: str

    def __str__(self) -> str:
        where = self.sheet if self.row is None else f"{self.sheet} row {self.row}"
        column = f" (column {self.column!r})" if self.column else ""
        return f"{where}: {self.message}{column}"


class XLSFormError(FormError):
    """The workbook cannot become a FormSpec; `problems` lists every reason, row by row."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def import_xlsform(
    path: Path, *, form_id: str | None = None, version: str | None = None
) -> FormSpec:
    """Convert the XLSForm at `path`; `form_id` and `version` override the settings sheet."""
    path = Path(path)
    sheets = _read_workbook(path)
    importer = _Importer(path, sheets)
    spec = importer.build(form_id, version)
    for problem in _pyxform_problems(path):
        if not importer.reported(problem.sheet, problem.row):
            importer.problems.append(problem)
    if importer.problems or spec is None:
        order = {"file": 0, "settings": 1, "survey": 2, "choices": 3}
        raise XLSFormError(
            sorted(importer.problems, key=lambda p: (order.get(p.sheet, 4), p.row or 0))
        )
    return spec


# -- reading ------------------------------------------------------------------------------------

_XLSFORM_SHEETS = ("survey", "choices", "settings")
# Sheets of XLSForm features the engine has no counterpart for.
_UNSUPPORTED_SHEETS = {
    "external_choices": "external choice lists (select_one_external)",
    "entities": "entities (ODK Central datasets)",
    "osm": "OpenStreetMap tags",
}


@dataclass(frozen=True)
class _Column:
    header: str
    key: str
    language: str | None


@dataclass
class _Row:
    number: int
    cells: dict[_Column, str]

    def text(self, key: str) -> str:
        return next((v for c, v in self.cells.items() if c.key == key and not c.language), "")

    def column(self, key: str) -> str:
        return next((c.header for c in self.cells if c.key == key), key)

    def translations(self, key: str) -> Iterator[tuple[_Column, str]]:
        return ((c, v) for c, v in self.cells.items() if c.key == key)


@dataclass
class _Sheet:
    name: str
    columns: list[_Column]
    rows: list[_Row]


_Grid = dict[
    int, list[str | None]
]  # spreadsheet row number -> cell texts (blank rows may be absent)


def _read_workbook(path: Path) -> dict[str, _Sheet]:
    """Every XLSForm sheet of the workbook, keyed by its lower-case name."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls"):
        raise XLSFormError([_file_problem(f"{path.name}: not an .xlsx, .xlsm or .xls workbook")])
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
        raise XLSFormError([_file_problem(str(exc))]) from exc
    except Exception as exc:  # any failure to read is the file's fault, never a crash
        raise XLSFormError([_file_problem(f"cannot read {path.name}: {exc}")]) from exc
    return {name: _to_sheet(name, grid) for name, grid in raw.items()}


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
        if title.lower() in _XLSFORM_SHEETS or title.lower() in _UNSUPPORTED_SHEETS
    }


def _grid(sheet: SheetReading, rows: Iterable[list[str | None]]) -> _Grid:
    """Rows numbered from 1, each checked against the limits as it is read (so reading stops
    at the first row past one); empty rows are left out."""
    grid = {}
    for number, values in enumerate(rows, start=1):
        if kept := sheet.row(number, values):
            grid[number] = kept
    return grid


def _read_xlsx(path: Path) -> dict[str, _Grid]:
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
                grids[name] = _grid(reading.sheet(name, limit, what), texts)
        return grids
    finally:
        book.close()


def _read_xls(path: Path) -> dict[str, _Grid]:
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
            grids[name] = _grid(reading.sheet(name, limit, what), rows)
        return grids
    finally:
        book.release_resources()


def _to_sheet(name: str, grid: _Grid) -> _Sheet:
    columns = [_parse_header(" ".join((h or "").split())) for h in grid.get(1, [])]
    rows = []
    for number, values in grid.items():
        cells = {}
        for column, value in zip(columns, values, strict=False):
            text = (value or "").replace("\xa0", " ").strip()
            if column.header and text:
                cells[column] = text
        if cells and number > 1:
            rows.append(_Row(number, cells))
    return _Sheet(name, columns, rows)


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
_MEDIA = frozenset({"image", "big-image", "audio", "video"})
_TRANSLATABLE = frozenset(
    {"label", "hint", "guidance_hint", "constraint_message", "required_message", *_MEDIA}
)


def _canonical(text: str) -> str:
    key = text.strip().lower()
    return _ALIASES.get(key, key)


def _parse_header(header: str) -> _Column:
    """`label::Français (fr)` -> key `label`, language `Français (fr)`."""
    rest = header
    for prefix in (*_PREFIXES, *_MEDIA_PREFIXES):
        if rest.lower().startswith(prefix):
            rest = rest[len(prefix) :]
            break
    key = _canonical(rest)
    if key in _ALIASES.values() or key in _TRANSLATABLE or ":" not in rest:
        return _Column(header, key, None)
    for separator in ("::", ":"):
        base, found, language = rest.partition(separator)
        if found and _canonical(base) in _TRANSLATABLE and language.strip():
            return _Column(header, _canonical(base), language.strip())
    return _Column(header, key, None)


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


def _language_code(name: str) -> str:
    """`English (en)` -> `en`; `Français` -> `fr`; unknown names -> the name in lower case."""
    match = _LANGUAGE_CODE.search(name)
    if match:
        return match.group(1)
    return _LANGUAGE_NAMES.get(name.strip().lower(), name.strip().lower())


# -- question types -----------------------------------------------------------------------------

_FIELD_TYPES = {
    "text": "text",
    "string": "text",
    "integer": "integer",
    "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "datetime": "datetime",
    "geopoint": "geopoint",
    "note": "note",
    "calculate": "calculate",
    "acknowledge": "boolean",
}
_BEGIN = {"begin group": "group", "begin_group": "group", "begin repeat": "repeat"}
_BEGIN["begin_repeat"] = "repeat"
_END = {"end group": "group", "end_group": "group", "end repeat": "repeat", "end_repeat": "repeat"}
_END |= {"end loop": "loop", "end_loop": "loop"}
_MEDIA_TYPES = frozenset(
    {"image", "photo", "audio", "video", "file", "barcode", "background-audio"}
    | {"add image prompt", "add photo prompt", "add audio prompt", "add video prompt"}
    | {"add file prompt", "add barcode prompt"}
)
_METADATA_TYPES = frozenset(
    {"start", "end", "today", "deviceid", "imei", "phonenumber", "phone number", "username"}
    | {"email", "simserial", "subscriberid", "audit", "start-geopoint", "background-geopoint"}
    | {"uri:deviceid", "uri:email", "uri:phonenumber", "uri:simserial", "uri:subscriberid"}
    | {"uri:username", "get start time", "get end time", "get today", "get device id"}
    | {"get phone number", "get sim id", "get subscriber id"}
)
_SELECT = re.compile(
    r"(?P<kind>select_one|select1|select one|select_multiple|select all that apply"
    r"|add select one prompt using|add select multiple prompt using)"
    r"(?:\s+from)?\s+(?P<list>\S+)(?P<rest>.*)",
    re.IGNORECASE,
)
_EXTERNAL_SELECT = re.compile(r"select[ _](one|multiple)([ _]from[ _]file|_external)\b", re.I)


@dataclass(frozen=True)
class _Type:
    """What a `type` cell means: a field, a group boundary, or an unsupported feature."""

    role: str  # "field", "begin", "end" or "unsupported"
    value: str  # FieldType, "group" / "repeat" / "loop", or the feature
    choices: str | None = None
    message: str = ""
    metadata: str | None = None


def _classify(type_text: str) -> _Type:
    text = " ".join(type_text.split())
    lower = text.lower()
    if lower in _FIELD_TYPES:
        return _Type("field", _FIELD_TYPES[lower])
    if lower in _BEGIN:
        return _Type("begin", _BEGIN[lower])
    if lower in _END:
        return _Type("end", _END[lower])
    if lower.startswith("begin loop") or lower.startswith("begin_loop"):
        return _Type("begin", "loop")
    if _EXTERNAL_SELECT.match(lower):
        return _unsupported("type:external-choices", f"choices from a file ({text!r})")
    select = _SELECT.fullmatch(text)
    if select:
        rest = select["rest"].strip().lower()
        if rest in ("or_other", "or specify other"):
            return _unsupported("or_other", f"'{rest}' (a free-text 'other' answer) in {text!r}")
        if rest:
            return _unsupported("type:unknown", f"unknown question type {text!r}")
        many = any(word in select["kind"].lower() for word in ("multiple", "all"))
        kind = "select_multiple" if many else "select_one"
        return _Type("field", kind, choices=select["list"])
    head = lower.split(" ")[0]
    if lower in _MEDIA_TYPES:
        return _unsupported(f"type:{lower}", f"unsupported question type {text!r} (media)")
    if lower in METADATA_TYPES:
        return _Type("field", METADATA_TYPES[lower], metadata=lower)
    if lower in _METADATA_TYPES:
        return _unsupported(
            f"type:{lower}", f"unsupported metadata type {text!r} (collected automatically)"
        )
    if head in ("geotrace", "geoshape", "range", "rank", "trigger", "time", "hidden"):
        return _unsupported(f"type:{head}", f"unsupported question type {text!r}")
    if head in ("xml-external", "csv-external"):
        return _unsupported("type:external-data", f"unsupported external data {text!r}")
    return _unsupported("type:unknown", f"unknown question type {text!r}")


def _unsupported(feature: str, message: str) -> _Type:
    return _Type("unsupported", feature, message=message)


# -- expressions --------------------------------------------------------------------------------

# XPath features of ODK's expression language that ours does not have.
_UNSUPPORTED_FUNCTIONS = {
    "pulldata": "pulldata() (data from an attached CSV)",
    "indexed-repeat": "indexed-repeat() (values of other repeat instances)",
    "instance": "instance(...) (secondary instances)",
    "jr:choice-name": "jr:choice-name() (choice labels in expressions)",
    "jr:itext": "jr:itext()",
    "once": "once() (values frozen at first entry)",
    "position": "position() (repeat instance numbers)",
    "current": "current() (XPath context)",
    "digest": "digest()",
    "random": "random()",
    "randomize": "randomize()",
    "uuid": "uuid()",
    "version": "version()",
    "property": "property() (device properties)",
    "geofence": "geofence()",
    "area": "area()",
    "distance": "distance()",
    "base64-decode": "base64-decode()",
    "extract-signed": "extract-signed()",
}
_STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
_FUNCTION_CALL = re.compile(r"([A-Za-z_][\w:.-]*)\s*\(")
_PATH = re.compile(r"\.\./|(?:^|[\s(,=<>!+*\[|])/\s*[A-Za-z_]|^\s*/\s*$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_LAST_SAVED = re.compile(r"\$\{last-saved#")


# -- the importer -------------------------------------------------------------------------------


@dataclass
class _Frame:
    """An open `begin group` / `begin repeat` (or the form itself) collecting its children."""

    role: str  # "form", "group", "repeat", "loop"
    row: _Row | None
    children: list[Node] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"no", "false", "false()", "0"})
# Columns of XLSForm features the engine does not implement: a value there is a problem.
_UNSUPPORTED_COLUMNS = {
    **{m: "media (images, audio, video)" for m in _MEDIA},
    "guidance_hint": "guidance hints",
    "parameters": "question parameters",
    "save_to": "entities (save_to)",
    "trigger": "triggers (recalculate on change)",
    "autoplay": "media autoplay",
}


# Real forms nest a few levels; a FormSpec thousands deep would exhaust the recursion limit.


class _Importer:
    def __init__(self, path: Path, sheets: dict[str, _Sheet]) -> None:
        self.path = path
        self.sheets = sheets
        self.problems: list[ImportProblem] = []
        self.settings = self.read_settings()
        self.default_language = _language_code(self.settings.get("default_language") or "en")
        self.languages: list[str] = [self.default_language]
        self.names: dict[str, int] = {}  # every node name -> its row (for references)
        self.choices: dict[str, list[Choice]] = {}

    def reported(self, sheet: str, row: int | None) -> bool:
        """Whether a problem is already known for this row; for no row, whether any is."""
        if row is None:
            return bool(self.problems)
        return any(p.sheet == sheet and p.row in (row, None) for p in self.problems)

    def add(self, sheet: str, row: int | None, column: str | None, feature: str, msg: str) -> None:
        self.problems.append(
            ImportProblem(sheet=sheet, row=row, column=column, feature=feature, message=msg)
        )

    # -- settings and choices ---------------------------------------------------------------
    def read_settings(self) -> dict[str, str]:
        sheet = self.sheets.get("settings")
        if sheet is None or not sheet.rows:
            return {}
        aliases = {
            "id_string": "form_id",
            "set_form_id": "form_id",
            "form_title": "title",
            "set_form_title": "title",
        }
        return {aliases.get(c.key, c.key): v for c, v in sheet.rows[0].cells.items()}

    def read_choices(self) -> None:
        sheet = self.sheets.get("choices")
        if sheet is None:
            return
        self.check_headers(sheet)
        seen: dict[tuple[str, str], int] = {}
        for row in sheet.rows:
            list_name, value = row.text("list_name"), row.text("name")
            if not list_name or not value:
                missing = "list_name" if not list_name else "name"
                msg = f"a choice needs a {missing}"
                self.add("choices", row.number, row.column(missing), "choices", msg)
                continue
            self.check_unsupported_columns("choices", row)
            if (list_name, value) in seen:
                first = seen[list_name, value]
                self.add(
                    "choices",
                    row.number,
                    row.column("name"),
                    "duplicate-choice",
                    f"choice {value!r} appears twice in list {list_name!r} (first in row {first})",
                )
                continue
            seen[list_name, value] = row.number
            choice = Choice(
                value=value, label=self.translated(row, "label"), htcds=row.text("htcds") or None
            )
            self.choices.setdefault(list_name, []).append(choice)

    # -- rows -------------------------------------------------------------------------------
    def check_headers(self, sheet: _Sheet) -> None:
        seen: dict[tuple[str, str | None], str] = {}
        for column in sheet.columns:
            if not column.header:
                continue
            language = None if column.language is None else _language_code(column.language)
            if column.key in _TRANSLATABLE:
                language = language or self.default_language
                if language not in self.languages:
                    self.languages.append(language)
            slot = (column.key, language)
            if slot in seen:
                self.add(
                    sheet.name,
                    1,
                    column.header,
                    "duplicate-column",
                    f"columns {seen[slot]!r} and {column.header!r} both give {column.key!r}"
                    + (f" in language {language!r}" if language else ""),
                )
            seen[slot] = column.header

    def check_unsupported_columns(self, sheet: str, row: _Row) -> bool:
        ok = True
        for column, _value in row.cells.items():
            if column.key in _UNSUPPORTED_COLUMNS:
                feature = _UNSUPPORTED_COLUMNS[column.key]
                msg = f"unsupported column: {feature}"
                self.add(sheet, row.number, column.header, f"column:{column.key}", msg)
                ok = False
        return ok

    def translated(self, row: _Row, key: str) -> dict[str, str]:
        return {
            _language_code(c.language) if c.language else self.default_language: v
            for c, v in row.translations(key)
        }

    def expression(self, row: _Row, key: str) -> str | None:
        """The cell's expression if the engine can evaluate it; otherwise a problem and None."""
        source = row.text(key)
        if not source:
            return None
        column = row.column(key)
        if not self.xlsform_only_features(row.number, column, source):
            return None
        try:
            expression = parse(source)
        except ExpressionError as exc:
            feature = "choice_filter" if key == "choice_filter" else "expression"
            called = _FUNCTION_CALL.match(source, (exc.column or 1) - 1)
            if called:  # the parser stopped at a function it does not know
                feature = f"function:{called[1]}"
            self.add("survey", row.number, column, feature, f"cannot read the expression: {exc}")
            return None
        if expression.uses_current and key not in ("constraint", "choice_filter"):
            msg = f"'.' (the question's own value) only has a meaning in a constraint: {source!r}"
            self.add("survey", row.number, column, "current-value", msg)
            return None
        unknown = sorted(expression.references - self.names.keys())
        for name in unknown:
            msg = f"${{{name}}} is not a question of this form: {source!r}"
            self.add("survey", row.number, column, "unknown-reference", msg)
        return None if unknown else source

    def xlsform_only_features(self, number: int, column: str, source: str) -> bool:
        """Report XPath/ODK features by name before the parser gives a vaguer error."""
        code = _STRING_LITERAL.sub("''", source)
        ok = True
        for function in dict.fromkeys(_FUNCTION_CALL.findall(code)):
            if function in _UNSUPPORTED_FUNCTIONS:
                msg = f"unsupported function {_UNSUPPORTED_FUNCTIONS[function]} in {source!r}"
                self.add("survey", number, column, f"function:{function}", msg)
                ok = False
        if _PATH.search(code):
            msg = f"XPath path expressions (/data/..., ../) are not supported: {source!r}"
            self.add("survey", number, column, "xpath-path", msg)
            ok = False
        if _LAST_SAVED.search(code):
            self.add("survey", number, column, "last-saved", f"${{last-saved#...}} in {source!r}")
            ok = False
        return ok

    def label_references(self, row: _Row) -> None:
        for key in ("label", "hint", "constraint_message", "required_message"):
            for column, text in row.translations(key):
                for name in _REFERENCE.findall(text):
                    if name not in self.names:
                        msg = f"${{{name}}} in the text is not a field"
                        self.add("survey", row.number, column.header, "unknown-reference", msg)

    def flag(self, row: _Row, key: str) -> bool | None:
        """A yes/no cell; None (after a problem) when it holds anything else."""
        text = row.text(key).lower()
        if not text or text in _FALSE:
            return False
        if text in _TRUE:
            return True
        self.add("survey", row.number, row.column(key), key, f"expected yes or no, not {text!r}")
        return None

    def sensitivity(self, row: _Row) -> str:
        text = row.text("sensitivity").lower()
        if text in ("", "sensitive", "statistical"):
            return text or "sensitive"
        msg = f"sensitivity must be 'sensitive' or 'statistical', not {text!r}"
        self.add("survey", row.number, row.column("sensitivity"), "sensitivity", msg)
        return "sensitive"

    # -- the survey -------------------------------------------------------------------------
    def build(self, form_id: str | None, version: str | None) -> FormSpec | None:
        for name, feature in _UNSUPPORTED_SHEETS.items():
            sheet = self.sheets.get(name)
            if sheet is not None and any(row.cells for row in sheet.rows):
                self.add(name, None, None, f"sheet:{name}", f"unsupported sheet: {feature}")
        survey = self.sheets.get("survey")
        if survey is None:
            self.add("file", None, None, "sheet:survey", "the workbook has no 'survey' sheet")
            return None
        self.check_headers(survey)
        if not any(c.key == "type" for c in survey.columns):
            self.add("survey", 1, None, "column:type", "the survey sheet has no 'type' column")
            return None
        if self.sheets.get("settings"):
            self.check_headers(self.sheets["settings"])
        self.read_choices()
        self.collect_names(survey)
        stack = [_Frame("form", None)]
        for row in survey.rows:
            self.survey_row(row, stack)
        for frame in stack[1:]:
            assert frame.row is not None
            begin = frame.row.text("type")
            msg = f"{begin!r} {frame.row.text('name')!r} is never closed (end {frame.role})"
            self.add("survey", frame.row.number, frame.row.column("type"), "unclosed-group", msg)
        if not self.problems:
            self.check_statistics(survey, stack[0].children)
        if self.problems:
            return None
        return self.form(stack[0].children, form_id, version)

    def check_statistics(self, survey: _Sheet, children: list[Node]) -> None:
        """Refuse, at its row, a statistical calculation that could carry a name or an exact
        value read from a sealed field into the clear statistics."""
        column = next((c.header for c in survey.columns if c.key == "calculation"), None)
        for name, msg in Statistics(children, self.choices).problems().items():
            self.add("survey", self.names.get(name), column, "statistical-calculation", msg)

    def collect_names(self, survey: _Sheet) -> None:
        for row in survey.rows:
            name = row.text("name")
            kind = _classify(row.text("type")).role if row.text("type") else ""
            if not name or kind == "end":
                continue
            if name in self.names:
                first = self.names[name]
                msg = f"the name {name!r} is already used in row {first}; names must be unique"
                self.add("survey", row.number, row.column("name"), "duplicate-name", msg)
            else:
                self.names[name] = row.number

    def survey_row(self, row: _Row, stack: list[_Frame]) -> None:
        type_text = row.text("type")
        if not type_text:
            if row.text("name") or any(c.key == "label" for c in row.cells):
                self.add("survey", row.number, "type", "missing-type", "this row has no type")
            return
        kind = _classify(type_text)
        if kind.role == "end":
            self.close(row, stack, kind.value)
            return
        name = row.text("name")
        valid = self.check_unsupported_columns("survey", row)
        if kind.role == "unsupported":
            self.add("survey", row.number, row.column("type"), kind.value, kind.message)
            valid = False
        if not name:
            self.add("survey", row.number, row.column("name"), "name", "this row has no name")
            valid = False
        elif not NAME_RE.match(name):
            msg = f"name {name!r} must start with a letter or _ and use only A-Z, 0-9 and _"
            self.add("survey", row.number, row.column("name"), "name", msg)
            valid = False
        self.label_references(row)
        if kind.role == "begin":
            if len(stack) == MAX_DEPTH + 1:  # the form itself is the first frame
                msg = f"groups and repeats may nest at most {MAX_DEPTH} levels deep"
                self.add("survey", row.number, row.column("type"), "nesting", msg)
            stack.append(self.open(row, kind.value, valid))
        elif kind.role == "field":
            node = self.field(row, kind, name) if valid else None
            stack[-1].children.extend([node] if node else [])

    def open(self, row: _Row, role: str, valid: bool) -> _Frame:
        if role == "loop":
            msg = "'begin loop' (a group repeated once per choice) is not supported"
            self.add("survey", row.number, row.column("type"), "type:loop", msg)
        frame = _Frame(role, row, failed=not valid or role == "loop")
        frame.attributes = {
            "name": row.text("name"),
            "label": self.translated(row, "label"),
            "relevant": self.expression(row, "relevant"),
        }
        if role == "repeat":
            frame.attributes["sensitivity"] = self.sensitivity(row)
            count = row.text("repeat_count")
            if count.isdigit():
                frame.attributes["min_count"] = frame.attributes["max_count"] = int(count)
            elif count:
                msg = f"a repeat_count computed from answers ({count!r}) is not supported"
                self.add("survey", row.number, row.column("repeat_count"), "repeat_count", msg)
        elif row.text("sensitivity"):
            msg = "a group holds no data: mark the fields inside it instead"
            self.add("survey", row.number, row.column("sensitivity"), "sensitivity", msg)
        return frame

    def close(self, row: _Row, stack: list[_Frame], role: str) -> None:
        type_column = row.column("type")
        if len(stack) == 1:
            msg = f"{row.text('type')!r} has no matching 'begin {role}'"
            self.add("survey", row.number, type_column, "mismatched-end", msg)
            return
        frame = stack.pop()
        assert frame.row is not None
        if frame.role != role:
            msg = (
                f"{row.text('type')!r} closes 'begin {frame.role}' {frame.attributes['name']!r} "
                f"of row {frame.row.number}"
            )
            self.add("survey", row.number, type_column, "mismatched-end", msg)
            frame.failed = True
        if frame.failed:
            return
        node_type = RepeatSpec if frame.role == "repeat" else GroupSpec
        try:
            node = node_type(**frame.attributes, children=frame.children)
        except ValidationError as exc:
            self.row_invalid(frame.row, exc)
            return
        stack[-1].children.append(node)

    def field(self, row: _Row, kind: _Type, name: str) -> FieldSpec | None:
        before = len(self.problems)
        attributes: dict[str, Any] = {
            "name": name,
            "type": kind.value,
            "label": self.translated(row, "label"),
            "hint": self.translated(row, "hint"),
            "required_message": self.translated(row, "required_message"),
            "constraint_message": self.translated(row, "constraint_message"),
            "relevant": self.expression(row, "relevant"),
            "constraint": self.expression(row, "constraint"),
            "appearance": row.text("appearance") or None,
            "sensitivity": self.sensitivity(row),
            "htcds": row.text("htcds") or None,
            "metadata": kind.metadata,
        }
        required = row.text("required")
        if required.lower() in _TRUE | _FALSE or not required:
            attributes["required"] = self.flag(row, "required")
        else:
            attributes["required"] = self.expression(row, "required")
        read_only = self.flag(row, "read_only")
        attributes["read_only"] = bool(read_only) or kind.metadata is not None
        if row.text("calculation"):
            if kind.value == "calculate":
                attributes["calculation"] = self.expression(row, "calculation")
            else:
                msg = f"a calculation on a {kind.value} question (a computed answer)"
                self.add("survey", row.number, row.column("calculation"), "calculation", msg)
        if kind.choices:
            attributes["choices"] = kind.choices
            if kind.choices not in self.choices:
                msg = f"choice list {kind.choices!r} is not on the choices sheet"
                self.add("survey", row.number, row.column("type"), "unknown-choice-list", msg)
            attributes["choice_filter"] = self.expression(row, "choice_filter")
        if row.text("default"):
            attributes["default"] = self.default(row, kind)
        if "search(" in (attributes["appearance"] or "").replace(" ", ""):
            msg = "search() appearances (choices from a CSV file) are not supported"
            self.add("survey", row.number, row.column("appearance"), "appearance:search", msg)
        if len(self.problems) > before:
            return None
        try:
            return FieldSpec(**attributes)
        except ValidationError as exc:
            self.row_invalid(row, exc)
            return None

    def default(self, row: _Row, kind: _Type) -> Any:
        from pyxform.utils import default_is_dynamic

        text = row.text("default")
        column = row.column("default")
        if default_is_dynamic(text, "dateTime" if kind.value == "datetime" else kind.value):
            msg = f"a default computed when the form opens ({text!r}) is not supported"
            self.add("survey", row.number, column, "dynamic-default", msg)
            return None
        try:
            if kind.value == "integer":
                return int(text)
            if kind.value == "decimal":
                return float(text)
        except ValueError:
            self.add("survey", row.number, column, "default", f"{text!r} is not a number")
            return None
        if kind.value in ("select_one", "select_multiple"):
            values = text.split() if kind.value == "select_multiple" else [text]
            allowed = {c.value for c in self.choices.get(kind.choices or "", [])}
            for value in values:
                if value not in allowed:
                    msg = f"default {value!r} is not a choice of list {kind.choices!r}"
                    self.add("survey", row.number, column, "default", msg)
            return values if kind.value == "select_multiple" else text
        if kind.value == "text":
            return text
        if kind.value == "date":
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                self.add("survey", row.number, column, "default", f"{text!r} is not YYYY-MM-DD")
                return None
        msg = f"a default for a {kind.value} question ({text!r}) is not supported"
        self.add("survey", row.number, column, "default", msg)
        return None

    def row_invalid(self, row: _Row, exc: ValidationError) -> None:
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            self.add("survey", row.number, None, "invalid", message)

    def form(
        self, children: list[Node], form_id: str | None, version: str | None
    ) -> FormSpec | None:
        identifier = form_id or self.settings.get("form_id") or self.path.stem
        identifier = re.sub(r"[^A-Za-z0-9_]", "_", identifier.strip())
        if not identifier or identifier[0].isdigit():
            identifier = f"_{identifier}"
        title = self.settings.get("title") or identifier
        try:
            return FormSpec(
                id=identifier,
                version=version or self.settings.get("version") or "1",
                title={self.default_language: title},
                default_language=self.default_language,
                languages=self.languages,
                choices=self.choices,
                children=children,
                htcds_version=self.settings.get("htcds_version") or None,
            )
        except ValidationError as exc:
            for error in exc.errors():
                message = str(error["msg"]).removeprefix("Value error, ")
                self.add("survey", None, None, "invalid", message)
            return None


def _file_problem(message: str) -> ImportProblem:
    return ImportProblem(sheet="file", feature="file", message=message)


# -- pyxform's own checks -----------------------------------------------------------------------

_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]|\brow(?: number)?\s+(\d+)", re.IGNORECASE)
_PYXFORM_SHEET = re.compile(
    r"'(survey|choices|settings|entities|external_choices)' sheet|"
    r"sheet: '(\w+)'",
    re.IGNORECASE,
)


def _pyxform_problems(path: Path) -> list[ImportProblem]:
    """pyxform's verdict on the workbook: its first error, with the row it names."""
    from pyxform.xls2xform import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convert(xlsform=str(path), validate=False, warnings=[])
    except Exception as exc:  # pyxform raises many types on bad input; each is a problem
        text = " ".join(str(exc).split()) or type(exc).__name__
        context = getattr(exc, "context", {}) or {}
        row_match = _PYXFORM_ROW.search(text)
        sheet_match = _PYXFORM_SHEET.search(text)
        row = context.get("row") or (row_match and int(row_match[1] or row_match[2]))
        sheet = context.get("sheet") or (sheet_match and (sheet_match[1] or sheet_match[2]))
        return [
            ImportProblem(
                sheet=str(sheet or "survey").lower(),
                row=int(row) if row else None,
                feature="pyxform",
                message="pyxform: " + re.sub(r"^\[row\s*:\s*\d+\]\s*", "", text),
            )
        ]
    return []
