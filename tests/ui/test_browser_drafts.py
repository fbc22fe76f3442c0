"""Headless Chromium at 360x640 (issue 15): a form opened and left leaves no draft; a draft
is listed by its case code and reopens on the step it was left on; the jump list goes to a
step; "Edit" on the review comes back with one tap; a date of birth is picked on a calendar
and the age follows from it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.forms.ages import age_on
from fieldapp.store import Store
from tests._wait import wait_until
from tests.conftest import PASSPHRASE
from tests.ui._browser import AppProcess, open_phone, reveal, shoot, tap, type_into
from tests.ui.test_browser import choose, expect_text_field, first_run_offline

pytestmark = pytest.mark.browser


def drafts_on_disk(app: AppProcess) -> list[dict[str, Any]]:
    """The drafts' answers as the store on disk holds them (read by a second opener)."""
    store = Store(app.data_dir / "fieldapp.db")
    try:
        store.keyring.unlock(PASSPHRASE)
        items = store.records.page(status="draft").items
        return [store.records.get(item.id).values for item in items]
    finally:
        store.close()


def consent_to_everything(page: Page) -> None:
    for question in (
        "record personal information",
        "be referred to services",
        "share anonymised data",
    ):
        choose(page, f"Consent to {question} *", "Yes")


def test_drafts_worth_keeping_and_a_form_quick_to_fill(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    first_run_offline(page)

    # opened and left: nothing stays behind
    consent_asked = page.get_by_role("group", name="Consent to record personal information *")
    tap(page, "button", "Identify a victim")
    expect(consent_asked).to_be_visible()
    tap(page, "button", "Back")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()
    assert drafts_on_disk(app) == []

    # a case code typed, a date of birth picked on the calendar
    tap(page, "button", "Identify a victim")
    consent_to_everything(page)
    tap(page, "button", "Next")
    expect(page.get_by_label("Case code *")).to_be_visible()
    page.wait_for_timeout(400)
    type_into(page, page.get_by_label("Case code *"), "KH-2026-0042")
    tap(page, "button", "Pick a date")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="2000", exact=True).click()  # it opens on the years
    dialog.get_by_role("button", name="15", exact=False).first.click()
    shoot(page, "26-date-picker")
    dialog.get_by_role("button", name="OK").click()
    today = date.today()
    born = date(2000, today.month, 15)
    expect_text_field(page, "Date of birth", born.isoformat())

    def saved() -> bool:
        drafts = drafts_on_disk(app)
        return bool(drafts) and drafts[0].get("date_of_birth") == born.isoformat()

    wait_until(saved, 10.0, "the date picked, in the draft on disk", step=0.2)
    [draft] = drafts_on_disk(app)
    assert draft["case_code"] == "KH-2026-0042"
    assert draft["age_years"] == age_on(born, today)  # worked out, not asked
    tap(page, "button", "Next")  # the profile step: the age is shown, not asked
    expect(page.get_by_role("group", name="Sex / gender *")).to_be_visible()
    expect(page.get_by_text("Worked out from the answers above.").first).to_be_visible()
    expect(page.get_by_label("Age in years")).to_have_count(0)

    # left on the profile step; listed by its case code; reopened there
    tap(page, "button", "Back")
    tap(page, "button", "Records")
    expect(page.get_by_role("button", name="Drafts (1)")).to_be_visible()
    row = page.get_by_text("KH-2026-0042", exact=False)
    expect(row).to_be_visible()
    shoot(page, "27-drafts")
    row.click()
    expect(page.get_by_role("group", name="Sex / gender *")).to_be_visible()

    # the jump list: every step and question; a tap goes there
    tap(page, "button", "Questions")
    expect(page.get_by_text("Tap a step to go to it.")).to_be_visible()
    shoot(page, "25-form-jump-list")
    reveal(page, page.get_by_role("button", name=re.compile(r"^Identity\b"))).click()
    expect(page.get_by_label("Case code *")).to_be_visible()

    # go to the end, "Edit" a step, and one tap back to the review
    tap(page, "button", "Questions")
    tap(page, "button", "Go to end")
    expect(page.get_by_text("Review", exact=True)).to_be_visible()
    reveal(page, page.get_by_role("button", name="Edit").nth(1)).click()  # Identity
    expect(page.get_by_label("Case code *")).to_be_visible()
    shoot(page, "28-form-back-to-review")
    tap(page, "button", "Back to review")
    expect(page.get_by_text("Review", exact=True)).to_be_visible()
    assert len(drafts_on_disk(app)) == 1
