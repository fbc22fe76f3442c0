"""A record's title in a list: the form's `instance_name`, else its case code, else its title."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.titles import record_title
from fieldapp.office.xlsform import import_xlsform
from tests.test_xlsform import write_xlsform


def form(instance_name: str | None = None) -> FormSpec:
    return FormSpec.model_validate(
        {
            "id": "visit",
            "version": "1",
            "title": {"en": "Visit"},
            "children": [
                {"name": "case_code", "type": "text"},
                {"name": "village", "type": "text"},
            ],
            **({"instance_name": instance_name} if instance_name else {}),
        }
    )


def test_the_case_code_titles_a_record() -> None:
    screening = load_builtin_forms()["victim_screening"]
    assert record_title(screening, {"case_code": "KH-2026-0042", "consent_record": "no"}) == (
        "KH-2026-0042"
    )
    assert record_title(screening, {"consent_record": "yes"}) is None


def test_instance_name_titles_a_record_before_the_case_code() -> None:
    named = form("concat(${village}, ' / ', ${case_code})")
    assert record_title(named, {"case_code": "A-1", "village": "Poipet"}) == "Poipet / A-1"
    assert record_title(form(), {"case_code": "A-1", "village": "Poipet"}) == "A-1"
    assert record_title(named, {"village": "  Poipet  "}) == "Poipet /"  # spaces tidied
    assert record_title(named, {}) is None  # only the separators: no title


def test_a_training_events_title_titles_it_when_there_is_no_case_code() -> None:
    training = load_builtin_forms()["training_attendance"]
    assert record_title(training, {"title": " Judges' workshop "}) == "Judges' workshop"
    assert record_title(training, {"title": ""}) is None
    assert record_title(form(), {"case_code": " KH-1 ", "title": "x"}) == "KH-1"


def test_an_instance_name_that_does_not_parse_names_the_setting() -> None:
    with pytest.raises(ValidationError, match="instance_name"):
        form("concat(${village}")


def test_forms_without_instance_name_dump_as_before() -> None:
    assert "instance_name" not in form().model_dump()


def test_an_xlsform_instance_name_is_kept(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "visit.xlsx",
        survey=[["type", "name", "label"], ["text", "case_code", "Case"], ["text", "village", "V"]],
        settings_rows=[
            ["form_id", "instance_name"],
            ["visit", "concat(${case_code}, '-', ${village})"],
        ],
    )
    spec = import_xlsform(path)
    assert record_title(spec, {"case_code": "A1", "village": "B"}) == "A1-B"
