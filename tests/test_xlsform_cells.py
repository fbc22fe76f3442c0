"""Cells read as pyxform reads them, so the values a form stores and the labels it shows are
the ones ODK Collect and Kobo would have: curly quotes in a choice name straightened (with a
warning: the stored value changes) and in a default, runs of spaces collapsed on the survey
sheet only."""

from __future__ import annotations

from pathlib import Path

from fieldapp.forms.spec import FieldSpec
from fieldapp.office.xlsform import import_xlsform
from tests.test_xlsform import write_xlsform


def test_a_choice_name_with_curly_quotes_stores_the_straight_value_pyxform_stores(
    tmp_path: Path,
) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "relevant"],
            ["select_one yn", "known", "Known"],
            ["text", "why", "Why", '${known}="don\'t_know"'],
        ],
        choices=[
            ["list_name", "name", "label"],
            ["yn", "yes", "Yes"],
            ["yn", "don’t_know", "Don’t know"],  # row 3
        ],
    )
    spec = import_xlsform(path)
    assert [c.value for c in spec.choices["yn"]] == ["yes", "don't_know"]
    [warning] = spec.import_warnings
    assert warning.startswith(
        'choices row 3: curly quotes read as straight quotes: choice name "don\'t_know"'
    )
    assert "column 'name'" in warning


def test_runs_of_spaces_are_kept_in_choice_labels_and_collapsed_in_survey_labels(
    tmp_path: Path,
) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label"], ["select_one money", "income", "Monthly  income"]],
        choices=[["list_name", "name", "label"], ["money", "low", "Dollars 4 501 -  5 000"]],
    )
    spec = import_xlsform(path)
    income = spec.node("income")
    assert isinstance(income, FieldSpec)
    assert income.label == {"en": "Monthly income"}  # pyxform collapses the survey sheet
    assert spec.choices["money"][0].label == {"en": "Dollars 4 501 -  5 000"}  # not choices
    assert spec.import_warnings == []


def test_a_select_default_with_curly_quotes_chooses_the_straightened_choice(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label", "default"], ["select_one yn", "known", "Known", "don’t"]],
        choices=[["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "don’t", "Don’t"]],
    )
    spec = import_xlsform(path)
    known = spec.node("known")
    assert isinstance(known, FieldSpec) and known.default == "don't"
    assert [w.split(":")[0] for w in spec.import_warnings] == ["survey row 2", "choices row 3"]
    assert 'curly quotes read as straight quotes: default "don\'t"' in spec.import_warnings[0]
