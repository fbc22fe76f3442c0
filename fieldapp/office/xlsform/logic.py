"""What real forms' logic says that pyxform lets through, read as ODK reads it, each with a
warning naming the row: a bare name used as a value (XPath: a path that selects nothing), and
a choice name used twice in a list (`allow_choice_duplicates`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from fieldapp.forms.expr import Expression

__all__ = ["absent_name_warnings", "choice_duplicates_allowed", "duplicate_choice_warning"]

# pyxform's yes/no spellings of a setting (aliases.yes_no)
_YES = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "true()"})


class _Warns(Protocol):
    def warn(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...


def absent_name_warnings(
    importer: _Warns, number: int, column: str, expression: Expression, questions: Collection[str]
) -> None:
    """A bare name (`yes`, `basic`) in an expression reads, in XPath, a child of the node
    being computed, which has none: ODK computes an empty value (false as a test). The form
    imports and behaves as in Collect; the warning says what the author probably meant."""
    for name in sorted(expression.absent):
        meant = f"write '{name}' in quotes for the text"
        if name in questions:
            meant += f", or ${{{name}}} for the question"
        msg = (
            f"{name!r} reads a field named {name}, which does not exist: ODK computes an empty"
            f" value (false as a test) in {expression.source!r}; {meant}"
        )
        importer.warn("survey", number, column, "bare-name", msg)


def choice_duplicates_allowed(settings: Mapping[str, str]) -> bool:
    """pyxform accepts a choice name twice in one list only with this setting."""
    return settings.get("allow_choice_duplicates", "no").strip() in _YES


def duplicate_choice_warning(value: str, list_name: str, first: int) -> str:
    return (
        f"choice {value!r} appears twice in list {list_name!r} (first in row {first}): both"
        f" are kept, as the setting allow_choice_duplicates says; either stores {value!r}"
    )
