"""The form expression language: the XLSForm/XPath subset of `relevant`, `constraint`,
`calculation`, `required` (when an expression) and `choice_filter`.

A source is parsed once (cached) into a small tree that is evaluated by walking it; nothing is
ever handed to `eval`. Sources are untrusted (forms can be imported), so the parser refuses
sources over `MAX_SOURCE_LENGTH` characters and nesting deeper than `MAX_DEPTH` *before*
recursing: no input can exhaust the Python stack or hang the parser.

Values are the submission values of docs/architecture.md: None is empty; str, int, float,
bool; list[str] for select_multiple; list[dict] for a repeat; "YYYY-MM-DD" dates; ISO datetimes;
geopoint dicts. Semantics follow XPath 1.0 and ODK, with these choices:

- Numbers are int or float and always finite. Where XPath would give NaN or Infinity
  (`number('abc')`, `1 div 0`, `5 mod 0`, overflow) the result is empty (None). Integers beyond
  2**53 become floats, as XPath numbers are doubles (this also bounds integer growth).
- Empty (None, '' or an empty list) propagates through arithmetic, makes `<`, `<=`, `>`, `>=`
  false, and equals ''.
- `=`/`!=`: if either side is a bool, both compare as booleans ('true', 'yes', '1' are true;
  'false', 'no', '0', '' false; other values by `boolean()`); else if either side is a number and
  the other converts to one, numerically; else as strings (a list as its space-joined values).
- Arithmetic, ordering, `number()`, `min()`, `max()` read a date as days since 1970-01-01 and a
  datetime as fractional days (UTC), so `int((today() - ${dob}) div 365.25)` is an age and two
  dates order correctly. Ordering compares numerically when both sides are numbers or dates,
  else as strings.
- `regex(s, pattern)` succeeds when the pattern matches anywhere in `s`, as in ODK Collect and
  Enketo: anchor it (`^...$`) to match the whole value. Classes like `\\d` and `\\w` are ASCII
  only, as in Java and JavaScript. Python's `re` has no time limit, so a form author can still
  write a catastrophically backtracking pattern; patterns are capped at 256 characters.
- `concat()` results over 100,000 characters are empty (None) rather than an error: the data,
  not the form, is at fault.
- Evaluation never raises: a value of the wrong kind gives None (or False for a test).

`Expression.shape` tells, from the syntax and the shapes of the fields referred to, what an
expression can yield (a `Shape`: true/false, a number, a date, one of its quoted values, or
anything): `fieldapp.forms.spec.Statistics` uses it to keep statistical calculations coarse.
"""

from __future__ import annotations

import datetime
import functools
import math
import operator
import re
import re._constants as _sre_constants  # CPython's regex parser: the only way to see
import re._parser as _sre_parser  # a pattern's structure (3.11+ names)
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal, NamedTuple, TypeVar

from fieldapp.errors import FormError

__all__ = [
    "CLOCK_FUNCTIONS",
    "NAME_RE",
    "Expression",
    "ExpressionError",
    "Shape",
    "boolean",
    "parse",
]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a field name, as ${name} refers to it

MAX_SOURCE_LENGTH = 4096
MAX_DEPTH = 64
MAX_PATTERN_LENGTH = 256
MAX_STRING_LENGTH = 100_000
_MAX_EXACT_INT = 2**53
_SEQUENCES = (list, tuple)
_GEOPOINT_KEYS = ("lat", "lon", "alt", "accuracy")
_EPOCH = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_T = TypeVar("_T")


class ExpressionError(FormError):
    """An expression is invalid; the message names the problem and the 1-based column."""

    def __init__(self, problem: str, source: str = "", column: int | None = None) -> None:
        self.source = source
        self.column = column
        where = f" at column {column}" if column is not None else ""
        shown = source if len(source) <= 200 else source[:200] + "…"
        super().__init__(f"{problem}{where} in: {shown}" if source else problem)


# ---------------------------------------------------------------------------------------------
# Tokens

