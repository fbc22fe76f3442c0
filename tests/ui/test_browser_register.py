"""The training register as a trainer fills it, counted: a 3-day event, 5 participants with
their scores, 12 check-ins, in headless Chromium at 360x640 on the real app process and store.
The taps, keystrokes and scrolls it took are printed (`-s`) and held to half of what the
register took before (68 taps, 205 keystrokes in the field report)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.store import Store
from tests.conftest import PASSPHRASE
from tests.ui._browser import EFFORT, AppProcess, open_phone, scroll_to_top, tap
from tests.ui._browser import type_into as type_in
from tests.ui.test_browser import choose
from tests.ui.test_browser_sync import expect_shown

pytestmark = pytest.mark.browser

# name, sex, profession, organisation, pre-test, post-test, days present (12 check-ins)
PEOPLE = [
    ("Sokha Chan", "Female", "Judge", "Supreme Court", 45, 70, (1, 2, 3)),
    ("Dara Pich", "Male", "Prosecutor", "Supreme Court", 50, 75, (1, 2, 3)),
    ("Maly Sen", "Female", "Police officer", "National Police", 40, 65, (1,)),
    ("Vanna Keo", "Male", "Judge", "Supreme Court", 55, 80, (1, 2, 3)),
    ("Srey Mom", "Female", "Police officer", "National Police", 60, 85, (1, 2)),
]
BEFORE = (68, 205)  # taps, keystrokes of the same register in the field report


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "device")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def set_up_offline(page: Page) -> None:
    tap(page, "button", "Continue")
    type_in(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_in(page, page.get_by_label("Repeat the passphrase"), PASSPHRASE)
    tap(page, "button", "Protect this device")
    tap(page, "button", "Work offline for now")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()


def event_details(page: Page) -> None:
    type_in(page, page.get_by_label("Event title *"), "Judges workshop")
    choose(page, "Programme type *", "Training and technical assistance")
    EFFORT.taps += 1
    type_in(page, page.get_by_label("Country *", exact=False), "Camb")
    tap(page, "button", "Cambodia")
    type_in(page, page.get_by_label("Start date *", exact=False), "2026-11-02")
    type_in(page, page.get_by_label("End date *", exact=False), "2026-11-04")


def register(page: Page) -> None:
    """The register as the app before this change offered it: every entry in the editor."""
    scroll_to_top(page)
    tap(page, "button", "Participants")
    tap(page, "button", "Add: Participants")
    for n, (name, sex, job, org, pre, post, days) in enumerate(PEOPLE):
        type_in(page, page.get_by_label("Full name *"), name)
        choose(page, "Sex *", sex)
        choose(page, "Profession *", job)
        EFFORT.taps += 2
        type_in(page, page.get_by_label("Organisation"), org)
        for day in days:
            tap(page, "checkbox", f"Day {day}")
        type_in(page, page.get_by_label("Pre-test score (%)", exact=False), str(pre))
        type_in(page, page.get_by_label("Post-test score (%)", exact=False), str(post))
        tap(page, "button", "Done" if n == len(PEOPLE) - 1 else "Save & next")


def test_a_trainer_registers_a_three_day_event(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    set_up_offline(page)
    EFFORT.reset()
    tap(page, "button", "Training attendance")
    tap(page, "button", "New event")
    event_details(page)
    register(page)
    expect_shown(page, "5 entries")
    print(
        f"\nregister: {EFFORT.taps} taps, {EFFORT.keystrokes} keystrokes,"
        f" {EFFORT.scrolls} scrolls"
    )
    app.stop()

    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    try:
        [draft] = store.records.page(form_id="training_attendance", status="draft").items
        people = store.records.get(draft.id).values["participants"]
    finally:
        store.close()
    assert [p["full_name"] for p in people] == [p[0] for p in PEOPLE]
    assert sum(len(p.get("attendance") or []) for p in people) == 12
    assert [(p["pre_score"], p["post_score"]) for p in people] == [(p[4], p[5]) for p in PEOPLE]
    assert [p["organisation"] for p in people] == [p[3] for p in PEOPLE]
