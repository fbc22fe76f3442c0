"""A question's `default`: the value it starts with, read as the engine stores it."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from fieldapp.forms.spec import Choice
from fieldapp.office.xlsform.names import straight_quotes
from fieldapp.office.xlsform.question_types import QuestionType
from fieldapp.office.xlsform.workbook import Row

__all__ = ["read_default"]


class _Importer(Protocol):
    choices: dict[str, list[Choice]]

    def warn(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...

    def add(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...


def read_default(importer: _Importer, row: Row, kind: QuestionType) -> Any:
    """The `default` cell as the question's starting value: a typed constant; a dynamic one
    or a choice not in the list is warned and left out, a malformed one refused."""
    from pyxform.utils import default_is_dynamic  # office extra: loaded when a form imports

    text = straight_quotes(row.text("default"))  # as pyxform, so it meets its choice's name
    column = row.column("default")
    if text != row.text("default"):
        msg = f"curly quotes read as straight quotes: default {text!r}"
        importer.warn("survey", row.number, column, "curly-quotes", msg)
    if default_is_dynamic(text, "dateTime" if kind.value == "datetime" else kind.value):
        msg = (
            f"a default computed when the form opens ({text!r}) is not filled in: "
            "the question starts empty"
        )
        importer.warn("survey", row.number, column, "dynamic-default", msg)
        return None
    try:
        if kind.value == "integer":
            return int(text)
        if kind.value == "decimal":
            return float(text)
    except ValueError:
        importer.add("survey", row.number, column, "default", f"{text!r} is not a number")
        return None
    if kind.value in ("select_one", "select_multiple"):
        values = text.split() if kind.value == "select_multiple" else [text]
        allowed = {c.value for c in importer.choices.get(kind.choices or "", [])}
        unknown = [value for value in values if value not in allowed]
        if unknown:  # pyxform keeps it; ODK Collect shows nothing chosen
            msg = (
                f"default {' '.join(unknown)!r} is not a choice of list {kind.choices!r}: "
                "the question starts with nothing chosen"
            )
            importer.warn("survey", row.number, column, "default", msg)
            return None
        return values if kind.value == "select_multiple" else text
    if kind.value == "text":
        return text
    if kind.value == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            importer.add("survey", row.number, column, "default", f"{text!r} is not YYYY-MM-DD")
            return None
    msg = f"a default for a {kind.value} question ({text!r}) is not supported"
    importer.add("survey", row.number, column, "default", msg)
    return None
