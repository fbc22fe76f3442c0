"""Real forms' logic that pyxform accepts, imported as ODK Collect runs it (issue #13): bare
names used as values, `fuel:diesel` lookups, nested-repetition regexes, duplicate choice
names under `allow_choice_duplicates`, and `begin loop over LIST`."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldapp.forms.choices import visible_choices
from fieldapp.forms.spec import FieldSpec, GroupSpec
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import import_xlsform
from tests.office._fidelity import differences
from tests.test_xlsform import (
    corpus_file,
    import_or_problems,
    refused,
    rows_with,
    write_xlsform,
)

REAL = Path(__file__).resolve().parent / "fixtures" / "xlsforms_real"


def field(spec_node: object) -> FieldSpec:
    assert isinstance(spec_node, FieldSpec)
    return spec_node


# -- bare names: XPath paths that select nothing ------------------------------------------------


def test_a_bare_name_imports_empty_as_in_collect_with_a_warning_saying_what_was_meant(
    tmp_path: Path,
) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "calculation", "required"],
            ["text", "basic", "Basic"],
            ["calculate", "waste", None, "yes"],  # 3: meant 'yes'
            ["text", "quality", "Quality", None, "basic"],  # 4: meant ${basic}?
        ],
    )
    spec = import_xlsform(path)
    assert field(spec.node("waste")).calculation == "yes"
    assert field(spec.node("quality")).required == "basic"
    [waste, quality] = [w for w in spec.import_warnings if "which does not exist" in w]
    assert waste.startswith("survey row 3: 'yes' reads a field named yes, which does not exist")
    assert "ODK computes an empty value" in waste and "write 'yes' in quotes" in waste
    assert "(column 'calculation')" in waste
    assert quality.startswith("survey row 4: 'basic' reads a field named basic")
    assert "or ${basic} for the question" in quality and "(column 'required')" in quality
    # as Collect: the calculation is empty, and `basic` never makes the question required
    checked = check(spec, {"basic": "x"})
    assert not checked.errors and checked.values.get("waste") in (None, "")


@pytest.mark.parametrize(
    ("name", "row"), [("osm__wastedisposal.xls", 19), ("osm__waterpoints.xls", 17)]
)
def test_the_osm_forms_bare_names_are_no_longer_refused(name: str, row: int) -> None:
    """`yes` as a calculation, `basic` as `required` (the forms still lack their GeoJSON)."""
    _spec, problems = import_or_problems(REAL / name)
    assert not [p for p in problems if p.row == row]
    assert "expression" not in {p.feature for p in problems}


# -- nested repetition: the linear matcher -----------------------------------------------------


def test_a_nested_repetition_constraint_imports_and_checks_in_linear_time(tmp_path: Path) -> None:
    phone = r"^(([0-9]{1})*[- .(]*([0-9]{3})[- .)]*[0-9]{3}[- .]*[0-9]{4})+$"
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "constraint"],
            ["text", "phone", "Phone", f"regex(., '{phone}')"],
        ],
    )
    spec = import_xlsform(path)
    assert not check(spec, {"phone": "0772 123 4567"}).errors
    assert [e.path for e in check(spec, {"phone": "1" * 3000 + "!"}).errors] == ["phone"]


def test_ucl_biomass_is_refused_now_only_for_its_missing_csv_files() -> None:
    _spec, problems = import_or_problems(corpus_file("UCL_Biomass_Plot_Form.xlsx"))
    assert {p.feature for p in problems} == {"attachment:missing"}


# -- duplicate choice names ---------------------------------------------------------------------

CASCADE = [
    ["type", "name", "label", "choice_filter"],
    ["select_one states", "state", "State"],
    ["select_one counties", "county", "County", "${state}=cf"],
]
COUNTIES = [
    ["list_name", "name", "label", "cf"],
    ["states", "texas", "Texas"],
    ["states", "washington", "Washington"],
    ["counties", "king", "King (WA)", "washington"],  # 4
    ["counties", "pierce", "Pierce", "washington"],
    ["counties", "king", "King (TX)", "texas"],  # 6
]


def test_a_duplicate_choice_name_is_refused_as_pyxform_refuses_it(tmp_path: Path) -> None:
    path = write_xlsform(tmp_path / "f.xlsx", survey=CASCADE, choices=COUNTIES)
    assert rows_with(refused(path), "duplicate-choice") == [6]


def test_allow_choice_duplicates_keeps_both_in_order_with_their_labels(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=CASCADE,
        choices=COUNTIES,
        settings_rows=[["form_id", "allow_choice_duplicates"], ["cascade", "yes"]],
    )
    spec = import_xlsform(path)
    counties = spec.choices["counties"]
    assert [(c.value, c.label["en"]) for c in counties] == [
        ("king", "King (WA)"),
        ("pierce", "Pierce"),
        ("king", "King (TX)"),
    ]
    [warning] = [w for w in spec.import_warnings if "appears twice" in w]
    assert warning.startswith("choices row 6: choice 'king' appears twice in list 'counties'")
    assert "allow_choice_duplicates" in warning
    county = field(spec.node("county"))
    shown = visible_choices(spec, county, {"state": "texas"})
    assert [(c.value, c.label["en"]) for c in shown] == [("king", "King (TX)")]
    checked = check(spec, {"state": "texas", "county": "king"})
    assert not checked.errors and checked.values["county"] == "king"
    assert differences(path, spec) == []


def test_the_cascading_corpus_form_imports_and_matches_pyxform() -> None:
    path = corpus_file("choice_filter_test.xlsx")
    spec = import_xlsform(path)
    assert [c.value for c in spec.choices["counties"]] == ["king", "pierce", "king", "cameron"]
    assert differences(path, spec) == []


# -- begin loop over LIST -----------------------------------------------------------------------


def test_a_loop_becomes_a_group_per_choice_as_pyxform_expands_it(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label::English (en)", "label::Français (fr)", "relevant"],
            ["select_multiple rooms", "have", "Rooms", "Pièces"],
            ["begin loop over rooms", "each", "Each room", "Chaque pièce"],  # 3
            ["integer", "size", "Size of the %(label)s", "Taille: %(label)s",
             "selected(${have}, '%(name)s')"],
            ["text", "note", "About %(name)s", "Sur %(name)s", "'%(floor)s' = '0'"],
            ["end loop"],
        ],
        choices=[
            ["list_name", "name", "label::English (en)", "label::Français (fr)", "floor"],
            ["rooms", "kitchen", "kitchen", "cuisine", "0"],
            ["rooms", "bed-room", "bedroom", "chambre", "1"],
            ["rooms", "none", "None", "Aucune"],
        ],
    )  # fmt: skip
    spec = import_xlsform(path)
    loop = spec.node("each")
    assert isinstance(loop, GroupSpec) and loop.label == {"en": "Each room", "fr": "Chaque pièce"}
    assert [g.name for g in loop.children] == ["each_kitchen", "each_bed_room"]  # not `none`
    kitchen = loop.children[0]
    assert isinstance(kitchen, GroupSpec) and kitchen.label == {"en": "kitchen", "fr": "cuisine"}
    size = field(spec.node("each_bed_room_size"))
    assert size.label == {"en": "Size of the bedroom", "fr": "Taille: chambre"}
    assert size.relevant == "selected(${have}, 'bed-room')"
    note = field(spec.node("each_kitchen_note"))
    assert note.label == {"en": "About kitchen", "fr": "Sur kitchen"}
    assert note.relevant == "'0' = '0'"  # any column of the choice, in an expression
    [warning] = [w for w in spec.import_warnings if "begin loop" in w]
    assert warning.startswith("survey row 3: 'begin loop over rooms' is expanded")
    assert "'each_kitchen_size'" in warning
    assert differences(path, spec) == []
    checked = check(spec, {"have": ["kitchen"], "each_kitchen_size": 12})
    assert not checked.errors and checked.values["each_kitchen_size"] == 12


def test_a_loop_over_a_list_that_is_not_there_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label"], ["begin loop over nowhere", "l"], ["text", "t", "T"],
                ["end loop"]],
    )  # fmt: skip
    assert rows_with(refused(path), "type:loop") == [2]


def test_the_loop_corpus_form_imports_and_matches_pyxform() -> None:
    path = corpus_file("loop.xlsx")
    spec = import_xlsform(path)
    loop = spec.node("loop_toilet_types")
    assert isinstance(loop, GroupSpec)
    assert [g.name.removeprefix("loop_toilet_types_") for g in loop.children] == [
        "pit_latrine_with_slab",
        "open_pit_latrine",
        "bucket_system",
        "other",  # or_other's, as pyxform
    ]
    assert field(spec.node("loop_toilet_types_bucket_system_number")).label == {
        "en": "How many Bucket system are on the premises?"
    }
    assert differences(path, spec) == []
