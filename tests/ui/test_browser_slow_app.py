"""A slow phone in headless Chromium: the app frozen while the person types and taps, so the
keystrokes and the tap queue up and reach it together (seen in CI under load as a "wrong
passphrase" after the right one was typed; on a phone, each counts towards the wipe). What
a tap reads is the text as last typed: the passphrases, the enrolment code."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSPHRASE
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess, expect_typed, open_phone, tap, type_into

pytestmark = pytest.mark.browser


def type_and_tap_while_stalled(
    page: Page, app: AppProcess, field: str, button: str, text: str = PASSPHRASE
) -> None:
    """Tap `field` until it has the keyboard, then with the app frozen type `text` and tap
    `button`."""
    target = page.get_by_label(field, exact=True)
    target.click()
    assert expect_typed(page, target, None), f"{field} did not get the keyboard"
    with app.stalled():
        page.keyboard.type(text, delay=15)
        assert expect_typed(page, target, text), f"{field} does not hold what was typed"
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


def test_an_enrolment_code_typed_and_tapped_while_the_app_is_busy_is_read_whole(
    browser: Browser, app: AppProcess, deployment: Deployment, app_url: str
) -> None:
    page = open_phone(browser, app.url)
    tap(page, "button", "Continue")
    type_into(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_into(page, page.get_by_label("Repeat the passphrase"), PASSPHRASE)
    tap(page, "button", "Protect this device")
    type_into(page, page.get_by_label("Server address"), app_url)
    type_and_tap_while_stalled(page, app, "Enrolment code", "Connect", deployment.code())
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible(timeout=30_000)
