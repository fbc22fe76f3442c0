"""The watchdog of the browser harness against a renderer made to hang on purpose (a page
whose script never returns): the step fails fast naming itself, and Chromium goes on."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page

from tests.ui import _watchdog
from tests.ui._watchdog import RendererHung, hung_page

pytestmark = pytest.mark.browser
_SPIN = "() => { addEventListener('mousemove', () => {}); setTimeout(() => { for (;;) {} }) }"


@pytest.fixture
def spinning(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> Page:
    """A page whose renderer spins at 100% CPU for ever, under a 3 s step deadline."""
    monkeypatch.setattr(_watchdog, "STEP_SECONDS", 3.0)
    monkeypatch.setattr(_watchdog, "PROBE_SECONDS", 3.0)
    page = browser.new_page()
    page.set_content("<p>spinning</p>")
    page.evaluate(_SPIN)
    return page


def test_a_step_into_a_hung_renderer_fails_fast_naming_the_step(
    browser: Browser, spinning: Page
) -> None:
    started = time.monotonic()
    with pytest.raises(RendererHung, match=r"mouse\.move\(10, 10\) outlasted its 3 s deadline"):
        spinning.mouse.move(10, 10)
    assert time.monotonic() - started < 20
    fresh = browser.new_page()  # the browser still opens pages: the next test can run
    fresh.set_content("<p>fresh</p>")
    assert fresh.evaluate("() => 1 + 1") == 2


def test_a_hung_renderer_is_told_from_a_live_one(browser: Browser, spinning: Page) -> None:
    live = browser.new_page()
    live.set_content("<p>live</p>")
    assert hung_page([browser]) == spinning.url
    assert hung_page([browser]) is None  # killed: nothing hangs any more
    live.close()
