"""The store's cases: a case opened from a screening or a hotline call, services linked to it
by an id that is never in clear, the case counting what its survivor received, named errors."""

from __future__ import annotations

from datetime import date

import pytest

from fieldapp.store import Store, StoreError, ValidationFailed
from tests.conftest import CANARY, screening_values

CALL = date(2026, 6, 1)


def test_a_hotline_case_and_its_services_keep_only_coarse_answers_in_clear(store: Store) -> None:
    case = store.cases.open(assigned_worker=f"{CANARY} Worker", identified_on=CALL)
    entry = store.cases.add_service(
        case.id,
        service_type="shelter",
        start_date=date(2026, 6, 20),
        end_date=date(2026, 6, 24),
        provider=f"{CANARY} House",
    )
    [listed] = store.records.page(form_id="service_entry").items
    assert listed.stats == {
        "service_type": "shelter",
        "service_month": "2026-06-01",
        "stay_band": "1_7_days",
        "outcome": "completed",
    }
    [listed_case] = store.records.page(form_id="case").items
    assert listed_case.stats == {
        "source": "hotline",
        "identified_month": "2026-06-01",
        "status": "active",
        "services_received": ["shelter"],
        "first_service_band": "8_30_days",
    }
    timeline = store.cases.timeline(case.id)
    assert timeline.case.values["source"] == "hotline"
    assert timeline.case.values["first_service_band"] == "8_30_days"
    assert timeline.case.values["services_received"] == ["shelter"]
    assert [s.id for s in timeline.services] == [entry.id]


def test_services_list_newest_first_and_first_service_is_the_earliest(store: Store) -> None:
    case = store.cases.open(assigned_worker="Dara", identified_on=CALL)
    for day in (20, 3, 11):
        store.cases.add_service(case.id, service_type="medical", start_date=date(2026, 7, day))
    timeline = store.cases.timeline(case.id)
    assert [s.values["start_date"] for s in timeline.services] == [
        "2026-07-20",
        "2026-07-11",
        "2026-07-03",
    ]
    assert timeline.case.values["first_service_on"] == "2026-07-03"
    assert timeline.case.values["first_service_band"] == "31_90_days"


def test_named_errors(store: Store) -> None:
    case = store.cases.open(assigned_worker="Dara", identified_on=CALL)
    with pytest.raises(ValidationFailed) as failed:
        store.cases.add_service(
            case.id, service_type="shelter", start_date=date(2026, 7, 5), end_date=date(2026, 7, 1)
        )
    assert [(e.field, e.message) for e in failed.value.errors] == [
        ("end_date", "End date: must be on or after the start date.")
    ]
    with pytest.raises(ValidationFailed) as failed:
        store.cases.add_service(case.id, service_type="shelter", start_date=date(2026, 7, 5))
    assert [e.field for e in failed.value.errors] == ["end_date"]  # a finished stay has an end
    with pytest.raises(ValidationFailed) as failed:
        store.cases.add_service(case.id, service_type="legal", start_date=date(2026, 5, 5))
    assert [e.field for e in failed.value.errors] == ["start_date"]
    with pytest.raises(ValidationFailed) as failed:
        store.cases.add_service(case.id, service_type="tea", start_date=date(2026, 7, 5))
    assert [e.field for e in failed.value.errors] == ["service_type"]
    assert store.cases.timeline(case.id).services == []  # nothing half-saved
    with pytest.raises(ValidationFailed) as failed:
        store.cases.close(case.id, "")
    assert [e.field for e in failed.value.errors] == ["closure_reason"]
    assert store.records.get(case.id).status == "final"  # as it was, not left a draft
    with pytest.raises(ValidationFailed) as failed:
        store.cases.open(assigned_worker="", identified_on=CALL)
    assert [e.field for e in failed.value.errors] == ["assigned_worker"]

    store.cases.close(case.id, "lost_contact")
    with pytest.raises(StoreError, match="closed"):
        store.cases.add_service(case.id, service_type="legal", start_date=date(2026, 7, 5))
    with pytest.raises(StoreError, match="not a screening"):
        store.cases.open(assigned_worker="Dara", screening_id=case.id)
    with pytest.raises(StoreError, match="not a case"):
        store.cases.timeline(store.records.create_final("victim_screening", screening_values()).id)


def test_cases_of_a_screening(store: Store) -> None:
    screening = store.records.create_final("victim_screening", screening_values())
    assert store.cases.cases_of(screening.id) == []
    case = store.cases.open(assigned_worker="Dara", screening_id=screening.id)
    assert [c.id for c in store.cases.cases_of(screening.id)] == [case.id]
    assert case.values["identified_on"] == screening.created_at[:10]


def test_consent_withdrawn_from_a_screening_reaches_its_case_and_services(store: Store) -> None:
    screening = store.records.create_final("victim_screening", screening_values())
    case = store.cases.open(assigned_worker=f"{CANARY} Worker", screening_id=screening.id)
    day = date.fromisoformat(case.values["identified_on"])
    entry = store.cases.add_service(
        case.id, service_type="legal", start_date=day, provider=f"{CANARY} Law"
    )
    other = store.cases.open(assigned_worker="Dara", identified_on=CALL)  # another person

    store.cases.withdraw_consent(screening.id)

    for record_id in (screening.id, case.id, entry.id):
        erased = store.records.get(record_id)
        assert erased.consent_withdrawn and CANARY not in str(erased.values), record_id
    assert store.records.get(case.id).values["services_received"] == ["legal"]  # still counted
    assert not store.records.get(other.id).consent_withdrawn
    assert store.cases.cases_of(screening.id) == []
