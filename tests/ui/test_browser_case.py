"""Headless Chromium at 360x640: from a sent victim screening, "Open case", name the social
worker, add a shelter stay and two psychosocial sessions; the timeline shows them newest
first, the stay with its length; they are on the device as service records linked to the
case, encrypted. The survivor's referral (as a sync left its status) shows on the case, and
"Refer to another organisation" opens the referral flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.store import CaseReferral, Store
from tests.conftest import PASSPHRASE, screening_values
from tests.ui._browser import AppProcess, open_phone, reveal, serve, shoot, tap, type_into
from tests.ui._records import sent_record
from tests.ui.test_browser import choose, unlock

pytestmark = pytest.mark.browser


def _day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app over a store that holds one victim screening the server took."""
    data_dir = tmp_path_factory.mktemp("case") / "device"
    store = Store.create(data_dir / "fieldapp.db", PASSPHRASE)
    screening = sent_record(store, "victim_screening", screening_values())
    store.cases.remember_referrals(
        [CaseReferral("r1", screening.id, "org-b", "Legal Aid Cambodia", "legal", "delivered",
                      "2026-03-04T10:00:00+00:00", "2026-03-05T10:00:00+00:00")]
    )  # fmt: skip
    store.close()
    yield from serve(data_dir)


def _add_service(page: Page, service: str, start: str, end: str | None = None) -> None:
    tap(page, "button", "Add service")
    choose(page, "Service type", service)
    type_into(page, page.get_by_label("Provider"), "Safe House Foundation")
    type_into(page, page.get_by_label("Start date"), start)
    if end is not None:
        type_into(page, page.get_by_label("End date"), end)
    tap(page, "button", "Save service")
    expect(page.get_by_text("Service added to the timeline.")).to_be_visible()


def test_a_case_timeline_on_a_phone(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    unlock(page)
    tap(page, "button", "Records")
    tap(page, "button", "Sent (1)")
    reveal(page, page.get_by_text("Victim identification and screening")).click()
    expect(page.get_by_text("Review", exact=True)).to_be_visible()
    tap(page, "button", "Open case")

    expect(page.get_by_text("No case is open for this person yet.")).to_be_visible()
    tap(page, "button", "Open case")  # nobody named yet: said by the field
    expect(page.get_by_text("Assigned social worker: an answer is required.")).to_be_visible()
    type_into(page, page.get_by_label("Assigned social worker"), "Dara Chan")
    tap(page, "button", "Open case")
    expect(page.get_by_text("Case opened.")).to_be_visible()
    expect(page.get_by_text("Status: Open")).to_be_visible()

    _add_service(page, "Shelter", _day(1), _day(42))
    _add_service(page, "Psychosocial support", _day(8))
    _add_service(page, "Psychosocial support", _day(22))

    expect(page.get_by_text("Status: Active")).to_be_visible()
    expect(page.get_by_text("Assigned social worker: Dara Chan")).to_be_visible()
    expect(page.get_by_text("Psychosocial support")).to_have_count(2)
    stay = reveal(page, page.get_by_text("Stay: 42 days"))
    expect(stay).to_be_visible()
    shoot(page, "case-timeline")
    sessions = page.get_by_text("Psychosocial support")
    first, shelter = sessions.first.bounding_box(), stay.bounding_box()
    assert first is not None and shelter is not None and first["y"] < shelter["y"]  # newest first
    expect(reveal(page, page.get_by_text("Legal Aid Cambodia · legal"))).to_be_visible()
    expect(page.get_by_text("Service delivered", exact=False)).to_be_visible()
    tap(page, "button", "Refer to another organisation")
    expect(page.get_by_text("Refer this person")).to_be_visible()
    app.stop()

    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    [case] = store.records.page(form_id="case").items
    timeline = store.cases.timeline(case.id)
    assert [s.values["service_type"] for s in timeline.services] == [
        "psychosocial",
        "psychosocial",
        "shelter",
    ]
    assert timeline.case.values["assigned_worker"] == "Dara Chan"
    store.close()
