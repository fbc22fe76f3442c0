"""Validation of submissions: types, every error at once, properties under arbitrary input."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FieldSpec, FormSpec, RepeatSpec
from fieldapp.forms.validate import check
from fieldapp.forms.values import initial_values, join_parts, split_by_sensitivity
from tests.conftest import CANARY, attendance_values, screening_values

FORMS = load_builtin_forms()
SCREENING = FORMS["victim_screening"]
TRAINING = FORMS["training_attendance"]


def _form(*children: dict[str, Any], choices: dict[str, Any] | None = None) -> FormSpec:
    return FormSpec.model_validate(
        {
            "id": "t",
            "version": "1",
            "title": {"en": "T"},
            "languages": ["en", "fr"],
            "choices": choices or {},
            "children": list(children),
        }
    )


TYPED = _form(
    {"name": "n", "type": "integer", "label": {"en": "Count", "fr": "Nombre"}},
    {"name": "d", "type": "decimal", "label": {"en": "Weight", "fr": "Poids"}},
    {"name": "day", "type": "date", "label": {"en": "Day", "fr": "Jour"}},
    {"name": "at", "type": "datetime", "label": {"en": "At", "fr": "À"}},
    {"name": "b", "type": "boolean", "label": {"en": "Agreed", "fr": "D'accord"}},
    {"name": "g", "type": "geopoint", "label": {"en": "Place", "fr": "Lieu"}},
    {"name": "one", "type": "select_one", "choices": "abc", "label": {"en": "One", "fr": "Un"}},
    {"name": "many", "type": "select_multiple", "choices": "abc", "label": {"en": "Many"}},
    choices={"abc": [{"value": v, "label": {"en": v}} for v in "abc"]},
)


@pytest.mark.parametrize(
    ("field", "raw", "clean"),
    [
        ("n", "42", 42),
        ("n", 7.0, 7),
        ("d", "3,5", 3.5),
        ("day", "2026-01-31", "2026-01-31"),
        ("at", "2026-01-31T10:00:00+00:00", "2026-01-31T10:00:00+00:00"),
        ("b", "yes", True),
        ("b", "non", False),
        ("g", "11.55 104.92", {"lat": 11.55, "lon": 104.92, "alt": None, "accuracy": None}),
        ("one", "b", "b"),
        ("many", "a c a", ["a", "c"]),
    ],
)
def test_answers_are_read_as_their_type(field: str, raw: Any, clean: Any) -> None:
    result = check(TYPED, {field: raw})
    assert result.ok, result.errors
    assert result.values[field] == clean


@pytest.mark.parametrize(
    ("field", "raw", "english", "french"),
    [
        ("n", "4.5", "Count: enter a whole number.", "Nombre : saisissez un nombre entier."),
        ("n", True, "Count: enter a whole number.", "Nombre : saisissez un nombre entier."),
        ("d", "nan", "Weight: enter a number.", "Poids : saisissez un nombre."),
        ("day", "31/01/2026", "Day: enter a date as YYYY-MM-DD.", "Jour : saisissez une date"),
        ("b", "maybe", "Agreed: answer yes or no.", "D'accord : répondez oui ou non."),
        ("g", "95 10", "Place: enter a location", "Lieu : saisissez une position"),
        ("one", "z", "One: the answer is not one of", "Un : la réponse ne fait pas partie"),
        ("many", ["a", "q"], "Many: the answer is not one of", "Many : la réponse ne fait"),
    ],
)
def test_bad_answers_name_the_field_and_problem(
    field: str, raw: Any, english: str, french: str
) -> None:
    for lang, expected in (("en", english), ("fr", french)):
        result = check(TYPED, {field: raw}, lang=lang)
        assert [e.path for e in result.errors] == [field]
        assert result.errors[0].message.startswith(expected)
        assert field not in result.values


def test_unknown_fields_are_errors_not_dropped_silently() -> None:
    result = check(TYPED, {"n": 1, "favourite_colour": "blue"})
    assert [(e.path, e.code) for e in result.errors] == [("favourite_colour", "unknown_field")]


def test_drafts_skip_required_but_not_types() -> None:
    partial = check(SCREENING, {"age_years": "old"}, partial=True)
    assert [(e.field, e.code) for e in partial.errors] == [("age_years", "type")]
    full = check(SCREENING, {})
    assert {e.code for e in full.errors} == {"required"}


def test_repeat_instances_get_stable_ids() -> None:
    first = check(TRAINING, attendance_values(participants=2))
    ids = [p["_id"] for p in first.values["participants"]]
    assert len(set(ids)) == 2
    again = check(TRAINING, first.values)
    assert [p["_id"] for p in again.values["participants"]] == ids


def test_a_repeat_instance_id_cannot_carry_text_into_the_clear_part() -> None:
    values = attendance_values(participants=1)
    values["participants"][0]["_id"] = CANARY
    checked = check(TRAINING, values)
    instance_id = checked.values["participants"][0]["_id"]
    assert str(uuid.UUID(instance_id)) == instance_id
    stats, _ = split_by_sensitivity(TRAINING, checked.values)
    assert CANARY not in json.dumps(stats)


def test_split_keeps_only_statistical_fields_in_clear() -> None:
    values = check(SCREENING, screening_values()).values
    stats, secret = split_by_sensitivity(SCREENING, values)
    statistical = {f.name for f in SCREENING.fields() if f.sensitivity == "statistical"}
    assert set(stats) <= statistical
    assert not set(secret) & statistical
    assert join_parts(SCREENING, stats, secret) == values


def test_split_and_join_repeats() -> None:
    values = check(TRAINING, attendance_values(participants=3)).values
    stats, secret = split_by_sensitivity(TRAINING, values)
    assert all("full_name" not in p for p in stats["participants"])
    assert [p["sex"] for p in stats["participants"]] == ["male", "female", "male"]
    assert join_parts(TRAINING, stats, secret) == values


def test_initial_values_apply_defaults() -> None:
    spec = _form({"name": "n", "type": "integer", "label": {"en": "N"}, "default": 3})
    assert initial_values(spec) == {"n": 3}


# -- properties ---------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _answers(spec: FormSpec) -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary answers, mostly under the form's own field names, sometimes plausible."""
    names = [n.name for n in spec.walk() if isinstance(n, FieldSpec | RepeatSpec)]
    plausible: list[Any] = [c.value for options in spec.choices.values() for c in options[:3]]
    value = JSONISH | st.sampled_from([*plausible, "2026-01-01", "yes", "12", ""])
    instance = st.dictionaries(st.sampled_from(names), value, max_size=6)
    return st.dictionaries(
        st.sampled_from(names) | st.text(max_size=6),
        value | st.lists(instance, max_size=3),
        max_size=12,
    )


