"""Sync that never stops quietly, end to end: the app process in headless Chromium at 360x640,
records waiting and the server down; pages closed, reopened and reloaded again and again;
then the server comes up, and every record goes with no one asking, while home and the sync
screen say what is true at each moment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from fieldapp.store import Store
from sync.client import enrol
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess, open_phone, shoot, tap
from tests.ui.test_browser import unlock
from tests.ui.test_sync_status import Server

pytestmark = pytest.mark.browser

WAITING = 2
REOPENINGS = 3


@pytest.fixture
def server(deployment: Deployment) -> Iterator[Server]:
    running = Server(deployment)
    try:
        yield running
    finally:
        running.stop()


def enrolled_with_records_waiting(data_dir: Path, server: Server) -> None:
    """A device enrolled on `server`, with `WAITING` records to send; the server left down."""
    store = Store.create(data_dir / "fieldapp.db", PASSPHRASE)
    try:
        server.start()
        enrol(store, server.url, server.deployment.code())
        for index in range(WAITING):
            store.records.create_final("victim_screening", screening_values(name=f"Fict {index}"))
    finally:
        store.close()
        server.stop()


@pytest.fixture
def app(tmp_path: Path, server: Server) -> Iterator[AppProcess]:
    """An enrolled device with records waiting; the server it knows is down."""
    enrolled_with_records_waiting(tmp_path / "device", server)
    process = AppProcess(tmp_path / "device", server_url=server.url)
    yield process
    process.stop()


def found(page: Page, text: str) -> Locator:
    """`text` on screen, alone or within the name Flutter gives the group holding it."""
    return page.get_by_text(text, exact=False).or_(page.get_by_role("group", name=text))


def shown(page: Page, text: str, timeout: float = 20_000) -> None:
    expect(found(page, text).first).to_be_visible(timeout=timeout)


def described(page: Page) -> Page:
    """The page with Flutter's semantics on (asked again if a busy first frame missed it)."""
    for _ in range(3):
        try:
            expect(page.get_by_role("button", name="Home")).to_be_visible(timeout=10_000)
        except AssertionError:
            page.locator("flt-semantics-placeholder").dispatch_event("click")
            continue
        return page
    expect(page.get_by_role("button", name="Home")).to_be_visible()
    return page


def reopen(browser: Browser, app: AppProcess) -> Page:
    return described(open_phone(browser, app.url))


def reload(page: Page) -> None:
    page.reload()
    page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
    page.locator("flt-semantics-placeholder").dispatch_event("click")
    described(page)


def waiting_offline(page: Page) -> None:
    """Home, then the sync screen, say the records wait and the server is out of reach."""
    shown(page, f"{WAITING} records wait to be sent")
    shown(page, "Offline · checked")
    shown(page, f"Waiting to send {WAITING}")
    expect(found(page, "Nothing is waiting")).to_have_count(0)
    tap(page, "button", "Sync")
    shown(page, f"{WAITING} records wait to be sent")
    shown(page, "Offline · checked")
    shown(page, "Never synced")


def test_records_sync_by_themselves_after_pages_closed_and_reloaded_while_offline(
    browser: Browser, app: AppProcess, server: Server
) -> None:
    app.start()
    page = open_phone(browser, app.url)
    unlock(page)
    waiting_offline(page)
    shoot(page, "21-sync-waiting")
    tap(page, "button", "Home")
    shown(page, "Offline · checked")
    shoot(page, "21b-home-waiting")

    for _ in range(REOPENINGS):  # tabs closed and opened again, pages reloaded
        page.close()
        page = reopen(browser, app)
        waiting_offline(page)
        reload(page)
        shown(page, f"{WAITING} records wait to be sent")
    page.close()
    page = reopen(browser, app)  # one page open, on home
    shown(page, f"{WAITING} records wait to be sent")
    assert server.received() == 0

    server.start()
    up = time.monotonic()
    wait_until(lambda: server.received() == WAITING, 10, "every record on the server")
    print(f"all {WAITING} records on the server {time.monotonic() - up:.2f} s after it came up")

    shown(page, "Nothing waits to be sent.")
    shown(page, "Online · checked")
    shown(page, "Last sync: ")
    shoot(page, "22b-home-synced")
    tap(page, "button", "Sync")
    shown(page, "Nothing waits to be sent.")
    shown(page, f"Sent {WAITING}, rejected 0, conflicts 0")
    expect(found(page, "Never synced")).to_have_count(0)
    expect(found(page, "not reachable")).to_have_count(0)
    shoot(page, "22-sync-done")