_TOKEN_RE = re.compile(
    r"""
      (?P<space>(?u:\s)+)
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<ref>\$\{[^}]*\})
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>!=|<=|>=|[=<>+\-*(),.])
    """,
    re.VERBOSE | re.ASCII,
)
_KEYWORD_OPERATORS = frozenset({"and", "or", "div", "mod"})
_PRECEDENCE = {
    "or": 0, "and": 1, "=": 2, "!=": 2, "<": 3, "<=": 3, ">": 3, ">=": 3,
    "+": 4, "-": 4, "*": 5, "div": 5, "mod": 5,
}  # fmt: skip


class _Token(NamedTuple):
    kind: str  # number, string, ref, name, op or end
    text: str
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise ExpressionError(_bad_character(source, position), source, position + 1)
        kind = match.lastgroup or ""
        if kind == "ref" and not NAME_RE.fullmatch(match.group()[2:-1]):
            raise ExpressionError(f"invalid field name in {match.group()!r}", source, position + 1)
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _bad_character(source: str, position: int) -> str:
    char = source[position]
    if char in "'\"":
        return "unterminated string"
    if char == "$":
        return "a field reference must look like ${name}"
    if char == "/":
        return "unexpected '/' (XPath paths are not supported: refer to a field as ${name})"
    return f"unexpected character {char!r}"


# ---------------------------------------------------------------------------------------------
# Syntax tree: every node knows its height, which the parser keeps under MAX_DEPTH so that
# evaluating (which recurses) stays far from the recursion limit.


@dataclass(frozen=True, slots=True)
class _Literal:
    value: str | int | float
    height: int = 0


@dataclass(frozen=True, slots=True)
class _Ref:
    name: str
    height: int = 0


@dataclass(frozen=True, slots=True)
class _Current:
    height: int = 0


@dataclass(frozen=True, slots=True)
class _Negate:
    operand: _Node
    height: int


@dataclass(frozen=True, slots=True)
class _Chain:
    """Operators of one precedence, applied left to right (flat, so `1+1+...+1` is shallow)."""

    first: _Node
    steps: tuple[tuple[str, _Node], ...]
    height: int


@dataclass(frozen=True, slots=True)
class _Call:
    function: _Function
    args: tuple[_Node, ...]
    height: int


_Node = _Literal | _Ref | _Current | _Negate | _Chain | _Call


