"""The importer: the survey's rows become the FormSpec's nodes, and every row using what the
engine cannot honour becomes a problem naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fieldapp.forms.expr import NAME_RE, ExpressionError, parse, parse_choice_filter
from fieldapp.forms.geojson import is_geojson
from fieldapp.forms.media import MEDIA_TYPES
from fieldapp.forms.spec import (
    MAX_DEPTH,
    Choice,
    FieldSpec,
    FormSpec,
    GroupSpec,
    Node,
    RepeatSpec,
)
from fieldapp.forms.statistics import Statistics
from fieldapp.office.xlsform.attachments import AttachedFiles
from fieldapp.office.xlsform.defaults import read_default
from fieldapp.office.xlsform.drafts import awaited_files
from fieldapp.office.xlsform.logic import (
    absent_name_warnings,
    choice_duplicates_allowed,
    duplicate_choice_warning,
)
from fieldapp.office.xlsform.loops import expanded_loop, loop_list
from fieldapp.office.xlsform.media import label_media, media_attributes
from fieldapp.office.xlsform.names import Names, straight_quotes
from fieldapp.office.xlsform.presentation import (
    computed_question_warning,
    group_warnings,
    presentation_warnings,
    stray_value_warnings,
    trigger_warnings,
)
from fieldapp.office.xlsform.problems import ImportProblem, in_order
from fieldapp.office.xlsform.question_types import QuestionType, classify
from fieldapp.office.xlsform.typed_text import typed_text
from fieldapp.office.xlsform.workbook import (
    MEDIA,
    TRANSLATABLE,
    UNSUPPORTED_SHEETS,
    Row,
    Sheet,
    language_code,
)

# ODK functions our expression language does not have (the rest of the ODK set is
# fieldapp.forms.expr's: pulldata, instance(...) lookups, jr:choice-name, once, position,
# indexed-repeat, current(), digest, random, uuid...).
_UNSUPPORTED_FUNCTIONS = {
    "jr:itext": "jr:itext()",
    "randomize": "randomize()",
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
# Absolute paths (/data/x); relative ones (../x, current()/../x) are the engine's.
_PATH = re.compile(r"(?:^|[\s(,=<>!+*\[|])/\s*[A-Za-z_]|^\s*/\s*$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_LAST_SAVED = re.compile(r"\$\{last-saved#")


@dataclass
class _Frame:
    """An open `begin group` / `begin repeat` (or the form itself) collecting its children."""

    role: str  # "form", "group", "repeat", "loop"
    row: Row | None
    children: list[Node] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    loop_list: str | None = None  # `begin loop over LIST`: the list it repeats over


_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"no", "false", "false()", "0"})
# Columns of XLSForm features the engine does not implement: a value there is a problem.
_UNSUPPORTED_COLUMNS = {"guidance_hint": "guidance hints", "save_to": "entities (save_to)"}


# A choice's own columns; any other is data a choice_filter may read (`country`).
_CHOICE_COLUMNS = frozenset(
    {"list_name", "name", "label", "htcds", "autoplay", *MEDIA, *_UNSUPPORTED_COLUMNS}
)

# Real forms nest a few levels; a FormSpec thousands deep would exhaust the recursion limit.


class Importer:
    def __init__(self, path: Path, sheets: dict[str, Sheet]) -> None:
        self.path = path
        self.sheets = sheets
        self.problems: list[ImportProblem] = []
        self.settings = self.read_settings()
        self.default_language = language_code(self.settings.get("default_language") or "en")
        self.languages: list[str] = [self.default_language]
        self.names: dict[str, int] = {}  # every node name -> its row (for references)
        self.scoped = Names()
        self.warnings: list[ImportProblem] = []  # what imports, changed: said, never silent
        self.choices: dict[str, list[Choice]] = {}
        self.files = AttachedFiles(path)  # the CSVs the form reads (attachments.py)

    def reported(self, sheet: str, row: int | None) -> bool:
        """Whether a problem is already known for this row; for no row, whether any is."""
        if row is None:
            return bool(self.problems)
        return any(p.sheet == sheet and p.row in (row, None) for p in self.problems)

    def add(self, sheet: str, row: int | None, column: str | None, feature: str, msg: str) -> None:
        self.problems.append(
            ImportProblem(sheet=sheet, row=row, column=column, feature=feature, message=msg)
        )

    def warn(self, sheet: str, row: int | None, column: str | None, feature: str, msg: str) -> None:
        self.warnings.append(
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

    def read_choices(self, sheet_name: str = "choices") -> None:
        """The choices sheet, or the external_choices one (select_one_external's lists)."""
        sheet = self.sheets.get(sheet_name)
        if sheet is None:
            return
        self.check_headers(sheet)
        seen: dict[tuple[str, str], int] = {}
        for row in sheet.rows:
            list_name, value = row.text("list_name"), straight_quotes(row.text("name"))
            if value != row.text("name"):  # pyxform stores the straight one: so do we
                msg = f"curly quotes read as straight quotes: choice name {value!r}"
                self.warn(sheet_name, row.number, row.column("name"), "curly-quotes", msg)
            if not list_name or not value:
                missing = "list_name" if not list_name else "name"
                msg = f"a choice needs a {missing}"
                self.add(sheet_name, row.number, row.column(missing), "choices", msg)
                continue
            self.check_unsupported_columns(sheet_name, row)
            self.label_media(sheet_name, row, shown=False)
            if (list_name, value) in seen and choice_duplicates_allowed(self.settings):
                msg = duplicate_choice_warning(value, list_name, seen[list_name, value])
                self.warn(sheet_name, row.number, row.column("name"), "duplicate-choice", msg)
            elif (list_name, value) in seen:
                first = seen[list_name, value]
                self.add(
                    sheet_name,
                    row.number,
                    row.column("name"),
                    "duplicate-choice",
                    f"choice {value!r} appears twice in list {list_name!r} (first in row {first})",
                )
                continue
            seen.setdefault((list_name, value), row.number)
            choice = Choice(
                value=value,
                label=self.translated(row, "label"),
                htcds=row.text("htcds") or None,
                columns={  # what a choice_filter reads by bare name (`country`)
                    c.key: v
                    for c, v in row.cells.items()
                    if v
                    and not c.language
                    and c.key not in _CHOICE_COLUMNS
                    and NAME_RE.match(c.key)
                },
            )
            self.choices.setdefault(list_name, []).append(choice)

    # -- rows -------------------------------------------------------------------------------
    def check_headers(self, sheet: Sheet) -> None:
        seen: dict[tuple[str, str | None], str] = {}
        bare: set[str] = set()  # headers without a language (`label`)
        for column in sheet.columns:
            if not column.header:
                continue
            language = None if column.language is None else language_code(column.language)
            if column.key in TRANSLATABLE:
                language = language or self.default_language
                if language not in self.languages:
                    self.languages.append(language)
            slot = (column.key, language)
            if column.language is None:
                bare.add(column.header)
            if (
                slot in seen and column.key in TRANSLATABLE and bare & {column.header, seen[slot]}
            ):  # `label` and `label::English (en)`: one language, the named column first
                msg = (
                    f"columns {seen[slot]!r} and {column.header!r} both give {column.key!r} in "
                    f"language {language!r}: {column.header if column.language else seen[slot]!r}"
                    " is used, the other where it is empty"
                )
                self.warn(sheet.name, 1, column.header, "same-language", msg)
            elif slot in seen:
                self.add(
                    sheet.name,
                    1,
                    column.header,
                    "duplicate-column",
                    f"columns {seen[slot]!r} and {column.header!r} both give {column.key!r}"
                    + (f" in language {language!r}" if language else ""),
                )
            seen[slot] = column.header

    def check_unsupported_columns(self, sheet: str, row: Row) -> bool:
        ok = True
        for column, _value in row.cells.items():
            if column.key in _UNSUPPORTED_COLUMNS:
                feature = _UNSUPPORTED_COLUMNS[column.key]
                msg = f"unsupported column: {feature}"
                self.add(sheet, row.number, column.header, f"column:{column.key}", msg)
                ok = False
        return ok

    def label_media(self, sheet: str, row: Row, *, shown: bool) -> dict[str, str]:
        return label_media(self.files, self.default_language, self.warn, sheet, row, shown=shown)

    def translated(self, row: Row, key: str) -> dict[str, str]:
        texts: dict[str, str] = {}
        # the plain column first, so a column naming the same language wins
        for column, text in sorted(row.translations(key), key=lambda c: c[0].language is not None):
            if text:
                language = language_code(column.language or self.default_language)
                texts[language] = self.scoped.rewrite(straight_quotes(text))  # as pyxform
        return texts

    def expression(self, row: Row, key: str) -> str | None:
        """The cell's expression if the engine can evaluate it; otherwise a problem and None."""
        source = row.text(key)
        if not source:
            return None
        column = row.column(key)
        straight = straight_quotes(source)
        if straight != source:
            msg = f"curly quotes read as straight quotes: {straight!r}"
            self.warn("survey", row.number, column, "curly-quotes", msg)
            source = straight
        ambiguous = self.scoped.ambiguous_references(source)
        for name in ambiguous:
            msg = f"${{{name}}} is ambiguous: {name!r} names questions in several groups"
            self.add("survey", row.number, column, "ambiguous-reference", msg)
        if ambiguous:
            return None
        source = self.scoped.rewrite(source)
        if not self.xlsform_only_features(row.number, column, source):
            return None
        try:
            expression = parse_choice_filter(source) if key == "choice_filter" else parse(source)
        except ExpressionError as exc:
            feature = "choice_filter" if key == "choice_filter" else "expression"
            called = _FUNCTION_CALL.match(source, (exc.column or 1) - 1)
            if called:  # the parser stopped at a function it does not know
                feature = f"function:{called[1]}"
            self.add("survey", row.number, column, feature, f"cannot read the expression: {exc}")
            return None
        absent_name_warnings(self, row.number, column, expression, self.names)
        if expression.uses_current and key not in ("constraint", "choice_filter"):
            msg = f"'.' (the question's own value) only has a meaning in a constraint: {source!r}"
            self.add("survey", row.number, column, "current-value", msg)
            return None
        self.files.need_instances(source, set(self.choices), "survey", row.number, column)
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
            msg = f"absolute XPath paths (/data/...) are not supported: {source!r}"
            self.add("survey", number, column, "xpath-path", msg)
            ok = False
        if _LAST_SAVED.search(code):
            self.add("survey", number, column, "last-saved", f"${{last-saved#...}} in {source!r}")
            ok = False
        return ok

    def label_references(self, row: Row) -> None:
        for key in ("label", "hint", "constraint_message", "required_message"):
            for column, text in row.translations(key):
                for name in _REFERENCE.findall(self.scoped.rewrite(text)):
                    if name not in self.names:
                        msg = f"${{{name}}} in the text is not a field"
                        self.add("survey", row.number, column.header, "unknown-reference", msg)

    def flag(self, row: Row, key: str) -> bool | None:
        """A yes/no cell; None (after a problem) when it holds anything else."""
        text = row.text(key).lower()
        if not text or text in _FALSE:
            return False
        if text in _TRUE:
            return True
        self.add("survey", row.number, row.column(key), key, f"expected yes or no, not {text!r}")
        return None

    def sensitivity(self, row: Row) -> str:
        text = row.text("sensitivity").lower()
        if text in ("", "sensitive", "statistical"):
            return text or "sensitive"
        msg = f"sensitivity must be 'sensitive' or 'statistical', not {text!r}"
        self.add("survey", row.number, row.column("sensitivity"), "sensitivity", msg)
        return "sensitive"

    # -- the survey -------------------------------------------------------------------------
    def build(self, form_id: str | None, version: str | None) -> FormSpec | None:
        stray_value_warnings(self, self.sheets)
        for name, feature in UNSUPPORTED_SHEETS.items():
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
        self.read_choices("external_choices")
        self.collect_names(survey)
        stack = [_Frame("form", None)]
        for row in survey.rows:
            self.survey_row(row, stack)
        for frame in stack[1:]:
            assert frame.row is not None
            begin = frame.row.text("type")
            msg = f"{begin!r} {frame.row.text('name')!r} is never closed (end {frame.role})"
            self.add("survey", frame.row.number, frame.row.column("type"), "unclosed-group", msg)
        self.files.resolve(self.add, self.default_language)
        if not self.problems:
            self.check_statistics(survey, stack[0].children)
        if self.problems:
            return None
        return self.form(stack[0].children, form_id, version)

    def check_statistics(self, survey: Sheet, children: list[Node]) -> None:
        """Refuse, at its row, a statistical calculation that could carry a name or an exact
        value read from a sealed field into the clear statistics."""
        column = next((c.header for c in survey.columns if c.key == "calculation"), None)
        lists = {**self.choices, **self.files.choices}
        for name, msg in Statistics(children, lists).problems().items():
            self.add("survey", self.names.get(name), column, "statistical-calculation", msg)

    def collect_names(self, survey: Sheet) -> None:
        self.scoped = Names.collect(survey)
        self.names = dict(self.scoped.rows)
        for number, feature, msg in self.scoped.warnings:
            self.warn("survey", number, "name", feature, msg)
        for number, msg in self.scoped.duplicates:
            self.add("survey", number, "name", "duplicate-name", msg + "; names must be unique")

    def survey_row(self, row: Row, stack: list[_Frame]) -> None:
        type_text = row.text("type")
        if not type_text:
            if row.text("name") or any(c.key == "label" for c in row.cells):
                self.add("survey", row.number, "type", "missing-type", "this row has no type")
            return
        kind = classify(type_text)
        if kind.role == "end":
            self.close(row, stack, kind.value)
            return
        name = self.scoped.by_row.get(row.number, row.text("name"))
        valid = self.check_unsupported_columns("survey", row)
        if kind.role == "unsupported":
            self.add("survey", row.number, row.column("type"), kind.value, kind.message)
            self.files.unread.update(Path(c).stem for c in [kind.choices] if c)
            valid = False
        if not name:
            self.add("survey", row.number, row.column("name"), "name", "this row has no name")
            valid = False
        elif not NAME_RE.match(name):
            msg = f"name {name!r} must start with a letter or _ and use only A-Z, 0-9 and _"
            self.add("survey", row.number, row.column("name"), "name", msg)
            valid = False
        self.label_references(row)
        if kind.role != "field":
            self.label_media("survey", row, shown=False)
        if kind.role == "begin":
            if len(stack) == MAX_DEPTH + 1:  # the form itself is the first frame
                msg = f"groups and repeats may nest at most {MAX_DEPTH} levels deep"
                self.add("survey", row.number, row.column("type"), "nesting", msg)
            stack.append(self.open(row, kind.value, valid))
        elif kind.role == "field":
            node = self.field(row, kind, name) if valid else None
            stack[-1].children.extend([node] if node else [])
            if node and kind.or_other:
                stack[-1].children.extend(self.or_other(row, node))

    def open(self, row: Row, role: str, valid: bool) -> _Frame:
        frame = _Frame(role, row, failed=not valid)
        if role == "loop":
            frame.loop_list = loop_list(self, row)
            frame.failed |= frame.loop_list is None
        group_warnings(self, row, role)
        frame.attributes = {
            "name": self.scoped.by_row.get(row.number, row.text("name")),
            "label": self.translated(row, "label"),
            "relevant": self.expression(row, "relevant"),
        }
        if role == "repeat":
            frame.attributes["sensitivity"] = self.sensitivity(row)
            count = row.text("repeat_count")
            if count.isdigit():
                frame.attributes["min_count"] = frame.attributes["max_count"] = int(count)
            elif count:
                frame.attributes["count"] = self.expression(row, "repeat_count")
        elif row.text("sensitivity"):
            msg = "a group holds no data: mark the fields inside it instead"
            self.add("survey", row.number, row.column("sensitivity"), "sensitivity", msg)
        return frame

    def close(self, row: Row, stack: list[_Frame], role: str) -> None:
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
            if frame.loop_list is not None:
                node = expanded_loop(self, node, frame.loop_list, frame.row.number)
        except ValidationError as exc:
            self.row_invalid(frame.row, exc)
            return
        stack[-1].children.append(node)

    def field(self, row: Row, kind: QuestionType, name: str) -> FieldSpec | None:
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
            "label_image": self.label_media("survey", row, shown=True),
        }
        if kind.value in MEDIA_TYPES:
            attributes |= media_attributes(row, kind.value, self.warn, self.add)
        required = row.text("required")
        if required.lower() in _TRUE | _FALSE or not required:
            attributes["required"] = self.flag(row, "required")
        else:
            attributes["required"] = self.expression(row, "required")
        read_only = self.flag(row, "read_only")
        attributes["read_only"] = bool(read_only) or kind.metadata is not None
        if row.text("trigger"):
            trigger_warnings(self, row, kind)
        if row.text("calculation"):
            attributes["calculation"] = self.expression(row, "calculation")
            if kind.value != "calculate" and not row.text("trigger"):
                computed_question_warning(self, row, kind.value, bool(read_only))
        if kind.from_file and kind.choices:
            column = row.column("type")
            attributes["choices"] = self.files.need_file(kind.choices, "survey", row.number, column)
            if is_geojson(kind.choices):  # no map here: searched by title (presentation.py)
                attributes["appearance"] = "autocomplete"
            attributes["choice_filter"] = self.expression(row, "choice_filter")
        elif kind.choices:
            attributes["choices"] = kind.choices
            if kind.choices not in self.choices:
                msg = f"choice list {kind.choices!r} is not on the choices sheet"
                self.add("survey", row.number, row.column("type"), "unknown-choice-list", msg)
            attributes["choice_filter"] = self.expression(row, "choice_filter")
        if row.text("default"):
            attributes["default"] = read_default(self, row, kind)
        if "search(" in (attributes["appearance"] or "").replace(" ", ""):
            msg = "search() appearances (choices from a CSV file) are not supported"
            self.add("survey", row.number, row.column("appearance"), "appearance:search", msg)
        else:
            presentation_warnings(self, row, kind)
        if kind.typed and len(self.problems) == before:
            msg = typed_text(kind.typed, attributes)
            self.warn("survey", row.number, row.column("type"), f"type:{kind.typed}", msg)
        if len(self.problems) > before:
            return None
        try:
            return FieldSpec(**attributes)
        except ValidationError as exc:
            self.row_invalid(row, exc)
            return None

    def or_other(self, row: Row, node: FieldSpec) -> list[FieldSpec]:
        """pyxform's `or_other`: the list gains an "other" choice, and a text question
        `<name>_other` asks for it when it is chosen."""
        assert node.choices is not None
        listed = self.choices.setdefault(node.choices, [])
        if not any(choice.value == "other" for choice in listed):
            listed.append(Choice(value="other", label=dict.fromkeys(self.languages, "Other")))
        name = f"{node.name}_other"
        if name in self.names:
            msg = f"or_other adds a question {name!r}, and the form already has one"
            self.add("survey", row.number, row.column("type"), "or_other", msg)
            return []
        self.names[name] = row.number
        return [
            FieldSpec(
                name=name,
                type="text",
                label={self.default_language: "Specify other."},  # as pyxform
                relevant=f"selected(${{{node.name}}}, 'other')",
                sensitivity=node.sensitivity,
            )
        ]

    def instance_name(self) -> str | None:
        source = self.settings.get("instance_name")
        if not source:
            return None
        straight = self.scoped.rewrite(straight_quotes(source))
        if straight != source:
            msg = f"instance_name read as {straight!r} (quotes or renamed questions)"
            self.warn("settings", 2, "instance_name", "instance_name", msg)
        return straight

    def row_invalid(self, row: Row, exc: ValidationError) -> None:
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
        awaiting = awaited_files(self.files, identifier, self.warnings.append)
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
                instance_name=self.instance_name(),
                attachments=self.files.refs,
                awaiting_files=awaiting,
                import_warnings=[str(w) for w in in_order(self.warnings)],
            )
        except ValidationError as exc:
            for error in exc.errors():
                message = str(error["msg"]).removeprefix("Value error, ")
                self.add("survey", None, None, "invalid", message)
            return None