@pytest.mark.slow  # 150 random submissions per form: the full run only
@pytest.mark.parametrize("spec", [SCREENING, TRAINING], ids=lambda s: s.id)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_check_never_crashes_and_names_every_problem(spec: FormSpec, data: st.DataObject) -> None:
    answers = data.draw(_answers(spec))
    lang = data.draw(st.sampled_from(["en", "fr", "es", "ar", "xx"]))
    result = check(spec, answers, lang=lang)
    known = {n.name for n in spec.walk()}
    for error in result.errors:
        assert error.message and error.label in error.message
        assert error.field in known or error.code == "unknown_field"
    # What survives is clean: checking it again changes nothing and adds no type errors.
    again = check(spec, result.values, lang=lang)
    assert again.values == result.values
    assert not [e for e in again.errors if e.code in ("type", "choice", "unknown_field")]
    stats, secret = split_by_sensitivity(spec, result.values)
    assert join_parts(spec, stats, secret) == result.values


def test_absurdly_nested_forms_are_refused_before_they_exhaust_the_stack() -> None:
    node: dict[str, Any] = {"name": "leaf", "type": "integer"}
    for level in range(2000):
        node = {"kind": "group", "name": f"g{level}", "children": [node]}
    with pytest.raises(ValueError, match="nest more than 32 levels"):
        FormSpec.model_validate(
            {"id": "deep", "version": "1", "title": {"en": "D"}, "children": [node]}
        )


def test_a_bad_choice_on_a_sensitive_field_is_not_repeated_in_the_message() -> None:
    """Error messages reach terminals and import reports: a name typed into the wrong column
    of a sensitive select must not travel with them."""
    spec = _form(
        {"name": "lang", "type": "select_one", "choices": "abc", "label": {"en": "Language"}},
        {"name": "band", "type": "select_one", "choices": "abc", "label": {"en": "Band"},
         "sensitivity": "statistical"},
        choices={"abc": [{"value": v, "label": {"en": v}} for v in "abc"]},
    )  # fmt: skip
    errors = {e.field: e.message for e in check(spec, {"lang": CANARY, "band": "zz"}).errors}
    assert CANARY not in errors["lang"] and "not one of the choices" in errors["lang"]
    assert "'zz'" in errors["band"]


HOUSEHOLD = _form(
    {"name": "country", "type": "select_one", "choices": "country", "label": {"en": "Country"}},
    {
        "name": "country_name",
        "type": "calculate",
        "calculation": "jr:choice-name(${country}, '${country}')",
    },
    {
        "name": "zone_label",
        "type": "calculate",
        "calculation": "instance('country')/root/item[name = ${country}]/label",
    },
    {"name": "code", "type": "calculate", "calculation": "once(concat('C-', ${country}))"},
    {
        "kind": "repeat",
        "name": "members",
        "label": {"en": "Members"},
        "children": [
            {"name": "age", "type": "integer", "label": {"en": "Age"}},
            {"name": "number", "type": "calculate", "calculation": "position(..)"},
            {
                "name": "older",
                "type": "integer",
                "label": {"en": "Older than the first?"},
                "relevant": "position(..) > 1 and ../age > indexed-repeat(${age}, ${members}, 1)",
            },
        ],
    },
    {"name": "total", "type": "calculate", "calculation": "sum(${age})"},
    choices={
        "country": [
            {"value": "fr", "label": {"en": "France", "fr": "France"}},
            {"value": "es", "label": {"en": "Spain", "fr": "Espagne"}},
        ]
    },
)


def test_calculations_use_the_odk_functions_in_repeats_and_lookups() -> None:
    values = {
        "country": "es",
        "members": [{"age": 40, "older": 1}, {"age": 30, "older": 2}, {"age": 50, "older": 3}],
    }
    checked = check(HOUSEHOLD, values, lang="fr")
    assert not checked.errors
    clean = checked.values
    assert (clean["country_name"], clean["zone_label"], clean["code"]) == (
        "Espagne",
        "Espagne",
        "C-es",
    )
    assert [m["number"] for m in clean["members"]] == [1, 2, 3]
    # irrelevant answers are dropped: the first member, and one younger than the first
    assert ["older" in m for m in clean["members"]] == [False, False, True]
    assert clean["total"] == 120


def test_once_keeps_a_calculated_value_when_the_record_is_checked_again() -> None:
    first = check(HOUSEHOLD, {"country": "es"}).values
    assert first["code"] == "C-es"
    again = check(HOUSEHOLD, {**first, "country": "fr"}).values
    assert (again["code"], again["country_name"]) == ("C-es", "France")
