"""The form expression language: every operator and function, the errors, the limits, and
property-based checks that no input makes parsing or evaluation fail in an unplanned way."""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import sys
from collections import ChainMap
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.errors import FormError
from fieldapp.forms.expr import Expression, ExpressionError, boolean, parse

TODAY = datetime.date(2026, 1, 1)
NOW = datetime.datetime(2026, 1, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
FAST = settings(max_examples=300, deadline=None)


def evaluate(source: str, env: Mapping[str, Any] | None = None, current: Any = None) -> Any:
    return parse(source).evaluate(env or {}, current=current, today=TODAY, now=NOW)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal and of the same type: True must not pass for 1, nor 2.0 for 2."""
    assert (type(actual), actual) == (type(expected), expected)


GEOPOINT = {"lat": 1.5, "lon": 2.5, "alt": None, "accuracy": None}

# (source, env, expected)
VALUE_CASES: list[tuple[str, dict[str, Any], Any]] = [
    # literals
    ("42", {}, 42),
    ("4.25", {}, 4.25),
    (".5", {}, 0.5),
    ("007", {}, 7),
    ('"it\'s"', {}, "it's"),
    # arithmetic
    ("1 + 2", {}, 3),
    ("7 - 10", {}, -3),
    ("6 * 7", {}, 42),
    ("7 div 2", {}, 3.5),
    ("6 div 3", {}, 2.0),
    ("7 mod 3", {}, 1),
    ("-7 mod 3", {}, -1),
    ("7 mod -3", {}, 1),
    ("7.5 mod 2", {}, 1.5),
    ("1 div 0", {}, None),
    ("0 div 0", {}, None),
    ("5 mod 0", {}, None),
    ("2 + 3 * 4", {}, 14),
    ("(2 + 3) * 4", {}, 20),
    ("10 - 4 - 3", {}, 3),
    ("12 div 2 div 3", {}, 2.0),
    ("2 * 3 mod 4", {}, 2),
    ("-2 * 3", {}, -6),
    ("- -2", {}, 2),
    ("${a}-1", {"a": 5}, 4),
    ("5 div-1", {}, -5.0),
    ("${a} + 1", {"a": None}, None),
    ("${a} + 1", {}, None),
    ("${a} + 1", {"a": ""}, None),
    ("${a} + 1", {"a": "abc"}, None),
    ("${a} * 2", {"a": "21"}, 42),
    ("${a} + 1", {"a": True}, 2),
    ("-${a}", {"a": None}, None),
    ("${a} * ${a}", {"a": 1e200}, None),
    ("9007199254740992 + 1", {}, 9007199254740992.0),
    ("${a} + 1", {"a": float("nan")}, None),
    # dates in arithmetic
    ("int((today() - ${dob}) div 365.25)", {"dob": "2000-06-15"}, 25),
    ("int((today() - ${dob}) div 365.25)", {"dob": "2008-01-02"}, 17),
    ("today() - '2025-12-25'", {}, 7),
    ("'1970-01-02' + 0", {}, 1),
    ("'1970-01-01T12:00:00Z' + 0", {}, 0.5),
    ("'2020-02-30' + 0", {}, None),
    # equality
    ("${a} = ''", {"a": None}, True),
    ("${a} = ''", {"a": ""}, True),
    ("${a} = ''", {}, True),
    ("${a} = ''", {"a": "x"}, False),
    ("${a} != ''", {"a": None}, False),
    ("${a} != ''", {"a": "x"}, True),
    ("${a} = 5", {"a": "5.0"}, True),
    ("${a} = 5", {"a": None}, False),
    ("${a} != 5", {"a": None}, True),
    ("${a} = 0", {"a": ""}, False),
    ("'5' = '5.0'", {}, False),
    ("${a} = 'x'", {"a": "x"}, True),
    ("${b} = true()", {"b": True}, True),
    ("${b} = 'yes'", {"b": True}, True),
    ("${b} = 'true'", {"b": True}, True),
    ("${b} = 'no'", {"b": False}, True),
    ("${b} = 'no'", {"b": True}, False),
    ("${b} = 1", {"b": True}, True),
    ("${b} = 0", {"b": False}, True),
    ("${b} = ''", {"b": False}, True),
    ("${s} = 'shelter food'", {"s": ["shelter", "food"]}, True),
    ("${s} = 'food'", {"s": ["shelter", "food"]}, False),
    ("${s} = ''", {"s": []}, True),
    ("1 = 1 = 1", {}, True),
    # ordering
    ("${age} < 18", {"age": 12}, True),
    ("${age} < 18", {"age": 18}, False),
    ("${age} < 18", {"age": None}, False),
    ("${age} < 18", {"age": ""}, False),
    ("${age} >= 18", {"age": None}, False),
    ("${age} >= 18", {"age": "18"}, True),
    ("${age} <= 17.5", {"age": 17.5}, True),
    ("${age} > 17", {"age": "x"}, True),  # not a number: compared as strings, 'x' > '17'
    ("'10' < '9'", {}, False),
    ("'apple' < 'banana'", {}, True),
    ("3 > 2 > 1", {}, False),  # (3 > 2) > 1 is true() > 1, as in XPath
    ("${d} < '2020-01-02'", {"d": "2020-01-01"}, True),
    ("${d} >= today()", {"d": "2026-01-01"}, True),
    ("${d} > ${e}", {"d": "2020-10-01", "e": "2020-9-30"}, False),  # e is no date: strings
    ("'2020-01-01T10:00:00+02:00' < '2020-01-01T09:00:00+00:00'", {}, True),
    ("'2020-01-01' < '2020-01-01T00:00:01Z'", {}, True),
    ("${d} < 0", {"d": "1969-12-31"}, True),
    ("true() > false()", {}, True),
    # logic
    ("true() and false()", {}, False),
    ("true() or false()", {}, True),
    ("false() or ${x}", {"x": "a"}, True),
    ("${x} and ${y}", {"x": "a", "y": 0}, False),
    ("1 = 1 and 2 = 2 and 3 = 4", {}, False),
    ("1 = 2 or 2 = 3 or 3 = 3", {}, True),
    ("1 = 2 and 0 or 1", {}, True),  # and binds tighter than or
    # XLSForm idioms
    (
        "selected(${needs}, 'shelter') and not(${consent_refer} = 'no')",
        {"needs": ["food", "shelter"], "consent_refer": "yes"},
        True,
    ),
    (
        "selected(${needs}, 'shelter') and not(${consent_refer} = 'no')",
        {"needs": ["food", "shelter"], "consent_refer": "no"},
        False,
    ),
    ("if(${age} < 18, 'minor', 'adult')", {"age": 12}, "minor"),
    ("if(${age} < 18, 'minor', 'adult')", {"age": 40}, "adult"),
    ("if(${age} < 18, 'minor', 'adult')", {}, "adult"),
    ("coalesce(${a}, ${b})", {"a": None, "b": "B"}, "B"),
    ("coalesce(${a}, ${b})", {"a": "", "b": "B"}, "B"),
    ("coalesce(${a}, ${b})", {"a": [], "b": "B"}, "B"),
    ("coalesce(${a}, ${b})", {"a": 0, "b": "B"}, 0),
    ("coalesce(${a}, ${b})", {"a": "A", "b": "B"}, "A"),
    # selected / count-selected
    ("selected(${s}, 'a')", {"s": ["a", "b"]}, True),
    ("selected(${s}, 'c')", {"s": ["a", "b"]}, False),
    ("selected(${s}, 'b')", {"s": "a b"}, True),
    ("selected(${s}, 'a b')", {"s": "a b"}, False),
    ("selected(${s}, ' a ')", {"s": ["a"]}, True),
    ("selected(${s}, 2)", {"s": ["1", "2"]}, True),
    ("selected(${s}, 'a')", {"s": None}, False),
    ("count-selected(${s})", {"s": ["a", "b", "c"]}, 3),
    ("count-selected(${s})", {"s": "a  b"}, 2),
    ("count-selected(${s})", {"s": None}, 0),
    ("count-selected(${s})", {"s": ""}, 0),
    # string-length / contains / starts-with
    ("string-length(${s})", {"s": "abc"}, 3),
    ("string-length(${s})", {"s": "éé"}, 2),
    ("string-length(${s})", {"s": None}, 0),
    ("string-length(${s})", {"s": 12.5}, 4),
    ("contains(${s}, 'ell')", {"s": "hello"}, True),
    ("contains(${s}, 'x')", {"s": "hello"}, False),
    ("contains(${s}, '')", {"s": None}, True),
    ("starts-with(${s}, 'he')", {"s": "hello"}, True),
    ("starts-with(${s}, 'lo')", {"s": "hello"}, False),
    # regex: matches anywhere, like ODK; anchors make it whole-value
    ("regex(${s}, '^[A-Z]{2}-[0-9]{4}$')", {"s": "AB-1234"}, True),
    ("regex(${s}, '^[A-Z]{2}-[0-9]{4}$')", {"s": "AB-12345"}, False),
    ("regex(${s}, '^[A-Z]{2}-[0-9]{4}$')", {"s": "ab-1234"}, False),
    ("regex(${s}, '[0-9]+')", {"s": "room 12"}, True),
    ("regex(${s}, '^\\d+$')", {"s": "١٢"}, False),  # \d is ASCII only
    ("regex(${s}, '^$')", {"s": None}, True),
    ("regex(${s}, ${p})", {"s": "abc", "p": "["}, False),  # a bad pattern from data
    ("regex(${s}, ${p})", {"s": "abc", "p": "b"}, True),
    # today / now
    ("today()", {}, "2026-01-01"),
    ("now()", {}, "2026-01-01T09:30:00+02:00"),
    # not / true / false / boolean
    ("not(${a})", {"a": None}, True),
    ("not(${a})", {"a": "no"}, False),  # a non-empty string is true, as in XPath
    ("true()", {}, True),
    ("false()", {}, False),
    ("boolean(${a})", {"a": "false"}, True),
    ("boolean(${a})", {"a": ""}, False),
    ("boolean(${a})", {"a": 0.0}, False),
    ("boolean(${a})", {"a": []}, False),
    ("boolean(${a})", {"a": ["x"]}, True),
    ("boolean(${a})", {"a": float("nan")}, False),
    # count
    ("count(${r})", {"r": [{"_id": "1"}, {"_id": "2"}, {"_id": "3"}]}, 3),
    ("count(${r})", {"r": None}, 0),
    ("count(${r})", {"r": "x"}, 1),
    # int / number / string
    ("int(3.7)", {}, 3),
    ("int(-3.7)", {}, -3),
    ("int(${a})", {"a": "12.9"}, 12),
    ("int(${a})", {"a": "abc"}, None),
    ("int(${a})", {"a": None}, None),
    ("int(${a})", {"a": 1e300}, 1e300),
    ("number(${a})", {"a": "12"}, 12),
    ("number(${a})", {"a": " 3.5 "}, 3.5),
    ("number(${a})", {"a": "-.5"}, -0.5),
    ("number(${a})", {"a": "abc"}, None),
    ("number(${a})", {"a": "1e5"}, None),
    ("number(${a})", {"a": "+1"}, None),
    ("number(${a})", {"a": "Infinity"}, None),
    ("number(${a})", {"a": ""}, None),
    ("number(${a})", {"a": True}, 1),
    ("number(${a})", {"a": "1970-01-11"}, 10),
    ("number(${a})", {"a": "9" * 30}, 1e30),
    ("string(${a})", {"a": 1.0}, "1"),
    ("string(${a})", {"a": 0.1}, "0.1"),
    ("string(${a})", {"a": 1e21}, "1000000000000000000000"),
    ("string(${a})", {"a": 1.5e-7}, "0.00000015"),
    ("string(${a})", {"a": 2**60}, "1152921504606846976"),
    ("string(${a})", {"a": 10**400}, "Infinity"),
    ("string(${a})", {"a": True}, "true"),
    ("string(${a})", {"a": None}, ""),
    ("string(${a})", {"a": ["a", "b"]}, "a b"),
    ("string(${a})", {"a": GEOPOINT}, "1.5 2.5 0 0"),
    ("string(${a})", {"a": {"_id": "x"}}, ""),
    # concat
    ("concat('a', 1, ${x}, 2.5, true())", {"x": None}, "a12.5true"),
    ("concat()", {}, ""),
    ("concat(${x}, ${x})", {"x": "y" * 50_000}, "y" * 100_000),
    ("concat(${x}, ${x}, 'z')", {"x": "y" * 50_000}, None),
    # round
    ("round(2.5)", {}, 3),
    ("round(-2.5)", {}, -3),
    ("round(2.4)", {}, 2),
    ("round(2.675, 2)", {}, 2.68),
    ("round(1234.5, -2)", {}, 1200),
    ("round(2.345, 1.9)", {}, 2.3),
    ("round(${a}, 2)", {"a": None}, None),
    ("round(${a}, 2)", {"a": "abc"}, None),
    ("round(1.5, 1000)", {}, 1.5),
    ("round(${a}, -1000)", {"a": 1e300}, 0),
    # date
    ("date('2020-02-29')", {}, "2020-02-29"),
    ("date('2020-02-30')", {}, None),
    ("date('2020-02-29T23:30:00-05:00')", {}, "2020-02-29"),
    ("date(0)", {}, "1970-01-01"),
    ("date(18262)", {}, "2020-01-01"),
    ("date(${d} + 7)", {"d": "2000-02-25"}, "2000-03-03"),
    ("date('x')", {}, None),
    ("date(${a})", {"a": 1e300}, None),
    ("date(${a})", {"a": -1e6}, None),
    # min / max
    ("min(3, 1, 2)", {}, 1),
    ("max(3, 1, 2.5)", {}, 3),
    ("max(${l})", {"l": ["1", "3", "2"]}, 3),
    ("min(1, ${none})", {}, None),
    ("max(${l})", {"l": []}, None),
    ("max('2020-01-01', '2020-01-03') - min('2020-01-01', '2020-01-03')", {}, 2),
]


@pytest.mark.parametrize(("source", "env", "expected"), VALUE_CASES, ids=lambda v: repr(v)[:60])
def test_value(source: str, env: dict[str, Any], expected: Any) -> None:
    assert_same(evaluate(source, env), expected)


# (source, current, expected): constraints and choice filters read the value being checked
CURRENT_CASES: list[tuple[str, Any, Any]] = [
    (". >= 0 and . <= 100", 50, True),
    (". >= 0 and . <= 100", 101, False),
    (". >= 0 and . <= 100", "7", True),
    ("count-selected(.) <= 3", ["a", "b", "c"], True),
    ("count-selected(.) <= 3", ["a", "b", "c", "d"], False),
    ("regex(., '^[A-Z]{2}-[0-9]{4}$')", "KE-0042", True),
    ("regex(., '^[A-Z]{2}-[0-9]{4}$')", "KE-042", False),
    ("string-length(.) <= 5", "abcdef", False),
    (". = ''", None, True),
]


@pytest.mark.parametrize(("source", "current", "expected"), CURRENT_CASES)
def test_current_value(source: str, current: Any, expected: Any) -> None:
    assert_same(evaluate(source, {}, current=current), expected)


def test_truth_is_boolean_of_the_value() -> None:
    assert parse("${a}").truth({"a": "x"}) is True
    assert parse("${a}").truth({"a": ""}) is False
    assert parse(".").truth({}, current=0) is False
    assert parse("${a} + 1").truth({"a": -1}) is False


def test_env_is_indexed_as_a_mapping_like_the_validators_chainmap() -> None:
    instance = {"name": "Ana", "age": 7}
    top = {"age": 40, "consent": "yes"}
    env = ChainMap(instance, top)
    assert evaluate("${age} < 18 and ${consent} = 'yes'", env) is True
    assert evaluate("concat(${name}, '/', ${missing})", env) == "Ana/"


class RecordingEnv(Mapping[str, Any]):
    """Records which names were looked up, to observe short-circuit evaluation."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.data = values
        self.looked_up: list[str] = []

    def __getitem__(self, name: str) -> Any:
        self.looked_up.append(name)
        return self.data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize(
    ("source", "expected", "looked_up"),
    [
        ("if(${c}, ${a}, ${b})", "A", ["c", "a"]),
        ("if(not(${c}), ${a}, ${b})", "B", ["c", "b"]),
        ("${c} or ${a}", True, ["c"]),
        ("not(${c}) and ${a}", False, ["c"]),
        ("${c} and ${a}", True, ["c", "a"]),
    ],
)
def test_if_and_or_are_lazy(source: str, expected: Any, looked_up: list[str]) -> None:
    env = RecordingEnv({"a": "A", "b": "B", "c": True})
    assert_same(parse(source).evaluate(env), expected)
    assert env.looked_up == looked_up


def test_today_and_now_default_to_the_clock() -> None:
    before = datetime.date.today()
    today = parse("today()").evaluate({})
    assert today in {before.isoformat(), datetime.date.today().isoformat()}
    now = datetime.datetime.fromisoformat(parse("now()").evaluate({}))
    assert now.utcoffset() is not None
    assert abs(now - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)


def test_today_follows_a_given_now_and_a_naive_now_gets_an_offset() -> None:
    late = datetime.datetime(
        2026, 3, 1, 23, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    assert parse("today()").evaluate({}, now=late) == "2026-03-01"
    assert parse("today()").evaluate({}, today=TODAY, now=late) == "2026-01-01"
    naive = datetime.datetime(2026, 3, 1, 12, 0)
    stamped = datetime.datetime.fromisoformat(parse("now()").evaluate({}, now=naive))
    assert stamped.utcoffset() is not None
    assert stamped.replace(tzinfo=None) == naive


@pytest.mark.parametrize(
    ("source", "references", "uses_current"),
    [
        ("${age} < 18", {"age"}, False),
        (
            "selected(${needs}, 'shelter') and not(${consent_refer} = 'no')",
            {"needs", "consent_refer"},
            False,
        ),
        (". >= ${min} and . <= ${max}", {"min", "max"}, True),
        ("regex(., '^x$')", set(), True),
        ("'.' = '${a}'", set(), False),  # inside string literals: neither a reference nor '.'
        ("today()", set(), False),
        ("${a} + ${a} * ${b}", {"a", "b"}, False),
    ],
)
def test_references_and_uses_current(source: str, references: set[str], uses_current: bool) -> None:
    expression = parse(source)
    assert expression.references == frozenset(references)
    assert expression.uses_current is uses_current
    assert expression.source == source


def test_parse_is_cached_and_expressions_are_immutable() -> None:
    expression = parse("${a} = 'cached'")
    assert parse("${a} = 'cached'") is expression
    assert isinstance(expression, Expression)
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("${a} = )", 8, "unexpected ')'"),
        ("/data/x", 1, "XPath paths are not supported"),
        ("${a} | ${b}", 6, "unexpected character '|'"),
        ("${a}[1]", 5, "unexpected '['"),
        ("${a}/b", 5, "XPath paths"),
        ("@id", 1, "unexpected character '@'"),
        ("..", 1, "'..' alone only has a meaning in position(..)"),
        ("*", 1, "unexpected '*'"),
        ("foo(1)", 1, "unknown function 'foo'"),
        ("Selected(., 'a')", 1, "unknown function 'Selected'"),
        ("randomize(${r})", 1, "unknown function 'randomize'"),
        ("selected(${a})", 1, "selected() takes 2 arguments, not 1"),
        ("  today(1)", 3, "today() takes 0 arguments, not 1"),
        ("not(1, 2)", 1, "not() takes 1 argument, not 2"),
        ("round()", 1, "round() takes 1 to 2 arguments, not 0"),
        ("min()", 1, "min() takes at least 1 argument, not 0"),
        ("if(1, 2)", 1, "if() takes 3 arguments, not 2"),
        ("'abc", 1, "unterminated string"),
        ("'it''s'", 5, "unexpected \"'s'\""),
        ("${a b}", 1, "invalid field name in '${a b}'"),
        ("${a", 1, "must look like ${name}"),
        ("${}", 1, "invalid field name"),
        ("$a", 1, "must look like ${name}"),
        ("regex(., '[a-')", 10, "invalid regular expression '[a-'"),
        ("regex(., '" + "a" * 257 + "')", 10, "longer than 256 characters"),
        ("${a} AND ${b}", 6, "unexpected 'AND'"),
        ("${a} Or ${b}", 6, "unexpected 'Or'"),
        ("and", 1, "unexpected 'and'"),
        ("1 +", 4, "unexpected end of expression"),
        ("(1", 3, "expected ')' but found the end"),
        ("not(1", 6, "expected ')' but found the end"),
        ("1 2", 3, "unexpected '2'"),
        ("1e5", 2, "unexpected 'e5'"),
        ("#", 1, "unexpected character '#'"),
        ("1 == 1", 4, "unexpected '='"),
        ("9" * 400, 1, "is too large"),
        ("f(", 1, "unknown function 'f'"),
        ("concat('a',)", 12, "unexpected ')'"),
    ],
)
def test_errors_name_the_problem_and_column(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    error = caught.value
    assert isinstance(error, FormError)
    assert error.column == column
    assert error.source == source
    assert fragment in str(error)
    assert f" at column {column} in: {source[:100]}" in str(error)


def test_error_message_format() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse("${a} = )")
    assert str(caught.value) == "unexpected ')' at column 8 in: ${a} = )"


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_source_is_an_error(source: str) -> None:
    with pytest.raises(ExpressionError, match="empty expression") as caught:
        parse(source)
    assert caught.value.column is None


def test_source_length_limit() -> None:
    longest = ("1" + " + 1" * 1023).ljust(4096)
    assert len(longest) == 4096
    assert parse(longest).evaluate({}) == 1024
    with pytest.raises(ExpressionError, match="4097 characters long; the limit is 4096") as caught:
        parse(longest + " ")
    assert caught.value.column is None
    assert len(str(caught.value)) < 400  # the message does not carry the whole source


NESTINGS = {
    "parentheses": lambda n: "(" * n + "1" + ")" * n,
    "calls": lambda n: "not(" * n + "1" + ")" * n,
    "unary minus": lambda n: "-" * n + "1",
    "right operands": lambda n: "1 + " * n + "1",  # flat: never too deep
}


@pytest.mark.parametrize("kind", ["parentheses", "calls", "unary minus"])
def test_nesting_limit(kind: str) -> None:
    nest = NESTINGS[kind]
    parse(nest(64)).evaluate({})
    with pytest.raises(ExpressionError, match="nested more than 64 levels deep"):
        parse(nest(65))
    with pytest.raises(ExpressionError, match="nested more than 64 levels deep"):
        parse(nest(600))


def test_long_flat_chains_are_not_nesting() -> None:
    assert parse(NESTINGS["right operands"](1000)).evaluate({}) == 1001
    assert parse(" or ".join(["false()"] * 300) + " or true()").evaluate({}) is True


def left_ladder(levels: int) -> str:
    """Each level nests the previous one as the left operand of six operators."""
    return "(" * levels + "1" + ") * 1 + 1 < 1 = 1 and 1 or 1" * levels


def test_operator_ladders_count_towards_depth() -> None:
    """Left operands do not recurse in the parser but deepen the tree: the height counts."""
    parse(left_ladder(10)).evaluate({})
    with pytest.raises(ExpressionError, match="nested more than 64 levels deep"):
        parse(left_ladder(11))


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


@pytest.mark.parametrize(
    "source",
    [
        NESTINGS["parentheses"](64),
        NESTINGS["calls"](64),
        NESTINGS["unary minus"](64),
        "1 * 1 + 1 < 1 = 1 and 1 or (" * 32 + "1" + ")" * 32,
        left_ladder(10),
        "not(-(" * 21 + "1" + "))" * 21,
    ],
    ids=["parentheses", "calls", "unary", "right ladder", "left ladder", "mixed"],
)
def test_deepest_accepted_expressions_use_a_bounded_stack(source: str) -> None:
    """Parsing and evaluating what the limits allow needs < 400 frames (Python allows 1,000)."""
    uncached_parse = parse.__wrapped__
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 400)
    try:
        uncached_parse(source).evaluate({})
    finally:
        sys.setrecursionlimit(limit)


