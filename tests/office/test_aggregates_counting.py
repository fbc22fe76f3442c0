"""Counting records and repeat instances by statistical fields, as the report publishes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import AggregateError, DisclosurePolicy, build_report, report_json

FORMS = load_builtin_forms()
VICTIMS, TRAINING = FORMS["victim_screening"], FORMS["training_attendance"]
OPEN = DisclosurePolicy(published_forms=frozenset({"victim_screening", "training_attendance"}))


def _count(table: dict[str, Any], **values: Any) -> int | None:
    entries = [*table["cells"], *table["margins"]]
    if not values:
        return table["total"]
    counts = {e["count"] for e in entries if e["values"] == values}  # a 1-D table's margins
    assert len(counts) == 1, values  # are its cells again
    return counts.pop()


def test_the_json_has_exactly_the_issues_shape() -> None:
    rows = [{"sex": "female", "age_band": "18_24"}, {"sex": "male", "age_band": "18_24"}]
    table = report_json(VICTIMS, rows, ["sex", "age_band"], policy=OPEN)
    assert list(table) == ["by", "cells", "margins", "total"]
    assert table["by"] == ["sex", "age_band"]
    sexes, bands = len(VICTIMS.choices["sexes"]), len(VICTIMS.choices["age_bands"])
    assert len(table["cells"]) == sexes * bands
    assert len(table["margins"]) == sexes + bands
    assert table["cells"][0] == {
        "values": {"sex": "female", "age_band": "0_11"},
        "count": 0,
        "suppressed": False,
    }
    assert _count(table, sex="female", age_band="18_24") == 1
    assert _count(table, age_band="18_24") == 2
    assert table["total"] == 2
    json.dumps(table)  # plain JSON


def test_a_record_with_several_exploitation_types_counts_once_in_each() -> None:
    rows = [
        {"sex": "female", "exploitation_types": ["forced_labour", "sexual_exploitation"]},
        {"sex": "male", "exploitation_types": ["forced_labour"]},
        {"sex": "female", "exploitation_types": []},
    ]
    one = report_json(VICTIMS, rows, ["exploitation_types"], policy=OPEN)
    assert _count(one, exploitation_types="forced_labour") == 2
    assert _count(one, exploitation_types="sexual_exploitation") == 1
    assert _count(one, exploitation_types="organ_removal") == 0
    assert _count(one, exploitation_types=None) == 1  # not answered
    assert one["total"] == 3  # records, not the 4 answers
    two = report_json(VICTIMS, rows, ["exploitation_types", "sex"], policy=OPEN)
    assert _count(two, exploitation_types="forced_labour", sex="female") == 1
    assert _count(two, sex="female") == 2  # the margin counts records
    assert _count(two, exploitation_types="forced_labour") == 2
    assert two["total"] == 3


def test_counting_by_a_repeats_fields_counts_its_instances() -> None:
    rows: list[dict[str, Any]] = [
        {
            "programme_type": "research",
            "participants": [
                {"_id": "a", "sex": "female", "profession": "judge"},
                {"_id": "b", "sex": "male", "profession": "judge"},
            ],
        },
        {
            "programme_type": "bilateral_regional",
            "participants": [{"_id": "c", "sex": "female", "profession": "police"}],
        },
        {"programme_type": "research"},
    ]
    table = report_json(TRAINING, rows, ["programme_type", "profession", "sex"], policy=OPEN)
    assert table["total"] == 3
    assert _count(table, programme_type="research", profession="judge", sex="female") == 1
    assert _count(table, profession="judge") == 2
    assert _count(table, programme_type="research") == 2
    events = report_json(TRAINING, rows, ["programme_type"], policy=OPEN)
    assert events["total"] == 3 and _count(events, programme_type="research") == 2


def test_empty_categories_booleans_months_and_old_values_appear() -> None:
    rows = [
        {"start_date": "2025-01-15", "participants": [{"_id": "a", "consent_contact": True}]},
        {"start_date": "2025-04-02", "participants": [{"_id": "b", "consent_contact": False}]},
        {"start_date": "2025-04-30", "participants": [{"_id": "c"}]},
    ]
    months = report_json(TRAINING, rows, ["start_date"], policy=OPEN)
    assert [m["values"]["start_date"] for m in months["margins"]] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
    ]
    assert [m["count"] for m in months["margins"]] == [1, 0, 0, 2]
    consent = report_json(TRAINING, rows, ["consent_contact"], policy=OPEN)
    assert [(m["values"]["consent_contact"], m["count"]) for m in consent["margins"]] == [
        (True, 1),
        (False, 1),
        (None, 1),
    ]
    sexes = report_json(VICTIMS, [{"sex": "retired_value"}], ["sex"], policy=OPEN)
    values = [m["values"]["sex"] for m in sexes["margins"]]
    assert values == [c.value for c in VICTIMS.choices["sexes"]] + ["retired_value"]


def test_the_text_table_uses_the_forms_labels_in_the_chosen_language() -> None:
    rows = [{"sex": "female", "age_band": "18_24"}] * 12
    report = build_report(VICTIMS, rows, [["age_band", "sex"]], policy=DisclosurePolicy())
    text = report.text("fr")
    female_fr = next(c.label["fr"] for c in VICTIMS.choices["sexes"] if c.value == "female")
    assert female_fr in text.splitlines()[0]
    assert "Total" in text and "x : masqué" in text
    assert "review: all 12 counted in" in text  # a whole group in one cell is flagged


@pytest.mark.parametrize(
    ("by", "rows", "message"),
    [
        (["nope"], [], "by: form 'victim_screening' has no field 'nope'"),
        (["given_name"], [], "by: 'given_name' is not a statistical field"),
        (["participants"], [], "by: 'participants' is a repeat"),
        (["sex", "sex"], [], "names a field twice"),
        (["sex", "age_band", "nationality", "identified_by"], [], "count by 1 to 3 fields, not 4"),
        ([], [], "count by 1 to 3 fields, not 0"),
        (
            ["exploitation_types"],
            [{"exploitation_types": 5}],
            "exploitation_types: 5 is not a list",
        ),
        (["sex"], [{"sex": ["female"]}], r"sex: \['female'\] is not a select_one value"),
    ],
)
def test_bad_requests_name_the_field(by: list[str], rows: list[Any], message: str) -> None:
    spec = TRAINING if "participants" in by else VICTIMS
    with pytest.raises(AggregateError, match=message):
        report_json(spec, rows, by, policy=OPEN)


def test_a_bad_date_and_pooling_an_uncounted_field_are_refused() -> None:
    with pytest.raises(AggregateError, match="start_date: '2025-13-01' is not a date value"):
        report_json(TRAINING, [{"start_date": "2025-13-01"}], ["start_date"], policy=OPEN)
    with pytest.raises(AggregateError, match="pool: sex is not a field the report counts by"):
        build_report(VICTIMS, [], [["age_band"]], policy=OPEN, pool=("sex",))
