"""Conformance with a peer engine: the function tests of enketo/openrosa-xpath-evaluator
(Apache-2.0), ported as data into `openrosa_cases.tsv` by tools/conformance/port_openrosa.py.

Each case evaluates the peer's expression with our engine and checks the value the peer's test
asserts, read the way its helper reads it (XPath string(), number() or boolean() of the
result; our empty value stands for the peer's NaN). Cases our engine does not pass by design
are expected failures with the reason (strict: a case that starts passing must be moved out).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections import ChainMap
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.expr import ExpressionError, parse
from fieldapp.forms.expr.values import numeric, to_string

TABLE = Path(__file__).with_name("openrosa_cases.tsv")


def _read_cases() -> list[tuple[str, str, str, Any, str | None]]:
    cases = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            case_id, kind, *cells = line.split("\t")
            source, expected, text = (json.loads(cell) for cell in cells)
            cases.append((case_id, kind, source, expected, text))
    return cases


CASES = _read_cases()

DENVER = datetime.timezone(datetime.timedelta(hours=-7))
NOW = datetime.datetime(2026, 1, 1, 9, 30, tzinfo=DENVER)  # the recording's fixed clock
TODAY = NOW.date()

KEYWORD = "a number directly followed by and/or (1and1) is refused: write 1 and 1"
INFINITE = (
    "numbers stay finite: where XPath gives Infinity or NaN (and the peer the text Invalid "
    "Date) the value is empty"
)
LAZY = (
    "an unknown function or a wrong number of arguments is refused when the form is "
    "imported, even in a branch that would not run"
)
PATHS = (
    "XPath paths into an XML document (/data/a, //item, xhtml:div): our expressions read "
    "answers by ${name}; the repeat equivalents are in ADAPTED"
)
TIME_ZONE = (
    "dates are days since 1970-01-01 (UTC) and datetimes keep their own offset; the peer "
    "counts in the browser's time zone (America/Denver in its tests), and its date(n) is a "
    "local datetime"
)
JS_DATE = "format-date() reads ISO dates, not JavaScript's Date.toString() text"
EXPONENT = "XPath 1.0 numbers have no exponent (7.9e-12), in literals or in number()"
XFAIL: dict[str, str] = {
    **dict.fromkeys(
        [
            "and-or-1",
            "and-or-2",
            "and-or-25",
            "and-or-26",
        ],
        KEYWORD,
    ),
    **dict.fromkeys(
        [
            "and-or-15",
            "and-or-16",
            "date-time-5",
            "date-32",
            "date-33",
            "native-boolean-7",
            "native-string-8",
            "native-string-9",
            "native-string-70",
            "native-string-77",
        ],
        INFINITE,
    ),
    **dict.fromkeys(
        [
            "and-or-22",
            "and-or-23",
            "and-or-24",
            "and-or-46",
            "and-or-47",
            "and-or-48",
            "and-or-99",
            "and-or-100",
            "and-or-101",
            "and-or-102",
            "and-or-103",
            "and-or-104",
            "and-or-105",
            "and-or-106",
            "and-or-107",
            "and-or-108",
            "and-or-109",
            "if-9",
            "if-10",
            "if-11",
            "if-12",
            "if-13",
            "if-14",
            "if-15",
            "if-16",
            "if-18",
            "if-19",
            "if-20",
            "if-21",
        ],
        LAZY,
    ),
    **dict.fromkeys(
        [
            "coalesce-6",
            "count-non-empty-1",
            "count-non-empty-2",
            "count-non-empty-3",
            "count-non-empty-4",
            "count-non-empty-5",
            "count-non-empty-6",
            "decimal-time-13",
            "ends-with-10",
            "if-7",
            "if-22",
            "if-23",
            "if-24",
            "if-25",
            "if-26",
            "if-27",
            "if-32",
            "join-1",
            "join-4",
            "join-5",
            "max-6",
            "max-7",
            "max-9",
            "max-10",
            "max-11",
            "min-6",
            "min-7",
            "min-9",
            "min-10",
            "sum-1",
            "trigo-3",
            "weighted-checklist-9",
            "weighted-checklist-10",
            "weighted-checklist-11",
            "native-boolean-13",
            "native-boolean-14",
            "native-boolean-15",
        ],
        PATHS,
    ),
    **dict.fromkeys(
        [
            "date-time-2",
            "date-time-3",
            "date-time-4",
            "date-10",
            "date-13",
            "date-15",
            "date-17",
            "date-28",
            "date-29",
            "date-30",
            "date-31",
            "date-59",
            "date-60",
            "date-61",
            "date-62",
            "date-63",
            "date-64",
            "date-66",
            "date-67",
            "date-68",
            "date-69",
            "date-70",
            "date-71",
            "date-101",
            "date-102",
            "date-108",
            "date-109",
            "decimal-date-time-4",
            "decimal-date-time-5",
            "decimal-date-time-6",
            "decimal-date-time-7",
            "decimal-date-time-8",
            "decimal-date-time-9",
            "decimal-date-time-10",
            "decimal-date-time-11",
            "decimal-time-2",
            "decimal-time-5",
            "number-28",
            "number-29",
            "number-30",
            "number-31",
            "number-32",
        ],
        TIME_ZONE,
    ),
    **dict.fromkeys(
        [
            "format-date-1",
            "format-date-2",
        ],
        JS_DATE,
    ),
    **dict.fromkeys(
        [
            "int-11",
            "int-13",
        ],
        EXPONENT,
    ),
}


def _number(value: Any) -> float:
    number = numeric(value)  # as number(): a date is days since 1970
    return math.nan if number is None else float(number)


def _same_number(actual: float, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(actual)
    return actual == expected or math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-15)


def check(kind: str, source: str, expected: Any, text: str | None) -> None:
    if kind == "error":
        with pytest.raises(ExpressionError):
            parse(source)
        return
    env = {} if text is None else {"node": text}
    value = parse(source).evaluate(env, today=TODAY, now=NOW)
    if kind == "boolean":
        assert parse(source).truth(env, today=TODAY, now=NOW) is expected
    elif kind == "string":  # the peer's assert.equal: '5' == 5
        assert to_string(value) == (expected if isinstance(expected, str) else to_string(expected))
    elif kind == "number":
        assert _same_number(_number(value), _number(expected) if expected == expected else math.nan)
    elif kind == "length":
        assert len(to_string(value)) == expected
    elif kind == "match":
        assert re.search(expected, to_string(value))
    elif kind == "rounded":
        target, factor = expected
        assert round(_number(value) * factor) / factor == target
    else:  # pragma: no cover - the table has no other kind
        raise AssertionError(kind)


def _params() -> list[Any]:
    params = []
    for case_id, kind, source, expected, text in CASES:
        marks = []
        if case_id in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[case_id]))
        params.append(pytest.param(kind, source, expected, text, id=case_id, marks=marks))
    return params


@pytest.mark.parametrize(("kind", "source", "expected", "text"), _params())
def test_openrosa_xpath_case(kind: str, source: str, expected: Any, text: str | None) -> None:
    check(kind, source, expected, text)


def test_every_expected_failure_names_a_case() -> None:
    assert set(XFAIL) <= {case[0] for case in CASES}


# Peer cases that need a DOM context node, adapted to our answers model (same commit and
# licence as openrosa_cases.tsv). The context node's text becomes the value being checked
# ('.', `current`); a list of sibling elements becomes a repeat whose instances hold the
# field `item` (`//item` and `*` become ${item}, read from outside the repeat); an element's
# position among its siblings becomes a repeat instance's position. (id, kind, source,
# expected, answers, current, repeat instance: position path or None)
ITEMS = {"r": [{"item": "-10"}, {"item": "11"}, {"item": "99"}]}
WORDS = {"r": [{"item": "one"}, {"item": "two"}, {"item": "three"}]}
DIGITS = {"r": [{"item": str(n)} for n in range(1, 5)]}
MIXED = {"r": [{"item": "3"}, {"item": "17"}, {"item": "-32"}, {"item": "cheese"}]}
NON_EMPTY = {"r": [{"item": "-5"}, {"item": "-15"}, {"item": ""}, {}]}
NESTED = {"outer": [{"inner": [{"p": str(n)}]} for n in range(1, 5)]}
SIX = {"r": [{"item": str(n)} for n in range(6)]}
ADAPTED: list[tuple[str, str, str, Any, dict[str, Any], Any, tuple[int, ...] | None]] = [
    # count-selected.spec.js: count-selected(self::node()) on elements holding the values
    ("count-selected-dom-1", "number", "count-selected(.)", 0, {}, "", None),
    ("count-selected-dom-2", "number", "count-selected(.)", 1, {}, "ab", None),
    ("count-selected-dom-3", "number", "count-selected(.)", 4, {}, "ab cd ef gh", None),
    # selected-at.spec.js 'with nodes'
    ("selected-at-dom-1", "string", "selected-at(., 0)", "", {}, "", None),
    ("selected-at-dom-2", "string", "selected-at(., 0)", "ab", {}, "ab", None),
    ("selected-at-dom-3", "string", "selected-at(., 1)", "", {}, "ab", None),
    ("selected-at-dom-4", "string", "selected-at(., 2)", "ef", {}, "ab cd ef gh", None),
    ("selected-at-dom-5", "string", "selected-at(., -1)", "", {}, "ab cd ef gh", None),
    # once.spec.js: the context node is the field; its stored value is `current`
    ("once-dom-1", "string", 'once("aa")', "aa", {}, "", None),
    ("once-dom-2", "string", 'once("aa")', "ab", {}, "ab", None),
    # position.spec.js: position(.) of the 3rd of six siblings; position(../..) of an
    # element in the 2nd of four containers (a field of a nested repeat)
    ("position-dom-1", "number", "position(..)", 3, SIX, None, (2,)),
    ("position-dom-2", "number", "position(../..)", 2, NESTED, None, (1, 0)),
    # sum.spec.js
    ("sum-dom-1", "number", "sum(${item})", 100, ITEMS, None, None),
    ("sum-dom-2", "number", "sum(${n})", 123, {"n": "123"}, None, None),
    ("sum-dom-3", "number", "sum(${item})", math.nan, MIXED, None, None),
    # join.spec.js
    ("join-dom-1", "string", 'join(" :: ", ${item})', "one :: two :: three", WORDS, None, None),
    ("join-dom-2", "string", 'join(", ", ${item})', "1, 2, 3, 4", DIGITS, None, None),
    # max.spec.js / min.spec.js over /root/item
    ("max-dom-1", "number", "max(${item})", math.nan, MIXED, None, None),
    ("max-dom-2", "number", "max(${item})", 99, ITEMS, None, None),
    ("min-dom-1", "number", "min(${item})", -10, ITEMS, None, None),
    ("min-dom-2", "number", "min(${item})", math.nan, MIXED, None, None),
    # count-non-empty.spec.js: the three <div>s holding -5, -15 and nothing
    ("count-non-empty-dom-1", "number", "count-non-empty(${item})", 2, NON_EMPTY, None, None),
    ("count-non-empty-dom-2", "number", "count-non-empty(${none})", 0, NON_EMPTY, None, None),
]


def _inside(answers: dict[str, Any], path: tuple[int, ...]) -> Any:
    """The ChainMap validation builds for a field of the repeat instance at `path` (one
    index per nesting level, the single repeat of each level)."""
    env: Any = ChainMap(answers)
    scope: Any = answers
    for index in path:
        repeat = next(value for value in scope.values() if isinstance(value, list))
        scope = repeat[index]
        env = env.new_child(scope)
    return env


@pytest.mark.parametrize(
    ("kind", "source", "expected", "answers", "current", "path"),
    [pytest.param(*case[1:], id=case[0]) for case in ADAPTED],
)
def test_adapted_dom_case(
    kind: str,
    source: str,
    expected: Any,
    answers: dict[str, Any],
    current: Any,
    path: tuple[int, ...] | None,
) -> None:
    env = answers if path is None else _inside(answers, path)
    value = parse(source).evaluate(env, current=current, today=TODAY, now=NOW)
    if kind == "number":
        assert _same_number(_number(value), expected)
    else:
        assert to_string(value) == expected
