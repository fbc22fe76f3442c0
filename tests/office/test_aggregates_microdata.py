"""The anonymised micro-data export: k-anonymous by global recoding then local suppression,
deterministic, with an l-diversity warning on the sensitive attribute."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from fieldapp.office.aggregates import AggregateError, QuasiIdentifier, anonymise
from fieldapp.office.aggregates.microdata import (
    BLANK,
    age_group,
    continent,
    victim_quasi_identifiers,
)
from tests.office.test_aggregates_protection import victims_with_one_rare_child

QIS = [q for q in victim_quasi_identifiers() if q.field in ("age_band", "sex", "nationality")]


def _groups(rows: list[dict[str, Any]], names: list[str]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(str(row[n]) for n in names) for row in rows)


def _victims() -> list[dict[str, Any]]:
    rows = victims_with_one_rare_child()
    for i, row in enumerate(rows):
        row["exploitation_types"] = (
            ["forced_labour"]
            if row["nationality"] == "NG"
            else (["sexual_exploitation"] if i % 5 < 2 else ["domestic_servitude", "forced_labour"])
        )
    return rows


def test_every_combination_of_quasi_identifiers_is_shared_by_k_rows() -> None:
    export = anonymise(_victims(), QIS, k=11, sensitive="exploitation_types")
    names = ["age_band", "sex", "nationality"]
    assert min(_groups(export.rows, names).values()) >= 11
    assert len(export.rows) + export.dropped == 334
    assert not any(row["nationality"] == "ER" for row in export.rows)
    assert not any(row["age_band"] == "12_14" for row in export.rows)
    assert all(
        "_id" not in row and set(row) == {*names, "exploitation_types"} for row in export.rows
    )


def test_the_export_does_not_depend_on_the_order_of_records() -> None:
    rows = _victims()
    first = anonymise(rows, QIS, k=11, sensitive="exploitation_types")
    random.Random(3).shuffle(rows)
    assert anonymise(rows, QIS, k=11, sensitive="exploitation_types") == first


def test_a_group_sharing_one_exploitation_type_is_named_in_a_warning() -> None:
    export = anonymise(_victims(), QIS, k=11, sensitive="exploitation_types")
    assert export.warnings
    assert all("nationality=NG" in w for w in export.warnings)
    assert "share 1 value(s) (fewer than l = 2)" in export.warnings[0]


def test_many_rare_nationalities_are_recoded_to_their_continent_first() -> None:
    europe = ["FR", "DE", "IT", "ES", "PL", "RO", "BG", "HU", "CZ", "SK"]
    rows = [
        {"age_band": "25_34", "sex": "female", "nationality": code}
        for code in europe
        for _ in range(3)
    ]
    export = anonymise(rows, QIS, k=11)
    assert export.levels == {"age_band": 0, "sex": 0, "nationality": 1}
    assert {row["nationality"] for row in export.rows} == {"europe"}
    assert export.blanked == 0 and export.dropped == 0


def test_a_few_unusual_rows_have_values_blanked_not_the_whole_column_recoded() -> None:
    rows = [{"age_band": "25_34", "sex": "female", "nationality": "NG"} for _ in range(200)]
    rows += [{"age_band": "25_34", "sex": "male", "nationality": "NG"} for _ in range(11)]
    rows.append({"age_band": "60_plus", "sex": "female", "nationality": "NG"})
    export = anonymise(rows, QIS, k=11)
    assert export.levels == {"age_band": 0, "sex": 0, "nationality": 0}
    assert min(_groups(export.rows, ["age_band", "sex", "nationality"]).values()) >= 11
    assert not any(row["age_band"] == "60_plus" for row in export.rows)
    assert export.blanked >= 1


def test_with_too_few_records_nothing_is_exported() -> None:
    rows = [{"age_band": "25_34", "sex": "female", "nationality": "NG"} for _ in range(5)]
    export = anonymise(rows, QIS, k=11)
    assert export.rows == [] and export.dropped == 5


def test_the_issues_quasi_identifiers_with_their_hierarchies() -> None:
    rows = _victims()
    for i, row in enumerate(rows):
        row["region"] = ("north", "south")[i % 2]
    export = anonymise(rows, victim_quasi_identifiers(), k=11)
    names = [q.field for q in victim_quasi_identifiers()]
    assert min(_groups(export.rows, names).values()) >= 11
    assert age_group("12_14") == "minor" and age_group("unknown_adult") == "adult"
    assert continent("ER") == "africa" and continent("stateless") == "other"
    assert BLANK == "*"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sensitive": "sex"}, "sensitive: 'sex' is also a quasi-identifier"),
        ({"k": 1}, "k: must be a whole number of at least 2"),
        ({"quasi_identifiers": []}, "quasi_identifiers: name each field once"),
        ({"quasi_identifiers": [QuasiIdentifier("sex"), QuasiIdentifier("sex")]}, "once"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"quasi_identifiers": QIS, "k": 11, **arguments}
    with pytest.raises(AggregateError, match=message):
        anonymise([{"sex": "female"}], **options)