class _Parser:
    """Recursive descent with precedence climbing; `_descend` counts depth before recursing."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.position = 0
        self.depth = 0
        self.references: set[str] = set()
        self.functions: set[str] = set()
        self.uses_current = False

    def parse(self) -> _Node:
        node = self._binary(0)
        if self._peek().kind != "end":
            raise self._unexpected(self._peek())
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.position]

    def _advance(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _error(self, problem: str, column: int | None) -> ExpressionError:
        return ExpressionError(problem, self.source, column)

    def _unexpected(self, token: _Token) -> ExpressionError:
        if token.kind == "end":
            return self._error("unexpected end of expression", token.column)
        return self._error(f"unexpected {token.text!r}", token.column)

    def _expect(self, text: str) -> None:
        token = self._advance()
        if token.text != text or token.kind != "op":
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self._error(f"expected {text!r} but found {found}", token.column)

    def _too_deep(self) -> ExpressionError:
        return self._error(
            f"expression nested more than {MAX_DEPTH} levels deep", self._peek().column
        )

    def _height(self, *children: _Node) -> int:
        """The height of a new node; left operands deepen the tree without parser recursion."""
        height = 1 + max((child.height for child in children), default=0)
        if height > MAX_DEPTH:
            raise self._too_deep()
        return height

    def _descend(self, parse: Callable[..., _T], *args: Any) -> _T:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._too_deep()
        try:
            return parse(*args)
        finally:
            self.depth -= 1

    def _operator_precedence(self) -> int | None:
        token = self._peek()
        if token.kind == "op" or (token.kind == "name" and token.text in _KEYWORD_OPERATORS):
            return _PRECEDENCE.get(token.text)
        return None

    def _binary(self, min_precedence: int) -> _Node:
        left = self._unary()
        while (precedence := self._operator_precedence()) is not None:
            if precedence < min_precedence:
                break
            steps: list[tuple[str, _Node]] = []
            while self._operator_precedence() == precedence:
                op = self._advance().text
                steps.append((op, self._descend(self._binary, precedence + 1)))
            left = _Chain(left, tuple(steps), self._height(left, *(node for _, node in steps)))
        return left

    def _unary(self) -> _Node:
        if self._peek().text == "-" and self._peek().kind == "op":
            self._advance()
            operand = self._descend(self._unary)
            return _Negate(operand, self._height(operand))
        return self._primary()

    def _primary(self) -> _Node:
        token = self._advance()
        if token.kind == "number":
            return _Literal(self._number_literal(token))
        if token.kind == "string":
            return _Literal(token.text[1:-1])
        if token.kind == "ref":
            name = token.text[2:-1]
            self.references.add(name)
            return _Ref(name)
        if token.kind == "op" and token.text == ".":
            self.uses_current = True
            return _Current()
        if token.kind == "op" and token.text == "(":
            inner = self._descend(self._binary, 0)
            self._expect(")")
            return inner
        if token.kind == "name" and self._peek().text == "(":
            return self._descend(self._call, token)
        if token.kind == "name" and token.text not in _KEYWORD_OPERATORS:
            raise self._error(
                f"unknown name {token.text!r} (refer to a field as ${{{token.text}}})",
                token.column,
            )
        raise self._unexpected(token)

    def _number_literal(self, token: _Token) -> int | float:
        value = _finite(float(token.text) if "." in token.text else int(token.text))
        if value is None:
            raise self._error(f"number {token.text[:20]!r} is too large", token.column)
        return value

    def _call(self, name: _Token) -> _Call:
        function = _FUNCTIONS.get(name.text)
        if function is None:
            raise self._error(f"unknown function {name.text!r}", name.column)
        self.functions.add(function.name)
        self._expect("(")
        args: list[_Node] = []
        columns: list[int] = []
        if self._peek().text != ")":
            while True:
                columns.append(self._peek().column)
                args.append(self._binary(0))
                if self._peek().text != ",":
                    break
                self._advance()
        self._expect(")")
        too_many = function.max_args is not None and len(args) > function.max_args
        if len(args) < function.min_args or too_many:
            raise self._error(
                f"{name.text}() takes {function.arity_text()}, not {len(args)}", name.column
            )
        if function.name == "regex" and isinstance(pattern := args[1], _Literal):
            try:
                _compile_pattern(_string(pattern.value))
            except ValueError as error:
                raise self._error(str(error), columns[1]) from None
        return _Call(function, tuple(args), self._height(*args))


# ---------------------------------------------------------------------------------------------
# Conversions (XPath string(), number(), boolean(), plus dates)


def boolean(value: Any) -> bool:
    """XPath boolean(): None, '', 0, NaN, False and empty lists are false; the rest true."""
    if value is None:
        return False
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    return bool(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, _SEQUENCES) and not value)


def _finite(number: int | float) -> int | float | None:
    """Keep numbers finite and integers within double precision (see the module docstring)."""
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


def _scalar_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _format_number(value)
    if isinstance(value, dict) and "lat" in value and "lon" in value:  # geopoint, as ODK
        return " ".join(_scalar_string(value.get(key)) or "0" for key in _GEOPOINT_KEYS)
    return ""


def _string(value: Any) -> str:
    """XPath string(); a list (select_multiple) gives its values joined by spaces."""
    if isinstance(value, _SEQUENCES):
        return " ".join(text for text in map(_scalar_string, value) if text)
    return _scalar_string(value)


_XPATH_NUMBER_RE = re.compile(r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*", re.ASCII)


def _to_number(value: Any) -> int | float | None:
    """XPath number(), with None where XPath gives NaN."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return _finite(value)
    match = _XPATH_NUMBER_RE.fullmatch(_string(value))
    if match is None:
        return None
    text = match.group(1)
    return _finite(int(text) if "." not in text and len(text) <= 18 else float(text))


_DATE_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*", re.ASCII)
_DATETIME_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}T.*", re.ASCII | re.DOTALL)


