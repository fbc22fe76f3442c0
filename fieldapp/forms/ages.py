"""Age answers that follow from one another, so they can never disagree: the age in years
computed from a date of birth, and the age band from whichever age is known.

Forms name them by convention (`date_of_birth`, `age_years`, `age_band` with choices such as
`18_24` and `60_plus`); a form without them is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from fieldapp.forms.spec import FieldSpec, FormSpec

__all__ = ["AGE_BAND", "AGE_YEARS", "DATE_OF_BIRTH", "age_on", "derived_ages"]

DATE_OF_BIRTH = "date_of_birth"
AGE_YEARS = "age_years"
AGE_BAND = "age_band"
_BAND = re.compile(r"^(\d+)_(\d+|plus)$")


def age_on(born: date, today: date) -> int:
    """Whole years from `born` to `today` (negative when `born` is later)."""
    years = today.year - born.year
    return years - ((today.month, today.day) < (born.month, born.day))


def _field(spec: FormSpec, name: str) -> FieldSpec | None:
    try:
        node = spec.node(name)
    except KeyError:
        return None
    return node if isinstance(node, FieldSpec) else None


def _birth(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _years(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _band_for(spec: FormSpec, band: FieldSpec, years: int) -> str | None:
    for choice in spec.choices.get(band.choices or "", []):
        found = _BAND.match(choice.value)
        if found is None:
            continue
        low, high = int(found[1]), found[2]
        if years >= low and (high == "plus" or years <= int(high)):
            return choice.value
    return None


def derived_ages(spec: FormSpec, values: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The answers that follow from the others: `age_years` from a date of birth that is not
    in the future, `age_band` from that age or the one typed. Empty when nothing follows (no
    such fields, nothing known yet, or a date of birth in the future: that one is an error of
    its own, never an age)."""
    age_field, band_field = _field(spec, AGE_YEARS), _field(spec, AGE_BAND)
    derived: dict[str, Any] = {}
    years = _years(values.get(AGE_YEARS)) if age_field is not None else None
    born = _birth(values.get(DATE_OF_BIRTH)) if _field(spec, DATE_OF_BIRTH) else None
    if born is not None:
        if born > today:
            return {}
        years = age_on(born, today)
        if age_field is not None:
            derived[AGE_YEARS] = years
    if band_field is not None and years is not None and 0 <= years <= 130:
        band = _band_for(spec, band_field, years)
        if band is not None:
            derived[AGE_BAND] = band
    return derived
