"""The rest of the ODK XPath function set used by real forms (strings, numbers, dates, repeats,
secondary instances, digests), added to the `FUNCTIONS` table of `functions`.

Functions that need more than values (`position`, `indexed-repeat`, the lookups) are run by the
evaluator, which knows the repeat instance and the rows; here they only declare their arity.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fieldapp.forms.expr.functions import (
    FUNCTIONS,
    MAX_STRING_LENGTH,
    Context,
    Function,
)
from fieldapp.forms.expr.values import (
    SEQUENCES,
    Nodeset,
    boolean,
    finite,
    is_empty,
    numeric,
    to_number,
    to_string,
    to_temporal,
)

_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _flat(values: list[Any]) -> Iterator[Any]:
    """The values of the arguments, a Nodeset or list (a repeat's field) giving each of its."""
    for value in values:
        if isinstance(value, SEQUENCES):
            yield from value
        else:
            yield value


def _sum(_: Context, args: list[Any]) -> int | float | None:
    total: int | float = 0
    for value in _flat(args):
        number = numeric(value)
        if number is None:
            return None
        total += number
    return finite(total)


def _join(_: Context, args: list[Any]) -> str | None:
    parts = [to_string(value) for value in _flat(args[1:])]
    text = to_string(args[0]).join(parts)
    return None if len(text) > MAX_STRING_LENGTH else text


def _count_non_empty(_: Context, args: list[Any]) -> int:
    return sum(1 for value in _flat(args) if not is_empty(value))


def _integer(value: Any) -> int | None:
    number = to_number(value)
    if number is None:
        return None
    return math.trunc(number)


def _substr(_: Context, args: list[Any]) -> str:
    """substr(s, start, end): 0-based, end exclusive; a negative position counts from the
    end (as ODK's, like a Python slice)."""
    text = to_string(args[0])
    start = _integer(args[1])
    end = _integer(args[2]) if len(args) > 2 else len(text)
    if start is None or end is None:
        return ""
    return text[start:end]


def _xpath_round(number: float) -> float:
    return math.floor(number + 0.5)


def _substring(_: Context, args: list[Any]) -> str:
    """XPath substring(s, start, length?): 1-based; positions rounded; NaN selects nothing."""
    text = to_string(args[0])
    start = to_number(args[1])
    if start is None:
        return ""
    first = _xpath_round(start)
    if len(args) > 2:
        length = to_number(args[2])
        if length is None:
            return ""
        last = first + _xpath_round(length)
    else:
        last = math.inf
    return "".join(char for index, char in enumerate(text, start=1) if first <= index < last)


def _substring_before(_: Context, args: list[Any]) -> str:
    text, sep = to_string(args[0]), to_string(args[1])
    if not sep:
        return ""
    before, found, _after = text.partition(sep)
    return before if found else ""


def _substring_after(_: Context, args: list[Any]) -> str:
    text, sep = to_string(args[0]), to_string(args[1])
    if not sep:
        return text
    _before, found, after = text.partition(sep)
    return after if found else ""


_XML_SPACE = re.compile(r"[ \t\r\n]+")


def _normalize_space(_: Context, args: list[Any]) -> str:
    """XPath normalize-space(): runs of XML white space (space, tab, CR, LF) become one."""
    return _XML_SPACE.sub(" ", to_string(args[0])).strip(" \t\r\n")


def _translate(_: Context, args: list[Any]) -> str:
    text, source, target = (to_string(arg) for arg in args)
    table: dict[int, int | None] = {}
    for index, char in enumerate(source):
        table.setdefault(ord(char), ord(target[index]) if index < len(target) else None)
    return text.translate(table)


def _selected_at(_: Context, args: list[Any]) -> str:
    values = args[0] if isinstance(args[0], list) else to_string(args[0]).split()
    index = _integer(args[1])
    if index is None or not 0 <= index < len(values):
        return ""
    return to_string(values[index])


def _math(compute: Callable[..., float]) -> Callable[[Context, list[Any]], int | float | None]:
    def run(_: Context, args: list[Any]) -> int | float | None:
        numbers = [numeric(arg) for arg in args]
        if any(number is None for number in numbers):
            return None
        try:
            return finite(compute(*numbers))
        except (ValueError, OverflowError, ZeroDivisionError):
            return None

    return run


def _power(base: float, exponent: float) -> float:
    result = math.pow(base, exponent)
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        return int(result) if abs(result) <= 2**53 else result
    return result


def _true_string(value: Any) -> bool:
    """boolean-from-string(): exactly 'true' or '1' (a stored boolean answer too)."""
    return value is True or to_string(value) in ("true", "1")


def _checklist(_: Context, args: list[Any]) -> bool:
    low, high = to_number(args[0]), to_number(args[1])
    ticked = sum(1 for value in _flat(args[2:]) if _true_string(value))
    return _within(ticked, low, high)


def _weighted_checklist(_: Context, args: list[Any]) -> bool:
    low, high = to_number(args[0]), to_number(args[1])
    pairs = args[2:]
    total: int | float = 0
    for value, weight in zip(pairs[::2], pairs[1::2], strict=False):
        if _true_string(value):
            total += to_number(weight) or 0
    return _within(total, low, high)


def _within(count: int | float, low: int | float | None, high: int | float | None) -> bool:
    if low is None or high is None:
        return False
    return (low < 0 or count >= low) and (high < 0 or count <= high)


def _moment(value: Any) -> datetime.datetime | None:
    """A date, datetime or number of days since 1970 as an aware datetime (dates at midnight
    UTC, datetimes in their own offset)."""
    found = to_temporal(value)
    if isinstance(found, datetime.datetime):
        return found
    if isinstance(found, datetime.date):
        return datetime.datetime.combine(found, datetime.time(), datetime.UTC)
    days = to_number(value) if not is_empty(value) else None
    if days is None:
        return None
    try:
        return _EPOCH_UTC + datetime.timedelta(days=days)
    except OverflowError:
        return None


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_FORMATS: dict[str, Callable[[datetime.datetime], str]] = {
    "Y": lambda m: f"{m.year:04d}",
    "y": lambda m: f"{m.year % 100:02d}",
    "m": lambda m: f"{m.month:02d}",
    "n": lambda m: str(m.month),
    "b": lambda m: _MONTHS[m.month - 1],
    "d": lambda m: f"{m.day:02d}",
    "e": lambda m: str(m.day),
    "a": lambda m: _DAYS[m.weekday()],
    "H": lambda m: f"{m.hour:02d}",
    "h": lambda m: str(m.hour),
    "M": lambda m: f"{m.minute:02d}",
    "S": lambda m: f"{m.second:02d}",
    "3": lambda m: f"{m.microsecond // 1000:03d}",
}


def _format_date(_: Context, args: list[Any]) -> str:
    """format-date(value, pattern): %Y %y %m %n %b %d %e %a %H %h %M %S %3 as in ODK, English
    month and day names; a datetime keeps the UTC offset it was written with."""
    moment = _moment(args[0])
    if moment is None:
        return ""
    pattern = to_string(args[1])
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "%" and index + 1 < len(pattern):
            code = pattern[index + 1]
            out.append(_FORMATS[code](moment) if code in _FORMATS else code)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _date_time(_: Context, args: list[Any]) -> str | None:
    """date-time(x): a date or datetime as written; a number of days since 1970 (UTC) as an
    ISO datetime."""
    if isinstance(args[0], bool):
        return None
    if to_temporal(args[0]) is not None:
        return to_string(args[0]).strip()
    moment = _moment(args[0])
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds")


def _decimal_date_time(_: Context, args: list[Any]) -> float | int | None:
    found = to_temporal(args[0])
    if found is None:
        return None
    return numeric(args[0])


_TIME_RE = re.compile(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)(?:Z|[+-](\d\d):(\d\d))?")


def _decimal_time(_: Context, args: list[Any]) -> float | None:
    """decimal-time('HH:MM:SS[.sss][offset]'): the fraction of the day, as written (the
    offset is checked, not applied)."""
    match = _TIME_RE.fullmatch(to_string(args[0]).strip())
    if match is None:
        return None
    hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3])
    offset_hours, offset_minutes = int(match[4] or 0), int(match[5] or 0)
    if hours > 23 or minutes > 59 or seconds >= 60 or offset_hours > 14 or offset_minutes > 59:
        return None
    return (hours * 3600 + minutes * 60 + seconds) / 86400