def _to_temporal(value: Any) -> datetime.date | datetime.datetime | None:
    """A date string as a date, a datetime string as an aware datetime (naive means UTC)."""
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


def _numeric(value: Any) -> int | float | None:
    """A number for arithmetic and ordering: numbers as number(), dates as days since 1970."""
    number = _to_number(value)
    if number is not None:
        return number
    moment = _to_temporal(value)
    if isinstance(moment, datetime.datetime):
        return (moment - _EPOCH_UTC).total_seconds() / 86400
    if isinstance(moment, datetime.date):
        return (moment - _EPOCH).days
    return None


_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0", ""})


def _loose_boolean(value: Any) -> bool:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    return boolean(value)


# ---------------------------------------------------------------------------------------------
# Operators


def _equals(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _loose_boolean(left) == _loose_boolean(right)
    if _is_number(left) or _is_number(right):
        x, y = _to_number(left), _to_number(right)
        if x is not None and y is not None:
            return x == y
    return _string(left) == _string(right)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def ordered(left: Any, right: Any) -> bool:
        if _is_empty(left) or _is_empty(right):
            return False
        x, y = _numeric(left), _numeric(right)
        if x is not None and y is not None:
            return compare(x, y)
        return compare(_string(left), _string(right))

    return ordered


def _divide(x: int | float, y: int | float) -> int | float | None:
    return None if y == 0 else x / y


def _modulo(x: int | float, y: int | float) -> int | float | None:
    """XPath mod: the remainder of truncating division, with the sign of the dividend."""
    if y == 0:
        return None
    remainder = math.fmod(x, y)
    return int(remainder) if isinstance(x, int) and isinstance(y, int) else remainder


def _arithmetic(
    compute: Callable[[Any, Any], int | float | None],
) -> Callable[[Any, Any], int | float | None]:
    def apply(left: Any, right: Any) -> int | float | None:
        x, y = _numeric(left), _numeric(right)
        if x is None or y is None:
            return None
        try:
            result = compute(x, y)
        except OverflowError:
            return None
        return None if result is None else _finite(result)

    return apply


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "=": _equals,
    "!=": lambda left, right: not _equals(left, right),
    "<": _ordering(operator.lt),
    "<=": _ordering(operator.le),
    ">": _ordering(operator.gt),
    ">=": _ordering(operator.ge),
    "+": _arithmetic(operator.add),
    "-": _arithmetic(operator.sub),
    "*": _arithmetic(operator.mul),
    "div": _arithmetic(_divide),
    "mod": _arithmetic(_modulo),
}


# ---------------------------------------------------------------------------------------------
# Functions


@dataclass(frozen=True)
class _Context:
    env: Mapping[str, Any]
    current: Any
    today: datetime.date | None
    now: datetime.datetime | None

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
class _Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    run: Callable[[_Context, list[Any]], Any] = field(repr=False)
    # What it yields: a kind of value, or one of the arguments at these positions.
    returns: ShapeKind | tuple[int, ...] = "open"

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' * (self.min_args != 1)}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' * (self.min_args != 1)}"
        return f"{self.min_args} to {self.max_args} arguments"


@functools.lru_cache(maxsize=256)
def _compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a regex() pattern once; ValueError names what is wrong with it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern, re.ASCII)
        nested = _nested_repeat(_sre_parser.parse(pattern, re.ASCII), inside=False)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
    if nested:
        raise ValueError(
            f"regular expression {pattern!r} repeats a repetition (like (a+)+): it can take"
            " exponential time on a short answer and freeze the app; rewrite it without nesting"
        )
    return compiled


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


def _regex(_: _Context, args: list[Any]) -> bool:
    try:
        compiled = _compile_pattern(_string(args[1]))
    except ValueError:  # a pattern taken from the data: no match rather than a crash
        return False
    return compiled.search(_string(args[0])) is not None


def _choices(value: Any) -> list[str]:
    if isinstance(value, _SEQUENCES):
        return [text for text in map(_scalar_string, value) if text]
    return _string(value).split()


def _count(value: Any) -> int:
    if isinstance(value, _SEQUENCES):
        return len(value)
    return 0 if value is None else 1