# ---------------------------------------------------------------------------------------------
# Property-based tests

NAMES = ["a", "b", "c", "d"]
ZONES = [
    None,
    datetime.UTC,
    datetime.timezone(datetime.timedelta(hours=14)),
    datetime.timezone(-datetime.timedelta(hours=12)),
]
TRICKY_STRINGS = [
    "", "true", "false", "yes", "no", "0", "1", " 3.5 ", "-.5", "abc", "1e5", "9" * 5000,
    "2020-02-29", "2020-02-30", "2026-01-01T10:00:00+02:00",
]  # fmt: skip
ENV_VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(TRICKY_STRINGS),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", "shelter", "1", "2"]), max_size=4),
    st.lists(st.fixed_dictionaries({"_id": st.uuids().map(str)}), max_size=3),
    st.dates().map(datetime.date.isoformat),
    st.datetimes(timezones=st.sampled_from(ZONES)).map(datetime.datetime.isoformat),
    st.builds(
        lambda lat, lon: {"lat": lat, "lon": lon, "alt": None, "accuracy": 5.0},
        st.floats(-90, 90),
        st.floats(-180, 180),
    ),
)
ENVS = st.dictionaries(st.sampled_from(NAMES), ENV_VALUES, max_size=len(NAMES))
ALLOWED_RESULTS = (type(None), str, int, float, bool, list, dict)

