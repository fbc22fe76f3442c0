"""Headless Chromium at 360x640: "Withdraw consent and erase" on a sent victim record asks in
a dialog what it erases, does nothing on Cancel, erases on confirmation, and the records list
then says the consent was withdrawn (security check 19)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from fieldapp.store import Store
from tests.conftest import PASSPHRASE, screening_values
from tests.ui._browser import AppProcess, open_phone, reveal, serve, tap
from tests.ui._records import sent_record
from tests.ui.test_browser import unlock

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    """The app over a store that holds one victim record the server took."""
    store = Store.create(tmp_path / "device" / "fieldapp.db", PASSPHRASE)
    sent_record(store, "victim_screening", screening_values())
    store.close()
    yield from serve(tmp_path / "device")


def test_withdrawing_consent_from_an_open_record(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    unlock(page)
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()  # home
    tap(page, "button", "Records")
    tap(page, "button", "Sent (1)")
    reveal(page, page.get_by_text("Victim identification and screening")).click()
    expect(page.get_by_text("Review", exact=True)).to_be_visible()

    tap(page, "button", "Withdraw consent and erase")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Withdraw consent and erase?")
    expect(dialog).to_contain_text("from the server, with every earlier version")
    expect(dialog).to_contain_text("This cannot be undone.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    page.wait_for_timeout(500)  # the dialog's closing animation

    tap(page, "button", "Withdraw consent and erase")
    page.get_by_role("alertdialog").get_by_role("button", name="Withdraw and erase").click()
    expect(page.get_by_text("Consent withdrawn: the personal details", exact=False)).to_be_visible()
    tap(page, "button", "Records")
    tap(page, "button", "Waiting to send (1)")
    expect(page.get_by_text("Consent withdrawn, details erased", exact=False)).to_be_visible()
    app.stop()

    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    [summary] = store.records.page().items
    record = store.records.get(summary.id)
    assert record.consent_withdrawn and "given_name" not in record.values
    store.close()
