"""A record's title in lists: its case code, its `instance_name`, or its title answer.

PROVISIONAL (issue #15, records list): the drafts work exports the project's record-title
function from `fieldapp.forms`; this minimal one stands in until then, and the two are to be
unified when both are merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TITLE_FIELDS", "provisional_record_title"]

# The answers that name a record, the first one given wins: a victim record's pseudonymous case
# code, an XLSForm `instance_name` calculation, a training event's title.
TITLE_FIELDS = ("case_code", "instance_name", "title")


def provisional_record_title(values: Mapping[str, Any]) -> str | None:
    """The first non-empty answer of TITLE_FIELDS in `values`, stripped; None if none."""
    for name in TITLE_FIELDS:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