def _once(context: Context, args: list[Any]) -> Any:
    """once(x): the value already there (`current`, the field's stored value) if any, else x."""
    return args[0] if is_empty(context.current) else context.current


def _random_source(context: Context, salt: str) -> random.Random:
    if context.seed is None:
        return random.Random()  # noqa: S311 - not for secrets: a form's random() draw
    return random.Random(f"{context.seed}/{salt}")  # noqa: S311


def _random(context: Context, args: list[Any]) -> float:
    return _random_source(context, to_string(args[-1]) if args else "").random()


def _uuid(context: Context, args: list[Any]) -> str:
    """uuid(): a version 4 UUID (stable for one seed); uuid(n): n random letters and digits."""
    source = _random_source(context, "uuid")
    if args:
        length = _integer(args[0])
        if length is None or not 0 <= length <= 1024:
            return ""
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(source.choice(alphabet) for _ in range(length))
    if context.seed is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=source.getrandbits(128), version=4))


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
_DIGESTS["SHA-512"] = "sha512"


def _digest(_: Context, args: list[Any]) -> str | None:
    """digest(data, 'MD5'|'SHA-1'|'SHA-256'|'SHA-384'|'SHA-512', 'base64'|'hex')."""
    algorithm = _DIGESTS.get(to_string(args[1]).upper())
    encoding = to_string(args[2]).lower() if len(args) > 2 else "base64"
    if algorithm is None or encoding not in ("base64", "hex"):
        return None
    digest = hashlib.new(algorithm, to_string(args[0]).encode()).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def _pulldata(context: Context, args: list[Any]) -> str:
    """pulldata(instance, column, key column, key): the column of the first row whose key
    column holds the key, from an attached CSV (`instances`)."""
    name, column, key_column = (to_string(arg) for arg in args[:3])
    key = to_string(args[3])
    for row in context.instances.get(name) or ():
        if to_string(row.get(key_column)) == key:
            return to_string(row.get(column))
    return ""