def _int(value: Any) -> int | float | None:
    number = _numeric(value)
    return None if number is None else _finite(math.trunc(number))


def _round(value: Any, digits: Any = 0) -> int | float | None:
    """Round half away from zero, on the shortest decimal form of the number (2.675 -> 2.68)."""
    number, places = _numeric(value), _numeric(digits)
    if number is None or places is None:
        return None
    places = max(-400, min(math.trunc(places), 20))
    with localcontext() as context:
        context.prec = 800
        rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return _finite(int(rounded) if places <= 0 else float(rounded))


def _concat(values: list[Any]) -> str | None:
    parts = [_string(value) for value in values]
    if sum(map(len, parts)) > MAX_STRING_LENGTH:
        return None
    return "".join(parts)


def _date(value: Any) -> str | None:
    """A date string: from a date or datetime string, or from days since 1970-01-01."""
    moment = _to_temporal(value)
    if isinstance(moment, datetime.datetime):
        return moment.date().isoformat()
    if isinstance(moment, datetime.date):
        return moment.isoformat()
    days = _to_number(value)
    if days is None:
        return None
    try:
        return (_EPOCH + datetime.timedelta(days=math.floor(days))).isoformat()
    except OverflowError:
        return None


def _extreme(pick: Callable[[list[int | float]], int | float]) -> Callable[..., Any]:
    """min()/max() over numbers and lists of numbers; any empty or non-number gives empty."""

    def run(_: _Context, args: list[Any]) -> int | float | None:
        values = [item for arg in args for item in (arg if isinstance(arg, _SEQUENCES) else [arg])]
        numbers = [_numeric(value) for value in values]
        if not numbers or any(number is None for number in numbers):
            return None
        return pick([number for number in numbers if number is not None])

    return run


def _table(*functions: _Function) -> dict[str, _Function]:
    return {function.name: function for function in functions}


_FUNCTIONS = _table(
    _Function("selected", 2, 2, lambda _, a: _string(a[1]).strip() in _choices(a[0]), "boolean"),
    _Function("count-selected", 1, 1, lambda _, a: len(_choices(a[0])), "number"),
    _Function("string-length", 1, 1, lambda _, a: len(_string(a[0])), "number"),
    _Function("regex", 2, 2, _regex, "boolean"),
    _Function("today", 0, 0, lambda ctx, _: ctx.today_value().isoformat(), "date"),
    _Function("now", 0, 0, lambda ctx, _: ctx.now_value().isoformat(timespec="seconds")),
    # never run: _evaluate picks one branch lazily
    _Function("if", 3, 3, lambda _, a: None, (1, 2)),
    _Function("coalesce", 2, 2, lambda _, a: a[1] if _is_empty(a[0]) else a[0], (0, 1)),
    _Function("not", 1, 1, lambda _, a: not boolean(a[0]), "boolean"),
    _Function("true", 0, 0, lambda _, a: True, "boolean"),
    _Function("false", 0, 0, lambda _, a: False, "boolean"),
    _Function("boolean", 1, 1, lambda _, a: boolean(a[0]), "boolean"),
    _Function("count", 1, 1, lambda _, a: _count(a[0]), "number"),
    _Function("int", 1, 1, lambda _, a: _int(a[0]), "number"),
    _Function("number", 1, 1, lambda _, a: _numeric(a[0]), "number"),
    _Function("string", 1, 1, lambda _, a: _string(a[0])),
    _Function("concat", 0, None, lambda _, a: _concat(a)),
    _Function("round", 1, 2, lambda _, a: _round(*a), "number"),
    _Function("contains", 2, 2, lambda _, a: _string(a[1]) in _string(a[0]), "boolean"),
    _Function("starts-with", 2, 2, lambda _, a: _string(a[0]).startswith(_string(a[1])), "boolean"),
    _Function("date", 1, 1, lambda _, a: _date(a[0]), "date"),
    _Function("min", 1, None, _extreme(min), "number"),
    _Function("max", 1, None, _extreme(max), "number"),
)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _evaluate(node: _Node, context: _Context) -> Any:
    match node:
        case _Literal(value):
            return value
        case _Ref(name):
            return context.env.get(name)
        case _Current():
            return context.current
        case _Negate(operand):
            number = _numeric(_evaluate(operand, context))
            return None if number is None else -number
        case _Chain(first, steps):
            value = _evaluate(first, context)
            for op, operand in steps:
                if op == "and":
                    value = boolean(value) and boolean(_evaluate(operand, context))
                elif op == "or":
                    value = boolean(value) or boolean(_evaluate(operand, context))
                else:
                    value = _BINARY[op](value, _evaluate(operand, context))
            return value
        case _Call(function, args):
            if function.name == "if":
                chosen = args[1] if boolean(_evaluate(args[0], context)) else args[2]
                return _evaluate(chosen, context)
            return function.run(context, [_evaluate(arg, context) for arg in args])
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the union is closed


