"""The case screen's state, driven without a browser over a real store: opened from a
screening, services added (the timeline newest first, a shelter stay with its length), a
wrong answer named by its field, closed with a reason; locking drops what it showed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from fieldapp.store import CaseReferral
from fieldapp.ui.formats import format_day
from fieldapp.ui.state import AppState, CaseSession
from fieldapp.ui.widgets.case import show_case
from tests.conftest import PASSPHRASE, Clock, screening_values
from tests.ui._records import unlocked_app


def _screening(state: AppState) -> str:
    store = state.services.device.store
    return store.records.create_final("victim_screening", screening_values()).id


def _day(offset: int) -> str:
    """A day after today's screening (a service is never before identification)."""
    return (date.today() + timedelta(days=offset)).isoformat()


def _add(case: CaseSession, **answers: str) -> bool:
    case.start("add")
    for name, value in answers.items():
        case.put(name, value)
    return case.save_service()


def test_a_case_from_a_screening_with_its_timeline(tmp_path: Path) -> None:
    state = unlocked_app(tmp_path / "device", Clock())
    screening = _screening(state)
    show_case(state, screening)
    case = state.case
    assert state.screen == "case" and case is not None and case.case_id is None

    assert not case.open_case()  # nobody named
    assert case.errors == {"assigned_worker": "Assigned social worker: an answer is required."}
    case.put("assigned_worker", "Dara")
    assert case.open_case() and case.status == "open" and case.rows == []

    assert _add(case, service_type="shelter", start_date=_day(1), end_date=_day(42),
                provider="Safe House")  # fmt: skip
    assert _add(case, service_type="psychosocial", start_date=_day(8))
    assert _add(case, service_type="psychosocial", start_date=_day(22))
    assert case.status == "active" and case.notice == "Service added to the timeline."
    assert [(r.service, r.stay) for r in case.rows] == [
        ("Psychosocial support", ""),
        ("Psychosocial support", ""),
        ("Shelter", "42 days"),
    ]
    assert case.rows[2].dates == f"{format_day(_day(1), 'en')} – {format_day(_day(42), 'en')}"

    assert not _add(case, service_type="shelter", start_date=_day(9), end_date=_day(2))
    assert case.errors == {"end_date": "End date: must be on or after the start date."}
    assert not _add(case, service_type="legal", start_date="10/05/2026")
    assert case.errors == {"start_date": "Start date: enter a date as YYYY-MM-DD."}
    assert not _add(case, service_type="legal", start_date=_day(-1))
    assert case.errors == {
        "start_date": "Start date: must be on or after the date of identification."
    }
    assert len(case.rows) == 3  # nothing saved by a refused service

    case.start("close")
    assert not case.close_case()
    assert set(case.errors) == {"closure_reason"}
    case.put("closure_reason", "services_completed")
    assert case.close_case() and case.closed and case.closure == "Services completed"

    again = CaseSession(services=state.services, screening_id=screening, lang="fr")
    assert again.case_id == case.case_id and again.rows[2].stay == "42 jours"

    state.lock()
    assert state.case is None and state.screen == "unlock"
    state.unlock(PASSPHRASE)


def test_the_case_shows_the_survivors_referrals_as_last_reported(tmp_path: Path) -> None:
    state = unlocked_app(tmp_path / "device", Clock())
    screening = _screening(state)
    store = state.services.device.store
    store.cases.open(screening_id=screening, assigned_worker="Dara")
    other = _screening(state)
    sent = {"to_org": "org-b", "to_org_name": "Legal Aid", "sent_at": "2026-03-04T10:00:00+00:00",
            "updated_at": "2026-03-05T10:00:00+00:00"}  # fmt: skip
    store.cases.remember_referrals(
        [
            CaseReferral("r1", screening, service="legal", status="delivered", **sent),
            CaseReferral("r2", other, service="shelter", status="sent", **sent),
        ]
    )
    show_case(state, screening)
    case = state.case
    assert case is not None
    assert [(r.referral_id, r.status) for r in case.referrals] == [("r1", "delivered")]