def _choice_name(context: Context, args: list[Any]) -> str:
    """jr:choice-name(value, '${field}'): the label of the field's choice with that value, in
    the language the caller gave (`choice_names`)."""
    reference = to_string(args[1]).strip()
    if reference.startswith("${") and reference.endswith("}"):
        field = reference[2:-1]
    else:  # an XPath such as '/data/field' or '../field'
        field = reference.rstrip("/").rsplit("/", 1)[-1]
    labels = context.choice_names.get(field) or {}
    return labels.get(to_string(args[0]).strip(), "")


def _boolean_from_string(_: Context, args: list[Any]) -> bool:
    return _true_string(args[0])


def _lazy(_: Context, args: list[Any]) -> None:  # pragma: no cover - run by the evaluator
    return None


FUNCTIONS.update(
    {
        function.name: function
        for function in (
            Function("sum", 1, 1, _sum, "number"),
            Function("join", 1, None, _join),
            Function("count-non-empty", 1, 1, _count_non_empty, "number"),
            Function("substr", 2, 3, _substr),
            Function("substring", 2, 3, _substring),
            Function("substring-before", 2, 2, _substring_before),
            Function("substring-after", 2, 2, _substring_after),
            Function("normalize-space", 1, 1, _normalize_space),
            Function("translate", 3, 3, _translate),
            Function(
                "ends-with",
                2,
                2,
                lambda _, a: to_string(a[0]).endswith(to_string(a[1])),
                "boolean",
            ),
            Function("selected-at", 2, 2, _selected_at),
            Function("floor", 1, 1, _math(math.floor), "number"),
            Function("ceiling", 1, 1, _math(math.ceil), "number"),
            Function("abs", 1, 1, _math(abs), "number"),
            Function("pow", 2, 2, _math(_power), "number"),
            Function("exp", 1, 1, _math(math.exp), "number"),
            Function("exp10", 1, 1, _math(lambda x: math.pow(10, x)), "number"),
            Function("log", 1, 1, _math(math.log), "number"),
            Function("log10", 1, 1, _math(math.log10), "number"),
            Function("sqrt", 1, 1, _math(math.sqrt), "number"),
            Function("sin", 1, 1, _math(math.sin), "number"),
            Function("cos", 1, 1, _math(math.cos), "number"),
            Function("tan", 1, 1, _math(math.tan), "number"),
            Function("asin", 1, 1, _math(math.asin), "number"),
            Function("acos", 1, 1, _math(math.acos), "number"),
            Function("atan", 1, 1, _math(math.atan), "number"),
            Function("atan2", 2, 2, _math(math.atan2), "number"),
            Function("pi", 0, 0, lambda _, a: math.pi, "number"),
            Function("boolean-from-string", 1, 1, _boolean_from_string, "boolean"),
            Function("checklist", 2, None, _checklist, "boolean"),
            Function("weighted-checklist", 2, None, _weighted_checklist, "boolean"),
            Function("format-date", 2, 2, _format_date),
            Function("format-date-time", 2, 2, _format_date),
            Function("date-time", 1, 1, _date_time),
            Function("decimal-date-time", 1, 1, _decimal_date_time, "number"),
            Function("decimal-time", 1, 1, _decimal_time, "number"),
            Function("once", 1, 1, _once, (0,)),
            Function("random", 0, 0, _random, "number"),
            Function("uuid", 0, 1, _uuid),
            Function("digest", 2, 3, _digest),
            Function("pulldata", 4, 4, _pulldata),
            Function("jr:choice-name", 2, 2, _choice_name),
            # Run by the evaluator (they read the repeat instance, not only values):
            Function("position", 0, 1, _lazy, "number"),
            Function("indexed-repeat", 3, 9, _lazy),
        )
    }
)
# Nodeset is re-exported for the evaluator's lookups.
__all__ = ["FUNCTIONS", "Nodeset", "boolean"]
