"""What changes only how a question looks (an appearance the app does not draw, `parameters`,
an `intent`) or metadata the app never collects: imported with a warning that names the
sheet, the row and what the user sees instead. Nothing is dropped without a word."""

from __future__ import annotations

import re
from typing import Protocol

from fieldapp.forms.geojson import is_geojson
from fieldapp.forms.media import MEDIA_TYPES
from fieldapp.forms.spec import NOT_COLLECTED
from fieldapp.office.xlsform.names import Names, straight_quotes
from fieldapp.office.xlsform.question_types import QuestionType
from fieldapp.office.xlsform.workbook import Row, Sheet

__all__ = [
    "KNOWN_APPEARANCES",
    "computed_question_warning",
    "group_warnings",
    "presentation_warnings",
    "stray_value_warnings",
    "trigger_warnings",
]

KNOWN_APPEARANCES = frozenset({"autocomplete", "multiline"})
_PRIVATE = frozenset({"phonenumber", "simserial", "subscriberid", "imei", "audit"})


_REFERENCE = re.compile(r"\$\{([^}]*)\}")


class _Warns(Protocol):
    def warn(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...


class _Importer(_Warns, Protocol):
    names: dict[str, int]
    scoped: Names

    def add(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...


def presentation_warnings(importer: _Warns, row: Row, kind: QuestionType) -> None:
    """Warnings for a question row that imports with less than the workbook asks."""
    if kind.metadata in NOT_COLLECTED:
        why = (
            "it identifies the person or their phone"
            if kind.metadata in _PRIVATE
            else "the app does not collect it yet"
        )
        msg = f"metadata {kind.metadata!r} is not collected ({why}): the field stays empty"
        importer.warn("survey", row.number, row.column("type"), f"metadata:{kind.metadata}", msg)
    on_map = kind.from_file and is_geojson(kind.choices or "")
    if on_map:
        appearance = row.text("appearance")
        msg = (
            f"the features of {kind.choices} are picked on a map in ODK Collect"
            f"{f' (appearance {appearance!r})' if appearance else ''}: the app shows them as"
            " a searchable list of their titles"
        )
        importer.warn("survey", row.number, row.column("type"), "geojson:map", msg)
    # a media question reads its own parameters (media.py)
    instead = "the standard control for its type"
    _common(importer, row, instead, kind.value not in MEDIA_TYPES, appearance=not on_map)


def group_warnings(importer: _Warns, row: Row, role: str) -> None:
    """Warnings for a `begin group` / `begin repeat` row's columns the app does not honour."""
    what = f"the {role}'s questions one after another, as usual"
    _common(importer, row, what)
    for key, text in (
        ("hint", "the hint is not shown (a group has no place for it)"),
        ("required", "ignored: a group holds no answer (ODK ignores it too)"),
        ("read_only", "ignored: a group holds no answer; mark its questions read_only"),
    ):
        if row.text(key) and not (key != "hint" and row.text(key).lower() in ("no", "false")):
            msg = f"{key} {row.text(key)!r} on a {role}: {text}"
            importer.warn("survey", row.number, row.column(key), f"{role}:{key}", msg)


def _common(
    importer: _Warns, row: Row, instead: str, parameters: bool = True, *, appearance: bool = True
) -> None:
    words = row.text("appearance").split() if appearance else []
    unknown = [word for word in words if word not in KNOWN_APPEARANCES]
    if unknown:
        msg = f"appearance {' '.join(unknown)!r} is not drawn: the user sees {instead}"
        importer.warn("survey", row.number, row.column("appearance"), "appearance", msg)
    if parameters and row.text("parameters"):
        msg = f"parameters {row.text('parameters')!r} are ignored: the user sees {instead}"
        importer.warn("survey", row.number, row.column("parameters"), "parameters", msg)
    if row.text("intent"):
        msg = (
            f"intent {row.text('intent')!r} (an external app) is not launched: "
            "the user types the answers"
        )
        importer.warn("survey", row.number, row.column("intent"), "intent", msg)


def trigger_warnings(importer: _Importer, row: Row, kind: QuestionType) -> None:
    """ODK's `trigger`: when a question changes, (re)set this one. A pre-fill the person can
    change, never logic: the calculate is recomputed whenever what it reads changes, a question
    computed until answered (validate.py). Refused when the trigger names no question."""
    column = row.column("trigger")
    trigger = straight_quotes(row.text("trigger"))
    names = _REFERENCE.findall(trigger)
    unknown = [n for n in names if importer.scoped.renamed.get(n, n) not in importer.names]
    if unknown or not _REFERENCE.fullmatch(trigger.strip()):
        msg = f"trigger {trigger!r} must name one question of this form as ${{name}}"
        importer.add("survey", row.number, column, "trigger", msg)
    elif kind.value == "calculate":
        msg = (
            f"trigger {trigger}: the calculation is recomputed whenever what it reads "
            "changes, not only when that question changes"
        )
        importer.warn("survey", row.number, column, "trigger", msg)
    elif row.text("calculation"):
        msg = (
            f"trigger {trigger}: the question's calculation fills it until it is answered, "
            "not when that question changes; the computed value is not shown in its box "
            "while filling in"
        )
        importer.warn("survey", row.number, column, "trigger", msg)
    else:
        msg = f"trigger {trigger}: the answer is not cleared when that question changes"
        importer.warn("survey", row.number, column, "trigger", msg)


def stray_value_warnings(importer: _Warns, sheets: dict[str, Sheet]) -> None:
    """A value right of the last header has no column: pyxform ignores it, and so do we,
    saying where it was (a row pasted across the sheet, a note to oneself)."""
    for name, sheet in sheets.items():
        last = len(sheet.columns)
        for number, (first, end) in sheet.ignored.items():
            where = f"column {first}" if first == end else f"columns {first} to {end}"
            msg = (
                f"values in {where}, right of the last header (column {last}), are no"
                " part of the form and are ignored"
            )
            importer.warn(name, number, None, "stray-values", msg)


def computed_question_warning(importer: _Warns, row: Row, kind: str, read_only: bool) -> None:
    """A calculation on a question (not a `calculate`): ODK shows the computed value, which
    the person may change unless read-only. The engine computes it until the question is
    answered (a read-only one: always); the box does not show it while filling in."""
    if read_only:
        seen = "the value is computed and stored, but its box stays empty while filling in"
    else:
        seen = (
            "the computed value is not shown in its box while filling in: an answer typed is"
            " kept, and left unanswered, the record gets the computed value"
        )
    msg = f"a {kind} question with a calculation: {seen}"
    importer.warn("survey", row.number, row.column("calculation"), "calculation", msg)