FIXED_ARITY = {
    "selected": 2, "count-selected": 1, "string-length": 1, "today": 0, "now": 0, "if": 3,
    "coalesce": 2, "not": 1, "true": 0, "false": 0, "boolean": 1, "count": 1, "int": 1,
    "number": 1, "string": 1, "contains": 2, "starts-with": 2, "date": 1,
}  # fmt: skip
VARIADIC = ["concat", "min", "max", "round"]
OPERATORS = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod"]
PATTERNS = ["^[0-9]+$", "a|b", "^$", "[A-Z]{2}", "^\\w+@\\w+$"]

LEAVES = st.one_of(
    st.integers(0, 10**6).map(str),
    st.floats(0, 1e6).map(lambda f: f"{f:.3f}"),
    st.text(st.characters(exclude_characters="'"), max_size=8).map(lambda s: f"'{s}'"),
    st.sampled_from(NAMES).map(lambda name: f"${{{name}}}"),
    st.sampled_from([".", "'2020-02-29'", "'2020-01-01T10:00:00+02:00'", "'yes'", "''"]),
)


def _call(name: str, args: list[str]) -> str:
    return f"{name}({', '.join(args)})"


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    fixed = st.sampled_from(sorted(FIXED_ARITY)).flatmap(
        lambda name: st.lists(children, min_size=FIXED_ARITY[name], max_size=FIXED_ARITY[name]).map(
            lambda args: _call(name, args)
        )
    )
    variadic = st.builds(
        lambda name, args: _call(name, args[:2] if name == "round" else args),
        st.sampled_from(VARIADIC),
        st.lists(children, min_size=1, max_size=4),
    )
    regex = st.builds(lambda s, p: f"regex({s}, '{p}')", children, st.sampled_from(PATTERNS))
    binary = st.builds(
        lambda left, op, right: f"({left} {op} {right})",
        children,
        st.sampled_from(OPERATORS),
        children,
    )
    return st.one_of(binary, children.map(lambda child: f"-{child}"), fixed, variadic, regex)