# ---------------------------------------------------------------------------------------------
# Shapes: what an expression can yield, read from its syntax (what statistics may hold in clear)

ShapeKind = Literal["empty", "boolean", "number", "date", "choice", "open"]
CLOCK_FUNCTIONS = frozenset({"today", "now"})
_TESTS = frozenset({"or", "and", "=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Shape:
    """What an expression can yield, whatever the values: nothing (`empty`), true/false, a
    number, a date, one of a few `values` written in the form (`choice`), or anything
    (`open`: possibly text, so possibly a name). Every value the evaluator returns for the
    expression is empty or of this shape."""

    kind: ShapeKind
    values: frozenset[str | int | float] = frozenset()

    def join(self, other: Shape) -> Shape:
        """The shape of a value that is either one (the branches of `if`)."""
        if self.kind == "empty":
            return other
        if other.kind == "empty":
            return self
        if self.kind != other.kind:
            return Shape("open")
        return Shape(self.kind, self.values | other.values)


def _shape(node: _Node, inputs: Mapping[str, Shape]) -> Shape:
    match node:
        case _Literal(value):
            return Shape("empty") if value == "" else Shape("choice", frozenset({value}))
        case _Ref(name):
            return inputs.get(name, Shape("open"))
        case _Negate():
            return Shape("number")
        case _Chain(_, steps):  # one precedence level: all tests or all arithmetic
            return Shape("boolean" if steps[0][0] in _TESTS else "number")
        case _Call(function, args):
            if isinstance(function.returns, str):
                return Shape(function.returns)
            first, *rest = (_shape(args[i], inputs) for i in function.returns)
            return functools.reduce(Shape.join, rest, first)
    return Shape("open")  # '.', the value being checked


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: what it refers to, and how to evaluate it against values."""

    source: str
    references: frozenset[str]  # every ${name} used
    functions: frozenset[str]  # every function called
    uses_current: bool  # whether '.' (the value being checked) is used
    _root: _Node = field(repr=False)

    def shape(self, inputs: Mapping[str, Shape]) -> Shape:
        """What the expression can yield when each `${name}` yields `inputs[name]` (a name
        not given: anything)."""
        return _shape(self._root, inputs)

    def evaluate(
        self,
        env: Mapping[str, Any],
        *,
        current: Any = None,
        today: datetime.date | None = None,
        now: datetime.datetime | None = None,
    ) -> Any:
        """The value of the expression; a name missing from `env` is empty (None)."""
        return _evaluate(self._root, _Context(env, current, today, now))

    def truth(
        self,
        env: Mapping[str, Any],
        *,
        current: Any = None,
        today: datetime.date | None = None,
        now: datetime.datetime | None = None,
    ) -> bool:
        """The value as an XPath boolean, for `relevant`, `constraint` and `required`."""
        return boolean(self.evaluate(env, current=current, today=today, now=now))


@functools.lru_cache(maxsize=2048)
def parse(source: str) -> Expression:
    """Parse `source` once (cached); ExpressionError says what is wrong and at which column."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"expression is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}",
            source,
        )
    if not source.strip():
        raise ExpressionError("empty expression", source)
    parser = _Parser(source)
    root = parser.parse()
    return Expression(
        source,
        frozenset(parser.references),
        frozenset(parser.functions),
        parser.uses_current,
        root,
    )
