"""Answers shown in a form's text: a note or label writing `${name}` shows that answer or
calculation (XLSForm's output of a value: "Capital: ${capital}"), as the clean values hold
it; an unanswered one shows nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fieldapp.forms.expr.values import to_string

__all__ = ["filled"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def filled(text: str, env: Mapping[str, Any]) -> str:
    """`text` with each `${name}` replaced by the value in `env` (a select_multiple's picks
    joined by spaces, as ODK writes them)."""
    if "${" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        found = env.get(match[1])
        if found is None:
            return ""
        if isinstance(found, list | tuple):
            return " ".join(to_string(item) for item in found)
        return to_string(found)

    return _REFERENCE.sub(value, text)