VALID_SOURCES = st.recursive(LEAVES, _extend, max_leaves=12)


@FAST
@given(VALID_SOURCES, ENVS, ENV_VALUES)
def test_valid_expressions_evaluate_to_allowed_values(
    source: str, env: dict[str, Any], current: Any
) -> None:
    expression = parse(source)
    value = expression.evaluate(env, current=current, today=TODAY, now=NOW)
    assert isinstance(value, ALLOWED_RESULTS)
    assert expression.truth(env, current=current) is boolean(value)
    assert expression.references <= set(NAMES)


TOKENS = [
    "${a}", "${b}", ".", "..", "(", ")", ",", "'x'", '"y"', "'", "1", "2.5", ".5", "-", "+",
    "*", "div", "mod", "and", "or", "=", "!=", "<", "<=", ">", ">=", "/", "|", "[", "]",
    "$", "${", "}", "@", "e5", "not", "if", "concat", "regex", "round", "foo", "today", "count",
]  # fmt: skip
NESTED = st.builds(
    lambda opener, depth, closer: opener * depth + "1" + closer * depth,
    st.sampled_from(["(", "not(", "-", "concat(1, ", "if(1, 2, ", "1 + (", "(1) * "]),
    st.integers(0, 3000),
    st.sampled_from([")", "", "))"]),
)
ANY_TEXT = st.one_of(
    st.text(),
    st.text(max_size=6000),
    st.lists(st.sampled_from(TOKENS), max_size=80).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=80).map("".join),
    NESTED,
    st.integers(0, 10_000).map(lambda n: "(" * n),
)


