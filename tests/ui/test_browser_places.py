"""End to end in headless Chromium at 360x640: a trainer picks the event's country, then its
province from the list narrowed to that country (ISO 3166-2, searchable); a change of country
flags the province picked before instead of clearing it; "Other" opens a typed answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from fieldapp.store import Store
from tests.conftest import PASSPHRASE
from tests.ui._browser import AppProcess, open_phone, reveal, shoot, tap, type_into
from tests.ui.test_browser import first_run_offline

pytestmark = pytest.mark.browser

STALE = "Province or state: the answer is not one of the choices for your other answers"


def search(page: Page, label: str, text: str) -> None:
    type_into(page, page.get_by_label(label, exact=False).first, text)


def stale(page: Page) -> Locator:
    """The province's error, alone or as part of the name Flutter gives its group."""
    return page.get_by_text(STALE, exact=False).or_(
        page.get_by_role("group", name=STALE, exact=False)
    )


def offered(page: Page, name: str) -> bool:
    return page.get_by_role("button", name=name, exact=True).count() > 0


def test_the_province_list_follows_the_country(
    browser: Browser,
    app: AppProcess,
) -> None:
    page = open_phone(browser, app.url)
    first_run_offline(page)
    tap(page, "button", "Training attendance")
    tap(page, "button", "New event")
    type_into(page, page.get_by_label("Event title *"), "Victim identification for judges")
    # no country yet: no province question
    expect(page.get_by_label("Province or state", exact=False)).to_have_count(0)
    search(page, "Country *", "Camb")
    tap(page, "button", "Cambodia")
    # the province search offers Cambodia's provinces only (Uganda has a Kampala)
    search(page, "Province or state", "Kamp")
    expect(page.get_by_role("button", name="Kampot", exact=True)).to_be_visible()
    assert offered(page, "Kampong Chaam")
    assert not offered(page, "Kampala")
    reveal(page, page.get_by_role("button", name="Kampot", exact=True))
    shoot(page, "28-province-cascade")
    tap(page, "button", "Kampot")
    expect(page.get_by_role("group", name="Province or state Kampot")).to_be_visible()

    # another country: the province picked stays, flagged, until one of its own is picked
    reveal(page, page.get_by_role("button", name="Change")).click()  # the country's
    search(page, "Country *", "Seneg")
    tap(page, "button", "Senegal")
    expect(stale(page).first).to_be_visible()
    reveal(page, page.get_by_role("button", name="Change").last).click()  # the province's
    search(page, "Province or state", "Dak")
    assert not offered(page, "Kampot")
    tap(page, "button", "Dakar")
    expect(stale(page)).to_have_count(0)
    # the province's own "Change" exists only once Dakar is drawn as the answer: until then the
    # last "Change" on screen is the country's, and clicking it opens the wrong search
    expect(page.get_by_role("group", name="Province or state Dakar")).to_be_visible()

    # a place the list lacks: "Other", then typed
    reveal(page, page.get_by_role("button", name="Change").last).click()
    search(page, "Province or state", "Other")
    tap(page, "button", "Other (type it)")
    type_into(page, page.get_by_label("Province or state (other)"), "Casamance")
    page.wait_for_timeout(500)  # the autosave of the last keystroke
    app.stop()
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    [draft] = store.records.page(status="draft").items
    record = store.records.get(draft.id)
    assert record.form_version == "3"
    values = record.values
    assert (values["country"], values["province"], values["province_other"]) == (
        "SN",
        "other",
        "Casamance",
    )
    store.close()
