"""The functions a form may call: their arity, what they yield, and how they run."""

from __future__ import annotations

import datetime
import functools
import math
import re
import re._constants as _sre_constants  # CPython's regex parser: the only way to see
import re._parser as _sre_parser  # a pattern's structure (3.11+ names)
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Protocol

from fieldapp.forms.expr.linear_regex import LinearPattern
from fieldapp.forms.expr.values import (
    EPOCH,
    SEQUENCES,
    Nodeset,
    ShapeKind,
    boolean,
    finite,
    is_empty,
    numeric,
    scalar_string,
    to_number,
    to_string,
    to_temporal,
)

MAX_PATTERN_LENGTH = 256
MAX_STRING_LENGTH = 100_000


Rows = Sequence[Mapping[str, Any]]


@dataclass(slots=True)
class Context:
    """What one evaluation reads (made per evaluation; a lookup sets `item` while it tests
    each row)."""

    env: Mapping[str, Any]
    current: Any
    today: datetime.date | None
    now: datetime.datetime | None
    # Secondary instances by name: choice lists and attached CSVs, as rows of column -> value,
    # for instance('name')/root/item[...] and pulldata('name', ...).
    instances: Mapping[str, Rows] = field(default_factory=dict)
    # jr:choice-name(): field name -> {choice value: label} in the language shown.
    choice_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    seed: str | None = None  # random() and uuid() are stable for one seed (a record's id)
    position: int | None = None  # the repeat instance's 1-based position, if the env is not
    # a ChainMap whose first map is that instance (then it is found there)
    item: Mapping[str, Any] | None = None  # inside a predicate: the row it tests
    item_position: int = 0

    def now_value(self) -> datetime.datetime:
        """The given `now` (naive means local time), else the clock, with its UTC offset."""
        moment = self.now or datetime.datetime.now()
        return moment if moment.tzinfo else moment.astimezone()

    def today_value(self) -> datetime.date:
        """The given `today`, else the date of the given `now`, else the clock's date."""
        if self.today is not None:
            return self.today
        return self.now_value().date() if self.now is not None else datetime.date.today()


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    run: Callable[[Context, list[Any]], Any] = field(repr=False)
    # What it yields: a kind of value, or one of the arguments at these positions.
    returns: ShapeKind | tuple[int, ...] = "open"

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' * (self.min_args != 1)}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' * (self.min_args != 1)}"
        return f"{self.min_args} to {self.max_args} arguments"


class Pattern(Protocol):
    def search(self, string: str, /) -> object: ...  # truthy when the pattern matches


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Pattern:
    """Compile a regex() pattern once; ValueError names what is wrong with it. A pattern
    that repeats a repetition (like (a+)+) could take exponential time in `re` and freeze
    the app on a short answer: it runs on the linear-time matcher instead."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern, re.ASCII)
        nested = _nested_repeat(_sre_parser.parse(pattern, re.ASCII), inside=False)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
    return LinearPattern.compile(pattern) if nested else compiled


_REPEATS = frozenset({_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT})


def _nested_repeat(items: Any, *, inside: bool) -> bool:
    """Whether an unbounded repetition sits inside another: Python's backtracking engine
    takes exponential time on such patterns (ReDoS), and `re` has no time limit."""
    for op, arg in items:
        children: list[Any] = []
        if op in _REPEATS:
            low, high, sub = arg
            unbounded = high == _sre_constants.MAXREPEAT or high - low > 1
            if inside and unbounded:
                return True
            if _nested_repeat(sub, inside=inside or unbounded):
                return True
        elif op == _sre_constants.SUBPATTERN:
            children = [arg[-1]]
        elif op == _sre_constants.BRANCH:
            children = list(arg[1])
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            children = [arg[1]]
        if any(_nested_repeat(child, inside=inside) for child in children):
            return True
    return False


def _regex(_: Context, args: list[Any]) -> bool:
    try:
        compiled = compile_pattern(to_string(args[1]))
    except ValueError:  # a pattern taken from the data: no match rather than a crash
        return False
    return bool(compiled.search(to_string(args[0])))


def _choices(value: Any) -> list[str]:
    if isinstance(value, SEQUENCES):
        return [text for text in map(scalar_string, value) if text]
    return to_string(value).split()


def _count(value: Any) -> int:
    if isinstance(value, SEQUENCES):
        return len(value)
    return 0 if value is None else 1


def _int(value: Any) -> int | float | None:
    number = numeric(value)
    return None if number is None else finite(math.trunc(number))


def _round(value: Any, digits: Any = 0) -> int | float | None:
    """Round half away from zero, on the shortest decimal form of the number (2.675 -> 2.68)."""
    number, places = numeric(value), numeric(digits)
    if number is None or places is None:
        return None
    places = max(-400, min(math.trunc(places), 20))
    with localcontext() as context:
        context.prec = 800
        rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return finite(int(rounded) if places <= 0 else float(rounded))


def _concat(values: list[Any]) -> str | None:
    parts = [
        "".join(map(to_string, value)) if isinstance(value, Nodeset) else to_string(value)
        for value in values
    ]  # a repeat's field, read from outside: every instance's value
    if sum(map(len, parts)) > MAX_STRING_LENGTH:
        return None
    return "".join(parts)


_LOOSE_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)


def _date(value: Any) -> str | None:
    """A date string: from a date or datetime string, or from days since 1970-01-01."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and (loose := _LOOSE_DATE_RE.fullmatch(value.strip())):
        value = "{:0>4}-{:0>2}-{:0>2}".format(*loose.groups())  # 1970-1-2 is 1970-01-02
    moment = to_temporal(value)
    if isinstance(moment, datetime.datetime):
        return moment.date().isoformat()
    if isinstance(moment, datetime.date):
        return moment.isoformat()
    days = to_number(value)
    if days is None:
        return None
    try:
        return (EPOCH + datetime.timedelta(days=math.floor(days))).isoformat()
    except OverflowError:
        return None


