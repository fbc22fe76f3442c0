"""The choices a select offers given the other answers: its list, narrowed by its
`choice_filter` as XLSForm does it (each choice kept when the filter is true of it, the
choice's columns read by bare name, `name` its value: `country = ${country} or name =
'other'`). Validation refuses an answer outside them; the form screen lists only them.

The XLSForm idiom (`column = ${field}` terms joined by `or`) is a look-up in an index of
the column (`Expression.kept_rows`); any other filter is judged on each choice (5,046 for the
ISO 3166-2 subdivisions). The result is kept per (list, filter, values of the fields the
filter reads), so typing elsewhere in the form, or checking it again, costs a dictionary
look-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fieldapp.forms.expr import CLOCK_FUNCTIONS, ExpressionError, parse_choice_filter
from fieldapp.forms.expr.values import to_string
from fieldapp.forms.spec import Choice, FieldSpec, FormSpec

__all__ = ["answer_key", "choice_row", "visible_choices"]


def choice_row(choice: Choice) -> dict[str, str]:
    """What a choice filter reads of a choice: its extra columns and `name`, its value."""
    return {**choice.columns, "name": choice.value}


def visible_choices(
    spec: FormSpec, field: FieldSpec, env: Mapping[str, Any], *, today: date | None = None
) -> list[Choice]:
    """The field's choices that its `choice_filter` keeps against the answers in `env` (all
    of them without a filter; a filter that does not parse keeps none, as the form checks
    refuse it when the form loads)."""
    choices = spec.choices.get(field.choices or "", [])
    if not field.choice_filter:
        return choices
    try:
        expression = parse_choice_filter(field.choice_filter)
    except ExpressionError:
        return []
    inputs = {name: env.get(name) for name in expression.references}
    clock = (today or date.today()) if expression.functions & CLOCK_FUNCTIONS else None
    key = (
        id(choices),
        field.choice_filter,
        tuple(sorted((name, answer_key(value)) for name, value in inputs.items())),
        clock,
    )
    cached = _KEPT.get(key)
    if cached is None or cached[0] is not choices:
        kept = tuple(expression.kept_rows(_rows(choices), inputs, today=today))
        if len(_KEPT) >= _KEPT_SIZE:
            _KEPT.pop(next(iter(_KEPT)))  # the oldest: insertion order
        cached = _KEPT[key] = (choices, kept)
    return [choices[i] for i in cached[1]]


def _rows(choices: list[Choice]) -> tuple[dict[str, str], ...]:
    """The list's choices as a filter reads them, built once per list."""
    cached = _ROWS.get(id(choices))
    if cached is None or cached[0] is not choices:
        if len(_ROWS) >= 64:
            _ROWS.pop(next(iter(_ROWS)))
        cached = _ROWS[id(choices)] = (choices, tuple(map(choice_row, choices)))
    return cached[1]


def answer_key(value: Any) -> Any:
    """A hashable stand-in for an answer that says exactly what an expression can see of it
    (its type and its text)."""
    if isinstance(value, list | tuple):
        return ("list", *(answer_key(item) for item in value))
    if isinstance(value, dict):
        return ("dict", *sorted((str(k), answer_key(v)) for k, v in value.items()))
    return (type(value).__name__, to_string(value))


# (id of the choice list, filter, inputs, day) -> (the list, the indexes kept). The list is
# held so that its id is not reused by another while the entry lives.
_KEPT: dict[tuple[Any, ...], tuple[list[Choice], tuple[int, ...]]] = {}
_KEPT_SIZE = 512
_ROWS: dict[int, tuple[list[Choice], tuple[dict[str, str], ...]]] = {}
