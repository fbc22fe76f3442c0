"""A slow phone in headless Chromium: the app frozen while the person types and taps, so the
keystrokes and the tap queue up and reach it together (seen in CI under load as a "wrong
passphrase" after the right one was typed; on a phone, each counts towards the wipe)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSPHRASE
from tests.ui._browser import AppProcess, open_phone, tap, type_into

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "device")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def type_and_tap_while_stalled(page: Page, app: AppProcess, field: str, button: str) -> None:
    """Focus `field`, then with the app frozen type the passphrase and tap `button`."""
    target = page.get_by_label(field, exact=True)
    target.click()
    expect(target).to_be_focused()
    with app.stalled():
        page.keyboard.type(PASSPHRASE, delay=15)
        expect(target).to_have_value(PASSPHRASE)
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_timeout(300)  # the tap on its way before the app wakes


def test_a_passphrase_typed_and_tapped_while_the_app_is_busy_is_read_whole(
    browser: Browser, app: AppProcess
) -> None:
    page = open_phone(browser, app.url)
    tap(page, "button", "Continue")
    type_into(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_and_tap_while_stalled(page, app, "Repeat the passphrase", "Protect this device")
    expect(page.get_by_text("Connect to your organisation")).to_be_visible()
    tap(page, "button", "Work offline for now")
    tap(page, "button", "Lock now")
    expect(page.get_by_text("Locked", exact=True)).to_be_visible()
    type_and_tap_while_stalled(page, app, "Passphrase", "Unlock")
    expect(page.get_by_label("Passphrase")).to_have_count(0, timeout=60_000)
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()