def _extreme(pick: Callable[[list[int | float]], int | float]) -> Callable[..., Any]:
    """min()/max() over numbers and lists of numbers; any empty or non-number gives empty."""

    def run(_: Context, args: list[Any]) -> int | float | None:
        values = [item for arg in args for item in (arg if isinstance(arg, SEQUENCES) else [arg])]
        numbers = [numeric(value) for value in values]
        if not numbers or any(number is None for number in numbers):
            return None
        return pick([number for number in numbers if number is not None])

    return run


def _table(*functions: Function) -> dict[str, Function]:
    return {function.name: function for function in functions}


FUNCTIONS = _table(
    Function("selected", 2, 2, lambda _, a: to_string(a[1]).strip() in _choices(a[0]), "boolean"),
    Function("count-selected", 1, 1, lambda _, a: len(_choices(a[0])), "number"),
    Function("string-length", 1, 1, lambda _, a: len(to_string(a[0])), "number"),
    Function("regex", 2, 2, _regex, "boolean"),
    Function("today", 0, 0, lambda ctx, _: ctx.today_value().isoformat(), "date"),
    Function("now", 0, 0, lambda ctx, _: ctx.now_value().isoformat(timespec="seconds")),
    # never run: evaluate_node picks one branch lazily
    Function("if", 3, 3, lambda _, a: None, (1, 2)),
    Function("coalesce", 2, 2, lambda _, a: a[1] if is_empty(a[0]) else a[0], (0, 1)),
    Function("not", 1, 1, lambda _, a: not boolean(a[0]), "boolean"),
    Function("true", 0, 0, lambda _, a: True, "boolean"),
    Function("false", 0, 0, lambda _, a: False, "boolean"),
    Function("boolean", 1, 1, lambda _, a: boolean(a[0]), "boolean"),
    Function("count", 1, 1, lambda _, a: _count(a[0]), "number"),
    Function("int", 1, 1, lambda _, a: _int(a[0]), "number"),
    Function("number", 1, 1, lambda _, a: numeric(a[0]), "number"),
    Function("string", 1, 1, lambda _, a: to_string(a[0])),
    Function("concat", 0, None, lambda _, a: _concat(a)),
    Function("round", 1, 2, lambda _, a: _round(*a), "number"),
    Function("contains", 2, 2, lambda _, a: to_string(a[1]) in to_string(a[0]), "boolean"),
    Function(
        "starts-with", 2, 2, lambda _, a: to_string(a[0]).startswith(to_string(a[1])), "boolean"
    ),
    Function("date", 1, 1, lambda _, a: _date(a[0]), "date"),
    Function("min", 1, None, _extreme(min), "number"),
    Function("max", 1, None, _extreme(max), "number"),
)
