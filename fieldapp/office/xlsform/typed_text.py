"""Question types the app draws no widget for but whose answer the user can type: `time`,
`barcode`, `geotrace` and `geoshape` import as a text question, their format checked by a
constraint where it has one, with a warning naming the row and what the user sees instead
(issue #13: a feature that only changes presentation imports with a warning)."""

from __future__ import annotations

from typing import Any

__all__ = ["TYPED_TEXT", "typed_text"]

# A trace or shape is ODK's points, 'latitude longitude [altitude [accuracy]]', joined by ';'.
# Checked by flat patterns (Python's fast `re` runs them, not the slower linear matcher of
# nested repeats): only numbers, spaces and ';'; no point of a single number; 2 (3) points.
_POINTS = "regex(., '^[-0-9. ;]+$') and not(regex(., '(^|;) *[-0-9.]* *(;|$)'))"
_TWO = "regex(., '[0-9][^;]*;[^;]*[0-9]')"
_THREE = "regex(., '[0-9][^;]*;[^;]*[0-9][^;]*;[^;]*[0-9]')"

# type -> (the check of the typed answer's format, or None; what the user sees and types)
TYPED_TEXT: dict[str, tuple[str | None, str]] = {
    "time": (
        "regex(., '^([01][0-9]|2[0-3]):[0-5][0-9]$')",
        "a text box for the time typed as HH:MM (24-hour), checked; no time picker, and the"
        " answer is that text, not an ODK time with seconds and time zone",
    ),
    "barcode": (None, "a text box: the code is typed, no camera scan"),
    "geotrace": (
        f"{_POINTS} and {_TWO}",
        "a text box for the line's points typed as 'latitude longitude' separated by ';'"
        " (at least 2), checked; no map to draw on",
    ),
    "geoshape": (
        f"{_POINTS} and {_THREE}",
        "a text box for the shape's points typed as 'latitude longitude' separated by ';'"
        " (at least 3), checked; no map to draw on",
    ),
}


def typed_text(question_type: str, attributes: dict[str, Any]) -> str:
    """Makes `attributes` a text question checked for `question_type`'s format (and by the
    row's own constraint, both); the warning to give."""
    check, seen = TYPED_TEXT[question_type]
    attributes["type"] = "text"
    if check is not None:
        own = attributes.get("constraint")
        attributes["constraint"] = f"{check} and ({own})" if own else check
    return f"a {question_type} question: the user sees {seen}"