@FAST
@given(ANY_TEXT, ENVS, ENV_VALUES)
def test_any_text_parses_or_raises_expression_error(
    source: str, env: dict[str, Any], current: Any
) -> None:
    try:
        expression = parse(source)
    except ExpressionError as error:
        assert error.column is None or 1 <= error.column <= len(source) + 1
        return
    assert isinstance(expression.evaluate(env, current=current), ALLOWED_RESULTS)


# Arithmetic trees: ("num", n) | ("ref", name) | ("neg", tree) | (op, left, right)
PRECEDENCE = {"+": 4, "-": 4, "*": 5, "div": 5, "mod": 5}


def _precedence(tree: tuple[Any, ...]) -> int:
    if tree[0] == "neg" or (tree[0] == "num" and tree[1] < 0):
        return 6
    return PRECEDENCE.get(tree[0], 7)


def render(tree: tuple[Any, ...]) -> str:
    """Source text with as few parentheses as XPath precedence and left associativity allow."""
    kind = tree[0]
    if kind == "num":
        return f"-{-tree[1]}" if tree[1] < 0 else str(tree[1])
    if kind == "ref":
        return f"${{{tree[1]}}}"
    if kind == "neg":
        child = render(tree[1])
        return f"-{child}" if _precedence(tree[1]) >= 6 else f"-({child})"
    left, right = render(tree[1]), render(tree[2])
    if _precedence(tree[1]) < PRECEDENCE[kind]:
        left = f"({left})"
    if _precedence(tree[2]) <= PRECEDENCE[kind]:
        right = f"({right})"
    return f"{left} {kind} {right}"


