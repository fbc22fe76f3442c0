"""Fixtures of the UI tests: the sync tests' real server (`deployment`, `app_url`) and
Debian's Chromium, every step of it under the watchdog (tests/ui/_watchdog.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.sync.conftest import app_url, deployment  # noqa: F401 (shared fixtures)
from tests.ui._browser import AppProcess, Chromium, chromium, serve
from tests.ui._watchdog import RendererHung, guard_steps, hung_page, log, take_events, watch


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    """The app on a new device (no store yet: first run), started, stopped after; a test
    module whose device differs defines its own `app`, most with `serve`."""
    yield from serve(tmp_path / "device")


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Chromium]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def browser(
    _chromium: Chromium, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Browser]:
    """Debian's Chromium, headless (where it is absent the browser tests skip, saying so, or
    fail under CI); Playwright's steps without a timeout under the watchdog; the pages the
    test opened closed after it, so no earlier test's app keeps a renderer busy."""
    take_events()
    guard_steps(monkeypatch)
    launched = _chromium.browser()
    try:
        yield launched
    finally:
        try:
            for context in launched.contexts if launched.is_connected() else []:
                with watch("closing the test's pages"):
                    context.close()
        except RendererHung:
            pass  # logged; the next test launches Chromium again if it had to be killed
        finally:
            request.node.user_properties.extend(take_events())


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> object:
    """A browser test that failed while a page's renderer was hung (an expectation that timed
    out on a page that no longer draws) failed for the renderer, not the app: said so."""
    try:
        return (yield)
    except RendererHung:
        raise
    except Exception as failure:
        browser = pyfuncitem.funcargs.get("browser")
        hung = hung_page([browser]) if isinstance(browser, Browser) else None
        if hung is None:
            raise
        log(f"{hung} did not draw a frame after the test failed: its renderer hung")
        raise RendererHung(
            f"the page at {hung} stopped drawing (renderer hung) when the test failed with"
            f" {type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
        ) from failure
