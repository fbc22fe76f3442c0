"""What a form may keep in clear: the shape the forms engine infers for an expression, and
the refusal of a statistical calculation that could carry a name or an exact sealed value."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.expr import Shape, parse
from fieldapp.forms.spec import FieldSpec, FormSpec
from tests.test_expr import ENVS, NOW, TODAY, VALID_SOURCES

INPUTS = {
    "flag": Shape("boolean"),
    "age": Shape("number"),
    "start": Shape("date"),
    "band": Shape("choice", frozenset({"0_17", "18_plus"})),
    "name": Shape("open"),
}

SHAPES: list[tuple[str, Shape]] = [
    ("${age} < 18", Shape("boolean")),
    ("${age} >= 18 and ${flag}", Shape("boolean")),
    ("${name} = 'x' or ${name} = 'y'", Shape("boolean")),
    ("not(${name})", Shape("boolean")),
    ("selected(${name}, 'a')", Shape("boolean")),
    ("regex(${name}, '^A')", Shape("boolean")),
    ("${flag}", Shape("boolean")),
    ("if(${age} < 18, 'child', 'adult')", Shape("choice", frozenset({"child", "adult"}))),
    (
        "if(${age} < 12, '0_11', if(${age} < 18, '12_17', '18_plus'))",
        Shape("choice", frozenset({"0_11", "12_17", "18_plus"})),
    ),
    ("if(${flag}, 1, 0)", Shape("choice", frozenset({1, 0}))),
    ("if(${name} = '', '', 'named')", Shape("choice", frozenset({"named"}))),
    ("coalesce(${band}, 'unknown')", Shape("choice", frozenset({"0_17", "18_plus", "unknown"}))),
    ("if(${flag}, ${flag}, false())", Shape("boolean")),
    ("''", Shape("empty")),
    ("int(${age} div 10) * 10", Shape("number")),
    ("-${age}", Shape("number")),
    ("count-selected(${name})", Shape("number")),
    ("string-length(${name})", Shape("number")),
    ("today()", Shape("date")),
    ("date(${start} + 1)", Shape("date")),
    ("${name}", Shape("open")),
    ("${unknown}", Shape("open")),
    ("concat('a', 'b')", Shape("open")),
    ("string(${age})", Shape("open")),
    ("now()", Shape("open")),
    ("if(${flag}, 'named', ${name})", Shape("open")),
    ("if(${flag}, 1, true())", Shape("open")),
    ("coalesce(${age}, ${start})", Shape("open")),
]


@pytest.mark.parametrize(("source", "shape"), SHAPES)
def test_the_shape_of_an_expression(source: str, shape: Shape) -> None:
    assert parse(source).shape(INPUTS) == shape


def test_an_expression_lists_the_functions_it_calls() -> None:
    assert parse("if(today() > ${a}, int(${b}), 0)").functions == {"if", "today", "int"}


def _shape_of(value: Any) -> Shape:
    """The shape an input of this value has in the property below."""
    if value is None or value == "" or value == []:
        return Shape("empty")
    if isinstance(value, bool):
        return Shape("boolean")
    if isinstance(value, int | float):
        return Shape("number")
    if isinstance(value, str):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return Shape("choice", frozenset({value}))
        return Shape("date") if len(value) == 10 else Shape("choice", frozenset({value}))
    return Shape("open")


def _fits(value: Any, shape: Shape) -> bool:
    if value is None or value == "" or value == [] or shape.kind == "open":
        return True
    if shape.kind == "boolean":
        return isinstance(value, bool)
    if shape.kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if shape.kind == "date":
        return isinstance(value, str) and _shape_of(value) == Shape("date")
    if shape.kind == "choice":
        return not isinstance(value, bool) and value in shape.values
    return False  # "empty": only empty values fit


@settings(max_examples=400, deadline=None)
@given(VALID_SOURCES, ENVS)
def test_every_value_fits_the_inferred_shape(source: str, env: dict[str, Any]) -> None:
    """The server checks stats against these shapes: an honest device must never miss one."""
    expression = parse(source)
    shape = expression.shape({name: _shape_of(value) for name, value in env.items()})
    assert _fits(expression.evaluate(env, today=TODAY, now=NOW), shape)


# --- statistical calculations in a form ---------------------------------------------------------


def form(*fields: dict[str, Any], repeat: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A form dict: a sealed name, age and date of birth, statistical start/end dates, a
    statistical choice, then `fields` (and a repeat of `repeat`)."""
    children: list[dict[str, Any]] = [
        {"name": "name", "type": "text"},
        {"name": "age_years", "type": "integer"},
        {"name": "date_of_birth", "type": "date"},
        {"name": "start_date", "type": "date", "sensitivity": "statistical"},
        {"name": "end_date", "type": "date", "sensitivity": "statistical"},
        {"name": "sex", "type": "select_one", "choices": "sexes", "sensitivity": "statistical"},
        *fields,
    ]
    if repeat is not None:
        children.append({"kind": "repeat", "name": "people", "children": repeat})
    return {
        "id": "f",
        "version": "1",
        "title": {"en": "F"},
        "choices": {"sexes": [{"value": v, "label": {"en": v}} for v in ("female", "male")]},
        "children": children,
    }


