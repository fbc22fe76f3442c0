"""Values and conversions: XPath string(), number(), boolean(), dates as days since 1970, and
the kinds of value an expression can yield."""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal
from typing import Any, Literal

_MAX_EXACT_INT = 2**53
SEQUENCES = (list, tuple)
_GEOPOINT_KEYS = ("lat", "lon", "alt", "accuracy")
EPOCH = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class Nodeset(tuple[Any, ...]):
    """Several values read by one reference, as an XPath node-set: the values of a field in
    every instance of a repeat (inside `sum()`, `count()`, `join()`...), or the matches of an
    `instance('list')/root/item[...]` lookup. `string()` and `number()` read the first value,
    `=` holds when any value matches, `boolean()` is whether there is any value."""

    __slots__ = ()


def boolean(value: Any) -> bool:
    """XPath boolean(): None, '', 0, NaN, False and empty lists are false; the rest true."""
    if value is None:
        return False
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    return bool(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, SEQUENCES) and not value)


def finite(number: int | float) -> int | float | None:
    """Keep numbers finite and integers within double precision (see the package docstring)."""
    if isinstance(number, int):
        if -_MAX_EXACT_INT <= number <= _MAX_EXACT_INT:
            return number
        try:
            number = float(number)
        except OverflowError:
            return None
    return number if math.isfinite(number) else None


def _format_number(number: int | float) -> str:
    """XPath string() of a number: no exponent, no '.0'; integers past 2**53 as doubles."""
    if isinstance(number, int):
        if abs(number) <= _MAX_EXACT_INT:
            return str(number)
        if number.bit_length() > 1023:  # beyond the largest double
            return "Infinity" if number > 0 else "-Infinity"
        number = float(number)
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if number.is_integer():
        return str(int(number))
    text = repr(number)
    return format(Decimal(text), "f") if "e" in text else text


def scalar_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _format_number(value)
    if isinstance(value, dict) and "lat" in value and "lon" in value:  # geopoint, as ODK
        return " ".join(scalar_string(value.get(key)) or "0" for key in _GEOPOINT_KEYS)
    return ""


def to_string(value: Any) -> str:
    """XPath string(); a list (select_multiple) gives its values joined by spaces; a
    `Nodeset` its first value."""
    if isinstance(value, Nodeset):
        return to_string(value[0]) if value else ""
    if isinstance(value, SEQUENCES):
        return " ".join(text for text in map(scalar_string, value) if text)
    return scalar_string(value)


_XPATH_NUMBER_RE = re.compile(r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*", re.ASCII)


def to_number(value: Any) -> int | float | None:
    """XPath number(), with None where XPath gives NaN."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return finite(value)
    match = _XPATH_NUMBER_RE.fullmatch(to_string(value))
    if match is None:
        return None
    text = match.group(1)
    return finite(int(text) if "." not in text and len(text) <= 18 else float(text))


_DATE_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*", re.ASCII)
_DATETIME_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}T.*", re.ASCII | re.DOTALL)


def to_temporal(value: Any) -> datetime.date | datetime.datetime | None:
    """A date string as a date, a datetime string as an aware datetime (naive means UTC)."""
    if isinstance(value, Nodeset):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    try:
        if _DATE_RE.fullmatch(value):
            return datetime.date.fromisoformat(value.strip())
        if _DATETIME_RE.fullmatch(value):
            moment = datetime.datetime.fromisoformat(value.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    except ValueError:
        pass
    return None


def numeric(value: Any) -> int | float | None:
    """A number for arithmetic and ordering: numbers as number(), dates as days since 1970."""
    number = to_number(value)
    if number is not None:
        return number
    moment = to_temporal(value)
    if isinstance(moment, datetime.datetime):
        return (moment - _EPOCH_UTC).total_seconds() / 86400
    if isinstance(moment, datetime.date):
        return (moment - EPOCH).days
    return None


_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0", ""})


def loose_boolean(value: Any) -> bool:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    return boolean(value)


ShapeKind = Literal["empty", "boolean", "number", "date", "choice", "open"]
