"""choice_filter, as XLSForm reads it: a select's choices narrowed by the other answers, the
choice's columns by bare name (`name` its value). The expression language parses it, the
form checks refuse one that does not parse, validation refuses a pick outside the narrowed
list (naming the field) and the form screen lists only what it keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.choice_sets import choice_set_rows
from fieldapp.forms.choices import visible_choices
from fieldapp.forms.expr import parse, parse_choice_filter
from fieldapp.forms.spec import FieldSpec, FormSpec
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import import_xlsform
from tests.test_xlsform import write_xlsform

SUBDIVISIONS = "iso3166-2.pycountry-26.2.16"
PLACES = {
    "countries": [
        {"value": "KH", "label": {"en": "Cambodia"}},
        {"value": "SN", "label": {"en": "Senegal"}},
    ],
    "provinces": [
        {"value": "KH-2", "label": {"en": "Battambang"}, "columns": {"country": "KH"}},
        {"value": "KH-7", "label": {"en": "Kampot"}, "columns": {"country": "KH"}},
        {"value": "SN-DK", "label": {"en": "Dakar"}, "columns": {"country": "SN"}},
        {"value": "other", "label": {"en": "Other"}},
    ],
}
COUNTRY = {"name": "country", "type": "select_one", "choices": "countries"}
FILTER = "country = ${country} or name = 'other'"


def form(*children: dict[str, Any], choices: dict[str, Any] | None = None, **top: Any) -> FormSpec:
    return FormSpec.model_validate(
        {
            "id": "places",
            "version": "1",
            "title": {"en": "Places"},
            "choices": PLACES if choices is None else choices,
            "children": list(children),
            **top,
        }
    )


def province(**more: Any) -> dict[str, Any]:
    return {
        "name": "province",
        "type": "select_one",
        "label": {"en": "Province"},
        "choices": "provinces",
        "choice_filter": FILTER,
        **more,
    }


PROVINCE_FORM = form(COUNTRY, province())


def field(spec: FormSpec, name: str) -> FieldSpec:
    node = spec.node(name)
    assert isinstance(node, FieldSpec)
    return node


def shown(spec: FormSpec, name: str, env: dict[str, Any]) -> list[str]:
    return [c.value for c in visible_choices(spec, field(spec, name), env)]


# -- the expression language ------------------------------------------------------------------


def test_a_bare_name_in_a_choice_filter_is_a_column_of_the_choice() -> None:
    expression = parse_choice_filter(FILTER)
    assert expression.columns == {"country", "name"}
    assert expression.references == {"country"}
    kampot = {"name": "KH-7", "country": "KH"}
    assert expression.truth({"country": "KH"}, choice=kampot)
    assert not expression.truth({"country": "SN"}, choice=kampot)
    assert expression.truth({"country": "SN"}, choice={"name": "other"})  # no country column


def test_functions_read_columns_too() -> None:
    starts = parse_choice_filter("starts-with(name, concat(${country}, '-'))")
    assert starts.truth({"country": "KH"}, choice={"name": "KH-7"})
    assert not starts.truth({"country": "KH"}, choice={"name": "KHM"})
    picked = parse_choice_filter("selected(${regions}, region)")
    assert picked.truth({"regions": ["north", "east"]}, choice={"region": "east"})
    assert not picked.truth({"regions": ["north"]}, choice={"region": "east"})


def test_a_missing_column_is_empty() -> None:
    expression = parse_choice_filter("zone = '' and ${x} = 1")
    assert expression.truth({"x": 1}, choice={"name": "a"})
    assert not expression.truth({"x": 1}, choice={"name": "a", "zone": "z"})


def test_outside_a_choice_filter_a_bare_name_is_an_empty_path_not_a_column() -> None:
    expression = parse("country = ${country}")
    assert (expression.columns, expression.absent) == (frozenset(), {"country"})
    assert not expression.truth({"country": "KH"}, choice={"country": "KH"})
    assert parse("${country} = 'KH'").columns == frozenset()


ROWS = (
    {"name": "KH-2", "country": "KH"},
    {"name": "KH-7", "country": "KH", "zone": "south"},
    {"name": "SN-DK", "country": "SN"},
    {"name": "1", "country": "1"},
    {"name": "other"},
)


@pytest.mark.parametrize(
    "source",
    [
        "country = ${country}",
        "${country} = country or name = 'other'",
        "country = ${country} or starts-with(name, 'SN')",
        "country != ${country}",
        "name = ${country} or zone = 'south'",
        "zone = ''",
        "country = ${number} or country = ${flag}",
        "country = concat(${country}, '') and name != 'KH-7'",
    ],
)
@pytest.mark.parametrize(
    "env",
    [{"country": "KH"}, {"country": "SN-DK"}, {}, {"country": ""}, {"number": 1, "flag": True}],
)
def test_the_indexed_filter_keeps_what_judging_each_choice_keeps(
    source: str, env: dict[str, Any]
) -> None:
    """The look-up of `column = ${field}` terms is an optimisation, never a new meaning."""
    expression = parse_choice_filter(source)
    each = [i for i, row in enumerate(ROWS) if expression.truth(env, choice=row)]
    assert expression.kept_rows(ROWS, env) == each


# -- the form checks ------------------------------------------------------------------------


def test_a_choice_filter_that_does_not_parse_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"field 'province': choice_filter: unexpected end"):
        form(COUNTRY, province(choice_filter="country = "))


def test_only_a_select_has_a_choice_filter() -> None:
    with pytest.raises(ValueError, match=r"field 'venue': only a select has a choice_filter"):
        form({"name": "venue", "type": "text", "choice_filter": FILTER})


def test_choice_columns_are_kept_and_left_out_of_the_json_when_empty() -> None:
    dumped = PROVINCE_FORM.model_dump(mode="json")["choices"]
    assert dumped["provinces"][0]["columns"] == {"country": "KH"}
    assert "columns" not in dumped["countries"][0]


# -- validation -----------------------------------------------------------------------------


def test_the_list_narrows_to_the_countrys_choices_and_other() -> None:
    assert shown(PROVINCE_FORM, "province", {"country": "KH"}) == ["KH-2", "KH-7", "other"]
    assert shown(PROVINCE_FORM, "province", {"country": "SN"}) == ["SN-DK", "other"]
    assert shown(PROVINCE_FORM, "province", {}) == ["other"]


def test_a_pick_of_another_country_is_an_error_naming_the_field() -> None:
    result = check(PROVINCE_FORM, {"country": "SN", "province": "KH-2"})
    assert [(e.path, e.code) for e in result.errors] == [("province", "choice")]
    assert result.errors[0].message == (
        "Province: the answer is not one of the choices for your other answers; choose again."
    )
    assert result.values["province"] == "KH-2"  # flagged, never dropped: nothing is lost
    assert check(PROVINCE_FORM, {"country": "KH", "province": "KH-2"}).ok
    assert check(PROVINCE_FORM, {"country": "SN", "province": "other"}).ok


def test_the_message_is_in_the_readers_language() -> None:
    result = check(PROVINCE_FORM, {"country": "SN", "province": "KH-2"}, lang="fr")
    assert result.errors[0].message.startswith("Province : ")


def test_select_multiple_every_pick_must_fit() -> None:
    spec = form(COUNTRY, province(type="select_multiple"))
    assert check(spec, {"country": "KH", "province": ["KH-2", "KH-7"]}).ok
    result = check(spec, {"country": "KH", "province": ["KH-2", "SN-DK"]})
    assert [(e.field, e.code) for e in result.errors] == [("province", "choice")]


def test_a_filter_reads_the_repeat_instance_and_the_record() -> None:
    spec = form(
        COUNTRY,
        {
            "kind": "repeat",
            "name": "visits",
            "children": [
                {"name": "visit_country", "type": "select_one", "choices": "countries"},
                province(choice_filter="country = ${visit_country} and ${country} != ''"),
            ],
        },
    )
    values = {
        "country": "KH",
        "visits": [
            {"visit_country": "SN", "province": "SN-DK"},
            {"visit_country": "KH", "province": "SN-DK"},
        ],
    }
    result = check(spec, values)
    assert [(e.path, e.code) for e in result.errors] == [("visits[1].province", "choice")]


def test_a_filter_can_read_a_calculation() -> None:
    spec = form(
        COUNTRY,
        {
            "name": "home",
            "type": "calculate",
            "calculation": "if(${country} = '', 'SN', ${country})",
        },
        province(choice_filter="country = ${home}"),
    )
    assert check(spec, {"province": "SN-DK"}).ok
    assert not check(spec, {"country": "KH", "province": "SN-DK"}).ok


def test_an_irrelevant_select_is_not_judged() -> None:
    spec = form(COUNTRY, province(relevant="${country} != ''"))
    result = check(spec, {"province": "KH-2"})
    assert result.ok and "province" not in result.values


def test_the_narrowed_list_is_computed_again_when_an_answer_changes() -> None:
    spec = form(COUNTRY, province())
    for country, first in [("KH", "KH-2"), ("SN", "SN-DK"), ("KH", "KH-2")]:
        assert shown(spec, "province", {"country": country})[0] == first
    other = form(COUNTRY, province(choice_filter="country != ${country}"))  # same list values
    assert shown(other, "province", {"country": "KH"}) == ["SN-DK", "other"]


# -- choice sets ------------------------------------------------------------------------------


def sets_form(**more: Any) -> FormSpec:
    return form(
        COUNTRY,
        province(),
        choices={
            "countries": PLACES["countries"],
            "provinces": [{"value": "other", "label": {"en": "Other"}}],
        },
        choice_sets={"provinces": SUBDIVISIONS},
        **more,
    )


def test_a_choice_set_fills_the_list_and_stays_a_name_in_the_json() -> None:
    spec = sets_form()
    values = [c.value for c in spec.choices["provinces"]]
    assert len(values) == len(choice_set_rows(SUBDIVISIONS)) + 1 > 5000
    assert values[-1] == "other"  # the form's own choices follow the set's
    dumped = spec.model_dump(mode="json")
    assert dumped["choices"]["provinces"] == [
        {"value": "other", "label": {"en": "Other"}, "htcds": None}
    ]
    assert dumped["choice_sets"] == {"provinces": SUBDIVISIONS}
    assert len(spec.model_dump_json()) < 5_000
    assert FormSpec.model_validate_json(spec.model_dump_json()) == spec
    assert shown(spec, "province", {"country": "KH"})[:2] == ["KH-2", "KH-1"]
    assert shown(spec, "province", {"country": "KH"})[-1] == "other"
    assert check(spec, {"country": "KH", "province": "KH-7"}).ok
    assert not check(spec, {"country": "KH", "province": "FR-IDF"}).ok


def test_subdivisions_carry_their_country_parent_and_translations() -> None:
    rows = {row["value"]: row for row in choice_set_rows(SUBDIVISIONS)}
    assert rows["FR-IDF"]["columns"] == {"country": "FR"}
    assert rows["FR-75C"]["columns"] == {"country": "FR", "parent": "FR-IDF"}
    assert rows["FR-75C"]["label"] == {"en": "Paris (Île-de-France)"}
    assert rows["AD-07"]["label"] == {
        "en": "Andorra la Vella",
        "fr": "Andorre la Vieille",
        "es": "Andorra la Vieja",
    }


def test_an_unknown_set_is_refused_naming_the_list() -> None:
    with pytest.raises(ValueError, match=r"choice list 'provinces': choice set 'nowhere-1' is"):
        form(COUNTRY, choice_sets={"provinces": "nowhere-1"})
    with pytest.raises(ValueError, match=r"choice set '\.\./forms/x': a name uses only"):
        form(COUNTRY, choice_sets={"provinces": "../forms/x"})


def test_a_form_cannot_repeat_a_value_of_its_set() -> None:
    with pytest.raises(ValueError, match=r"'KH-2' is already in set"):
        form(
            COUNTRY,
            choices={
                "countries": PLACES["countries"],
                "provinces": [{"value": "KH-2", "label": {"en": "Battambang"}}],
            },
            choice_sets={"provinces": SUBDIVISIONS},
        )


# -- XLSForm ----------------------------------------------------------------------------------


def test_an_xlsform_cascading_select_imports_and_narrows(tmp_path: Path) -> None:
    """The XLSForm idiom: an extra column on the choices sheet, a bare name in choice_filter
    (pyxform's own tests use the same shape: `choice_filter_test.xlsx`)."""
    path = write_xlsform(
        tmp_path / "cascade.xlsx",
        survey=[
            ["type", "name", "label", "choice_filter"],
            ["select_one countries", "country", "Country", ""],
            ["select_one provinces", "province", "Province", "country=${country}"],
        ],
        choices=[
            ["list_name", "name", "label", "country"],
            ["countries", "KH", "Cambodia", ""],
            ["countries", "SN", "Senegal", ""],
            ["provinces", "KH-2", "Battambang", "KH"],
            ["provinces", "SN-DK", "Dakar", "SN"],
        ],
    )
    spec = import_xlsform(path)
    assert spec.choices["provinces"][0].columns == {"country": "KH"}
    assert spec.choices["countries"][0].columns == {}
    assert shown(spec, "province", {"country": "SN"}) == ["SN-DK"]
    result = check(spec, {"country": "SN", "province": "KH-2"})
    assert [(e.field, e.code) for e in result.errors] == [("province", "choice")]


def test_the_subdivision_set_is_what_pycountry_gives() -> None:
    """The committed set is tools/subdivisions.py's output for the pycountry installed (a
    newer pycountry: run the tool, which writes a new file beside the one forms name)."""
    pytest.importorskip("pycountry")
    from tools import subdivisions

    assert subdivisions.main(["--check"]) == 0