def calculate(name: str, calculation: str, sensitivity: str = "statistical") -> dict[str, Any]:
    return {
        "name": name,
        "type": "calculate",
        "calculation": calculation,
        "sensitivity": sensitivity,
    }


COARSE = [
    calculate("is_minor", "${age_years} < 18 or (today() - ${date_of_birth}) div 365.25 < 18"),
    calculate("age_group", "if(${age_years} < 18, 'child', 'adult')"),
    calculate("sex_copy", "${sex}"),
    calculate("event_days", "int(${end_date} - ${start_date}) + 1"),
    calculate("next_day", "date(${start_date} + 1)"),
    calculate("people_count", "count(${people})"),
    calculate("nothing", "''"),
    calculate("exact_age", "${age_years}", sensitivity="sensitive"),  # sealed: anything goes
]


@pytest.mark.parametrize("field", COARSE, ids=lambda f: f["name"])
def test_a_coarse_statistical_calculation_is_valid(field: dict[str, Any]) -> None:
    FormSpec.model_validate(form(field, repeat=[{"name": "who", "type": "text"}]))


LEAKY = [
    (calculate("name_copy", "${name}"), "can yield any text, such as a name (from ${name})"),
    (calculate("greeting", "concat('Dear ', ${name})"), "can yield any text"),
    (calculate("exact_age", "${age_years}"), "exact number read from ${age_years}"),
    (
        calculate("age_now", "int((today() - ${date_of_birth}) div 365.25)"),
        "exact number read from ${date_of_birth} and today()",
    ),
    (calculate("days_ago", "today() - ${start_date}"), "exact number read from today()"),
    (calculate("birthday", "date(${date_of_birth})"), "exact date read from ${date_of_birth}"),
    (calculate("mixed", "if(${age_years} < 18, 'child', ${age_years})"), "can yield any text"),
]


@pytest.mark.parametrize(("field", "problem"), LEAKY, ids=[f["name"] for f, _ in LEAKY])
def test_a_statistical_calculation_that_could_leak_is_refused(
    field: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        FormSpec.model_validate(form(field))
    message = str(refused.value)
    assert f"field {field['name']!r} is statistical (kept in clear)" in message
    assert problem in message
    assert "keep it sensitive" in message


def test_an_unreadable_statistical_calculation_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"'bad' is statistical .* cannot be read"):
        FormSpec.model_validate(form(calculate("bad", "${name} +")))


def test_calculations_read_through_calculations() -> None:
    spec = FormSpec.model_validate(
        form(
            calculate("minor", "${age_years} < 18", sensitivity="sensitive"),
            calculate("band", "if(${minor}, 'child', 'adult')"),
            calculate("band_copy", "${band}"),
            calculate("days", "int(${end_date} - ${start_date})"),
            calculate("weeks", "${days} div 7"),
        )
    )
    statistics = spec.statistics()
    shapes = {f.name: statistics.shape(f) for f in spec.fields() if f.type == "calculate"}
    assert shapes["band_copy"] == Shape("choice", frozenset({"child", "adult"}))
    assert shapes["weeks"] == Shape("number")
    weeks = parse("${days} div 7")
    assert statistics.reads_statistics_only(weeks)
    assert not statistics.reads_statistics_only(parse("${minor}"))


def test_a_calculation_reading_itself_back_is_open() -> None:
    with pytest.raises(ValidationError, match="'loop_a' is statistical"):
        FormSpec.model_validate(
            form(calculate("loop_a", "${loop_b}"), calculate("loop_b", "${loop_a}"))
        )


def test_a_long_chain_of_calculations_is_shaped_without_recursion() -> None:
    chain = [calculate("c0", "${age_years} < 18")]
    chain += [calculate(f"c{i}", f"${{c{i - 1}}}") for i in range(1, 5000)]
    spec = FormSpec.model_validate(form(*chain))
    last = spec.node("c4999")
    assert isinstance(last, FieldSpec)
    assert spec.statistics().shape(last) == Shape("boolean")


def test_the_built_in_calculations_are_coarse() -> None:
    """Published versions never change: they must stay valid as they are."""
    forms = load_builtin_forms()
    screening, training = forms["victim_screening"], forms["training_attendance"]
    is_minor, event_days = screening.node("is_minor"), training.node("event_days")
    assert isinstance(is_minor, FieldSpec) and isinstance(event_days, FieldSpec)
    assert screening.statistics().shape(is_minor) == Shape("boolean")
    assert training.statistics().shape(event_days) == Shape("number")
    assert training.statistics().reads_statistics_only(parse(event_days.calculation or ""))