def reference_value(tree: tuple[Any, ...], env: dict[str, int]) -> Fraction | None:
    """Exact evaluation: div by zero and mod by zero are empty, mod truncates like XPath."""
    kind = tree[0]
    if kind == "num":
        return Fraction(tree[1])
    if kind == "ref":
        return Fraction(env[tree[1]])
    if kind == "neg":
        value = reference_value(tree[1], env)
        return None if value is None else -value
    left, right = reference_value(tree[1], env), reference_value(tree[2], env)
    if left is None or right is None:
        return None
    if kind in ("div", "mod") and right == 0:
        return None
    if kind == "div":
        return left / right
    if kind == "mod":
        return left - right * math.trunc(left / right)
    return {"+": left + right, "-": left - right, "*": left * right}[kind]


INT_LEAVES = st.one_of(
    st.integers(-30, 30).map(lambda n: ("num", n)), st.sampled_from(NAMES).map(lambda n: ("ref", n))
)


def _int_tree(children: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        children.map(lambda child: ("neg", child)),
        st.tuples(st.sampled_from(["+", "-", "*", "mod"]), children, children),
    )


INT_TREES = st.recursive(INT_LEAVES, _int_tree, max_leaves=6)  # |values| <= 30**6 < 2**53
DIV_TREES = st.recursive(
    INT_TREES,
    lambda children: st.one_of(
        st.tuples(st.just("div"), children, INT_TREES),  # exact divisors: zero is really zero
        st.tuples(st.sampled_from(["+", "-", "*"]), children, children),
        children.map(lambda child: ("neg", child)),
    ),
    max_leaves=4,
)
INT_ENVS = st.fixed_dictionaries({name: st.integers(-30, 30) for name in NAMES})


@FAST
@given(INT_TREES, INT_ENVS)
def test_integer_arithmetic_round_trips_exactly(tree: tuple[Any, ...], env: dict[str, int]) -> None:
    expected = reference_value(tree, env)
    actual = parse(render(tree)).evaluate(env)
    if expected is None:
        assert actual is None
    else:
        assert_same(actual, int(expected))


@FAST
@given(DIV_TREES, INT_ENVS)
def test_arithmetic_with_division_round_trips(tree: tuple[Any, ...], env: dict[str, int]) -> None:
    expected = reference_value(tree, env)
    actual = parse(render(tree)).evaluate(env)
    if expected is None:
        assert actual is None
    else:
        assert isinstance(actual, int | float)
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-6)


def truth(source: str, env: Mapping[str, Any]) -> bool:
    return parse(source).truth(env, today=TODAY, now=NOW)


@FAST
@given(ENV_VALUES, ENV_VALUES, ENV_VALUES)
def test_boolean_laws(a: Any, b: Any, c: Any) -> None:
    env = {"a": a, "b": b, "c": c}
    assert truth("not(not(${a}))", env) is boolean(a)
    assert truth("boolean(${a})", env) is boolean(a)
    assert truth("${a} and ${b}", env) is truth("${b} and ${a}", env) is (boolean(a) and boolean(b))
    assert truth("${a} or ${b}", env) is truth("${b} or ${a}", env) is (boolean(a) or boolean(b))
    assert truth("not(${a} and ${b})", env) is truth("not(${a}) or not(${b})", env)
    assert parse("if(${a}, ${b}, ${c})").evaluate(env) is (b if boolean(a) else c)


@FAST
@given(ENV_VALUES, ENV_VALUES)
def test_comparison_laws(a: Any, b: Any) -> None:
    env = {"a": a, "b": b}
    assert truth("${a} = ${b}", env) is truth("${b} = ${a}", env)
    assert truth("${a} != ${b}", env) is not truth("${a} = ${b}", env)
    assert truth("${a} < ${b}", env) is truth("${b} > ${a}", env)
    assert truth("${a} <= ${b}", env) is truth("${b} >= ${a}", env)
    assert not (truth("${a} < ${b}", env) and truth("${b} < ${a}", env))
    if a is None or a == "":
        assert truth("${a} = ''", env) and not truth("${a} < ${b}", env)


@FAST
@given(ENV_VALUES, ENV_VALUES, st.sampled_from(["+", "-", "*", "div", "mod"]))
def test_arithmetic_is_finite_or_empty(a: Any, b: Any, op: str) -> None:
    value = parse(f"${{a}} {op} ${{b}}").evaluate({"a": a, "b": b})
    assert value is None or (type(value) in (int, float) and math.isfinite(value))
    if op in ("+", "*"):
        assert value == parse(f"${{b}} {op} ${{a}}").evaluate({"a": a, "b": b})


@FAST
@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_survive_string_and_back(a: int | float) -> None:
    assert truth("number(string(${a})) = ${a}", {"a": a})


@pytest.mark.parametrize(
    ("pattern", "hostile", "good"),
    [
        ("^(a+)+$", "a" * 40 + "!", "aaa"),
        ("^(a*)*b", "a" * 40 + "!", "aab"),
        ("^([a-z]+ ?)+$", "ab " * 30 + "!", "ab cd"),
        ("(x+x+)+y", "x" * 40, "xxy"),
        ("^(([0-9]{1})*[- .(]*([0-9]{3})[- .)]*[0-9]{3}[- .]*[0-9]{4})+$", "1" * 40 + "!",
         "0772 123 4567"),
    ],
)  # fmt: skip
def test_patterns_that_could_freeze_the_app_run_in_linear_time(
    pattern: str, hostile: str, good: str
) -> None:
    """Nested repetition takes exponential time in Python's regex engine (ReDoS): such a
    pattern, written in the form or taken from the data, runs on the linear matcher."""
    literal = parse(f"regex(., '{pattern}')")
    assert literal.evaluate({}, current=hostile) is False
    assert literal.evaluate({}, current=good) is True
    expression = parse("regex(${answer}, ${pattern})")
    assert expression.evaluate({"answer": hostile, "pattern": pattern}) is False
    assert expression.evaluate({"answer": good, "pattern": pattern}) is True


