"""Choice sets: long choice lists shipped with the app as data (`assets/choices/<name>.json`),
that a form names instead of copying (`"choice_sets": {"subdivisions": "iso3166-2..."}`).

The ISO 3166-2 subdivisions (5,046 provinces, states and regions, from pycountry by
tools/subdivisions.py) are one: copied into each form they would weigh 500 KB a version. A
set's file name carries its source's version and a file never changes once a form names it,
so a published form version keeps its meaning.

A file holds `columns` (`value`, extra columns such as `country`, and a `label::<lang>` per
language, as an XLSForm choices sheet) and `rows`; an empty label falls back to the form's
default language.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from fieldapp.errors import FormError
from fieldapp.paths import assets_dir

__all__ = ["SET_NAME_RE", "choice_set_rows"]

SET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$")  # no '/', no '..'
_LABEL = "label::"


@cache
def choice_set_rows(name: str) -> tuple[dict[str, Any], ...]:
    """The set's choices as `{"value", "label": {lang: text}, "columns": {...}}` dicts, read
    once. Raises FormError naming the set when it is unknown or its file is malformed."""
    if not SET_NAME_RE.match(name):
        raise FormError(f"choice set {name!r}: a name uses only a-z, 0-9, '.', '_' and '-'")
    path = assets_dir() / "choices" / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        columns: list[str] = document["columns"]
        rows: list[list[str]] = document["rows"]
    except FileNotFoundError:
        raise FormError(f"choice set {name!r} is not in this app (no {path.name})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise FormError(f"choice set {name!r}: {path.name} is malformed ({exc})") from None
    if not columns or columns[0] != "value":
        raise FormError(f"choice set {name!r}: the first column must be 'value'")
    languages = [i for i, c in enumerate(columns) if c.startswith(_LABEL)]
    extra = [i for i, c in enumerate(columns) if i and i not in languages]
    out = []
    for row in rows:
        if len(row) != len(columns):
            raise FormError(f"choice set {name!r}: row {row[:1]} has {len(row)} cells")
        out.append(
            {
                "value": row[0],
                "label": {columns[i].removeprefix(_LABEL): row[i] for i in languages if row[i]},
                "columns": {columns[i]: row[i] for i in extra if row[i]},
            }
        )
    return tuple(out)
