"""Headless Chromium at 360x640 with a real sync server: a screening edited on this phone and
on a restored tablet comes back as a conflict; "Compare and merge" lists what differs, the
other version is picked for one answer, and the merged version goes to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from fieldapp.store import Store
from sync import SyncClient
from sync.client import enrol
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.sync.test_client import copy_store
from tests.ui._browser import (
    AppProcess,
    expect_shown,
    open_phone,
    scroll_to_top,
    serve,
    shoot,
    tap,
)
from tests.ui.test_browser import unlock
from tests.ui.test_browser_sync import sync_now

pytestmark = pytest.mark.browser


@pytest.fixture
def conflict(tmp_path: Path, deployment: Deployment, app_url: str) -> str:
    """An enrolled device whose screening the tablet (restored from its backup) edited and
    sent first: the tablet says Thailand, this phone says the police identified the person."""
    store = Store.create(tmp_path / "device" / "fieldapp.db", PASSPHRASE)
    try:
        enrol(store, app_url, deployment.code())
        record = store.records.create_final("victim_screening", screening_values())
        with SyncClient(store) as client:
            assert client.sync().accepted == 1
        tablet = copy_store(store, tmp_path / "tablet" / "fieldapp.db")
        tablet.records.finalise(record.id, {**record.values, "nationality": "TH"})
        with SyncClient(tablet) as client:
            assert client.sync().accepted == 1
        tablet.close()
        store.records.finalise(record.id, {**record.values, "identified_by": "police"})
        with SyncClient(store) as client:
            assert client.sync().conflict == 1
    finally:
        store.close()
    return record.id


@pytest.fixture
def app(tmp_path: Path, app_url: str, conflict: str) -> Iterator[AppProcess]:
    yield from serve(tmp_path / "device", app_url)


def test_a_conflict_is_compared_merged_and_sent(
    browser: Browser, app: AppProcess, deployment: Deployment, conflict: str
) -> None:
    page = open_phone(browser, app.url)
    unlock(page)
    expect(page.get_by_role("button", name="Conflicts 1")).to_be_visible(timeout=30_000)
    tap(page, "button", "Conflicts 1")
    tap(page, "button", "Victim identification and screening", exact=False)
    expect_shown(page, "Edited in two places")

    tap(page, "button", "Compare and merge")
    expect_shown(page, "Only the office can see the other version's personal details")
    expect(page.get_by_role("radio", name="Mine: Cambodia")).to_be_checked()
    expect(page.get_by_role("radio", name="Mine: Police or gendarmerie")).to_be_checked()
    tap(page, "radio", "Other version: Thailand")
    expect(page.get_by_role("radio", name="Other version: Thailand")).to_be_checked()
    scroll_to_top(page)
    shoot(page, "20-conflict-merge")

    tap(page, "button", "Send merged version")
    expect_shown(page, "Your merged version will be sent at the next sync")
    sync_now(page, "rejected 0, conflicts 0")  # the app may have sent it by itself already

    def server_head() -> tuple[dict[str, object], bool] | None:
        """The head's statistics once the merged version is the head (the text above may
        be an earlier sync's, on a loaded machine)."""
        [(stats, in_conflict)] = deployment.query(
            "SELECT r.stats, h.in_conflict FROM records r JOIN record_heads h"
            " ON h.id = r.id AND h.head_revision = r.revision WHERE r.id = ?",
            (conflict,),
        )
        head = json.loads(stats)
        return (head, in_conflict) if head["identified_by"] == "police" else None

    found = wait_until(server_head, 20, "the merged version on the server")
    assert found is not None
    head, in_conflict = found
    assert (head["nationality"], head["identified_by"]) == ("TH", "police")
    assert in_conflict  # the office still checks the sealed part only it can read
    app.stop()
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    try:
        merged = store.records.get(conflict)
        assert (merged.status, merged.conflict_settled) == ("sent", True)
        assert merged.values["nationality"] == "TH"
    finally:
        store.close()