@pytest.mark.parametrize("pattern", ["^[A-Z]{2}-[0-9]{4}$", "^(ab)+$", "^[+]?[1-9][0-9]{6,14}$"])
def test_ordinary_patterns_still_work(pattern: str) -> None:
    parse(f"regex(., '{pattern}')")


# -- the ODK function set (issue #13) ---------------------------------------------------------
PEOPLE = {
    "household": "H1",
    "visits": [{"cost": 2}, {"cost": "3.5"}, {"cost": 2}],
    "members": [
        {"name": "Ana", "age": 34, "sex": "f"},
        {"name": "Bo", "age": 12, "sex": "m"},
        {"name": "Cy", "sex": "f"},  # age unanswered
    ],
}
PLACES = {
    "countries": [
        {"name": "fr", "label": "France", "zone": "eu"},
        {"name": "es", "label": "Spain", "zone": "eu"},
        {"name": "ke", "label": "Kenya", "zone": "af"},
    ],
    "prices.csv": [{"item": "rice", "price": "2.5"}, {"item": "oil", "price": "4"}],
}


def inside(answers: dict[str, Any], repeat: str, index: int) -> ChainMap[str, Any]:
    """The scope validation gives a field of a repeat instance."""
    return ChainMap(answers[repeat][index], answers)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sum(${age})", None),  # one age is empty: as XPath, NaN
        ("sum(${cost})", 7.5),
        ("sum(${cost}) div count(${visits})", 2.5),
        ("count(${name})", 3),
        ("count(${age})", 3),
        ("count(${members})", 3),
        ("join(', ', ${name})", "Ana, Bo, Cy"),
        ("max(${age})", None),  # one age is empty: as XPath, NaN
        ("count-non-empty(${age})", 2),
        ("indexed-repeat(${name}, ${members}, 2)", "Bo"),
        ("indexed-repeat(${name}, ${members}, 4)", None),
        ("${name} = 'Bo'", False),  # outside an aggregate, a repeat's field is not read
        ("concat(${household}, '-', count(${members}))", "H1-3"),
        ("concat(${name})", "AnaBoCy"),
    ],
)
def test_repeat_fields_read_from_outside_the_repeat(source: str, expected: Any) -> None:
    assert_same(evaluate(source, PEOPLE), expected)


@pytest.mark.parametrize(
    ("source", "index", "expected"),
    [
        ("position(..)", 1, 2),
        ("position()", 2, 3),
        ("../age + 1", 0, 35),
        ("current()/../name", 1, "Bo"),
        ("${name}", 2, "Cy"),
        ("../../household", 0, "H1"),  # found in the enclosing scope
        ("concat(${household}, '-', position(..))", 0, "H1-1"),
    ],
)
def test_relative_references_inside_a_repeat(source: str, index: int, expected: Any) -> None:
    assert_same(evaluate(source, inside(PEOPLE, "members", index)), expected)


def test_position_of_a_nested_repeat_instance_and_an_explicit_position() -> None:
    answers = {"visits": [{"rooms": [{"n": 1}]}, {"rooms": [{"n": 2}, {"n": 3}]}]}
    visit = answers["visits"][1]
    env = ChainMap(visit["rooms"][1], visit, answers)
    assert parse("position(..)").evaluate(env) == 2
    assert parse("position(../..)").evaluate(env) == 2
    assert parse("position(..)").evaluate({}, position=5) == 5  # a plain mapping: as given
    assert parse("position(..)").evaluate({}) is None


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("instance('countries')/root/item[name = ${c}]/label", {"c": "es"}, "Spain"),
        ("instance('countries')/root/item[name = ${c}]/label", {"c": "xx"}, None),
        ("count(instance('countries')/root/item[zone = 'eu'])", {}, 2),
        ("instance('countries')/root/item[zone = 'eu'][2]/label", {}, "Spain"),
        ("instance('countries')/root/item[position() = 3]/name", {}, "ke"),
        ("join(' ', instance('countries')/root/item[zone != ${z}]/name)", {"z": "af"}, "fr es"),
        ("instance('countries')/root/item[zone = 'eu']/label = 'Spain'", {}, True),
        ("instance('missing')/root/item/label", {}, None),
        ("pulldata('prices.csv', 'price', 'item', ${i}) * 2", {"i": "rice"}, 5.0),
        ("pulldata('prices.csv', 'price', 'item', 'salt')", {}, ""),
    ],
)
def test_secondary_instance_lookups(source: str, env: dict[str, Any], expected: Any) -> None:
    value = parse(source).evaluate(env, instances=PLACES)
    assert_same(value, expected)


def test_lookup_predicates_read_the_row_and_the_answers() -> None:
    expression = parse("instance('countries')/root/item[zone = ${z} and name != ${c}]/label")
    assert expression.references == {"z", "c"}
    assert "instance" in expression.functions
    assert expression.evaluate({"z": "eu", "c": "fr"}, instances=PLACES) == "Spain"


LOOKUP_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", "1", "01", "1.0", "2026-01-05", "2026-01-05T00:00:00Z", ""]),
    st.integers(-2, 2),
    st.booleans(),
)


@FAST
@given(
    st.lists(st.dictionaries(st.sampled_from(["k", "v"]), LOOKUP_VALUES), max_size=6), LOOKUP_VALUES
)
def test_a_column_lookup_matches_as_the_general_predicate_does(
    rows: list[dict[str, Any]], key: Any
) -> None:
    """`[k = ${x}]` takes a fast path; `[true() and k = ${x}]` the general one."""
    instances = {"t": rows}
    fast = parse("count(instance('t')/root/item[k = ${x}])")
    general = parse("count(instance('t')/root/item[true() and k = ${x}])")
    env = {"x": key}
    assert fast.evaluate(env, instances=instances) == general.evaluate(env, instances=instances)


