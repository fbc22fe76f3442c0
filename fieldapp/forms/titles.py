"""What a record is called in a list (a draft, a search result): its form's `instance_name`
evaluated over its answers, else its case code, else its title answer (a training event's);
None when it has none yet (the caller shows the form's title)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fieldapp.forms.expr import ExpressionError, parse
from fieldapp.forms.spec import FormSpec

__all__ = ["CASE_CODE", "TITLE", "record_title"]

CASE_CODE = "case_code"  # the field a case is known by when the form names no instance_name
TITLE = "title"  # a training event's title
_MAX_TITLE = 80


def record_title(spec: FormSpec, values: Mapping[str, Any]) -> str | None:
    """The record's title from its (clean or raw) answers: `instance_name` if the form has one
    and it gives some text, else the case code, else the title answer; None when none is."""
    if spec.instance_name:
        try:
            named = parse(spec.instance_name).evaluate(values)
        except ExpressionError:
            named = None
        text = " ".join(str(named).split()) if named not in (None, "") else ""
        if any(c.isalnum() for c in text):  # not just the separators of empty answers
            return text[:_MAX_TITLE]
    for name in (CASE_CODE, TITLE):
        answer = values.get(name)
        if isinstance(answer, str) and answer.strip():
            return answer.strip()[:_MAX_TITLE]
    return None