def test_choice_name_gives_the_label_in_the_language_given() -> None:
    labels = {"country": {"fr": "France", "es": "Espagne"}}
    expression = parse("jr:choice-name(${country}, '${country}')")
    assert expression.evaluate({"country": "es"}, choice_names=labels) == "Espagne"
    assert expression.evaluate({"country": "it"}, choice_names=labels) == ""
    xpath = parse("jr:choice-name(${country}, '/data/country')")
    assert xpath.evaluate({"country": "fr"}, choice_names=labels) == "France"


def test_random_and_uuid_are_stable_for_one_seed() -> None:
    draw = parse("random()")
    first = draw.evaluate({}, seed="record-1")
    assert first == draw.evaluate({}, seed="record-1")
    assert first != draw.evaluate({}, seed="record-2")
    assert 0 <= first < 1
    two = parse("random() = random()")
    assert two.evaluate({}, seed="record-1") is False  # two calls, two draws
    unseeded = {draw.evaluate({}) for _ in range(5)}
    assert len(unseeded) == 5
    identifier = parse("uuid()").evaluate({}, seed="record-1")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", identifier
    )
    assert identifier == parse("uuid()").evaluate({}, seed="record-1")
    assert len(parse("uuid(12)").evaluate({})) == 12


def test_once_keeps_the_stored_value() -> None:
    assert evaluate("once(concat('a', 'b'))") == "ab"
    assert evaluate("once(concat('a', 'b'))", current="kept") == "kept"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("substr('hello', 1, 3)", "el"),
        ("substr('hello', -2)", "lo"),
        ("substring('hello', 2, 3)", "ell"),
        ("translate('bar', 'abc', 'ABC')", "BAr"),
        ("translate('--aaa--', 'abc-', 'ABC')", "AAA"),
        ("ends-with('TAXIcab', 'cab')", True),
        ("selected-at('a b c', 1)", "b"),
        ("floor(-1.5)", -2),
        ("ceiling(1.2)", 2),
        ("pow(2, 10)", 1024),
        ("format-date('2026-03-05', '%e %b %Y, %a')", "5 Mar 2026, Thu"),
        ("format-date-time('2026-03-05T14:07:09+02:00', '%H:%M:%S %d/%m/%y')", "14:07:09 05/03/26"),
        ("date-time(1.5)", "1970-01-02T12:00:00.000+00:00"),
        ("decimal-date-time('1970-01-02T12:00:00Z')", 1.5),
        ("digest('abc', 'SHA-1', 'hex')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("digest('abc', 'SHA-3', 'hex')", None),
        ("boolean-from-string('true')", True),
        ("checklist(1, 2, 'true', '0', '1')", True),
        ("date('2026-1-5')", "2026-01-05"),
        ("date('2026-01-05') = 20458", True),
        ("normalize-space('  a \t b ')", "a b"),
    ],
)
def test_odk_functions(source: str, expected: Any) -> None:
    assert_same(evaluate(source), expected)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("position(${a})", "position() takes '..'"),
        ("../..", "'..' alone only has a meaning in position(..)"),
        ("1 + ..", "'..' alone"),
        ("count-non-empty(2)", "count-non-empty() takes a field of a repeat"),
        ("indexed-repeat('x', ${r}, 1)", "indexed-repeat() takes ${field}"),
        ("instance(${a})/root/item", "instance() takes the name of a list"),
        ("instance('a')/root", "expected instance('name')/root/item[...]/column"),
        ("instance('a')/root/item/label/more", "unexpected 'more'"),
        ("/data/x", "XPath paths are not supported"),
        ("current()/name", "unexpected 'name'"),
    ],
)
def test_path_errors_name_the_problem(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(fragment)):
        parse(source)


# -- bare names and QNames: what XPath makes of them, as ODK Collect does (issue #13) -----------
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("yes", None),  # osm__wastedisposal.xls: meant 'yes'; an empty node-set
        ("string(yes)", ""),
        ("boolean(basic)", False),  # osm__waterpoints.xls: `basic` as `required`
        ("yes = ''", False),  # an empty node-set equals nothing, not even ''
        ("yes != ''", False),
        ("not(yes)", True),
        ("count(yes)", 0),
        ("1 + age", None),  # NaN: empty
        ("concat('a', yes, 'b')", "ab"),
        ("if(yes, 'x', 'y')", "y"),
    ],
)
def test_a_bare_name_is_a_path_that_selects_nothing(source: str, expected: Any) -> None:
    expression = parse(source)
    assert_same(expression.evaluate({"yes": "a value", "basic": True, "age": 3}), expected)


def test_bare_names_are_listed_for_the_importer_to_warn() -> None:
    assert parse("yes").absent == {"yes"}
    assert parse("${a} = yes or basic").absent == {"yes", "basic"}
    assert parse("instance('l')/root/item[name = ${a}]/label").absent == frozenset()
    assert parse("'yes'").absent == frozenset()


OSM = {"amenities": [{"id": "n1", "fuel:diesel": "yes", "name": "Shell"}, {"id": "n2"}]}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # osm__amenities.xls row 27: OSM tags (QNames) as the items' children
        ("instance('amenities')/root/item[id=${existing}]/fuel:diesel", "yes"),
        ("instance('amenities')/root/item[fuel:diesel = 'yes']/name", "Shell"),
        ("count(instance('amenities')/root/item[fuel:diesel = 'yes'])", 1),
        ("jr:choice-name('x', '${existing}')", ""),
    ],
)
def test_qnames_name_an_instance_items_children(source: str, expected: Any) -> None:
    assert_same(parse(source).evaluate({"existing": "n1"}, instances=OSM), expected)


def test_a_colon_outside_a_qname_is_still_refused() -> None:
    for source in ("fuel: diesel", "a:b:c", ":x"):
        with pytest.raises(ExpressionError):
            parse(source)
