"""Offline bundles from the Sync screen, in headless Chromium at 360x640: a device whose server
is out of reach exports its waiting records to a file (a browser download), the centre imports
it with `fieldapp bundle import`, and the device imports the centre's answer bundle (a file
picked in the browser): its records turn sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import enrol
from tests.conftest import CANARY, PASSPHRASE
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._records import make_records
from tests.test_cli import run
from tests.ui._browser import AppProcess, open_phone, serve, shoot, tap
from tests.ui.test_browser import unlock

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def offline_device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Deployment]]:
    """A device enrolled at a server that has gone away since, with two records waiting."""
    root = tmp_path_factory.mktemp("bundles")
    deployment = Deployment.create(root / "server" / "data", crypto.OrgKeyPair.generate("X25519"))
    server = ServerProcess(deployment.settings)
    server.start()
    try:
        store = Store.create(root / "device" / "fieldapp.db", PASSPHRASE)
        enrol(store, server.url, deployment.code())
        make_records(store, 2)
        store.close()
    finally:
        server.stop()
    yield root, deployment


@pytest.fixture(scope="module")
def app(offline_device: tuple[Path, Deployment]) -> Iterator[AppProcess]:
    root, _ = offline_device
    yield from serve(root / "device")


def said(page: Page, text: str) -> None:
    """`text` on screen (as its own text, or in the group Flutter merged it into)."""
    shown = page.get_by_text(text, exact=False).or_(
        page.get_by_role("group", name=text, exact=False)
    )
    expect(shown.first).to_be_visible(timeout=20_000)


def _statuses(device_dir: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{device_dir / 'fieldapp.db'}?mode=ro", uri=True, timeout=30)
    try:
        return sorted(row[0] for row in conn.execute("SELECT status FROM records"))
    finally:
        conn.close()


def test_export_a_bundle_and_import_the_centres_answer(
    browser: Browser, app: AppProcess, offline_device: tuple[Path, Deployment]
) -> None:
    root, deployment = offline_device
    page = open_phone(browser, app.url)
    unlock(page)
    tap(page, "button", "Sync")
    with page.expect_download() as download:
        tap(page, "button", "Export to file")
    bundle = root / "outbox.fieldapp"
    download.value.save_as(bundle)
    said(page, "Bundle saved with 2 records")
    shoot(page, "sync-bundles")
    assert CANARY.encode() not in bundle.read_bytes()
    assert _statuses(root / "device") == ["final", "final"]  # still waiting

    answer = root / "answer.fieldapp"
    centre = run(
        deployment.settings.data_dir, "bundle", "import", str(bundle), "--answer", str(answer)
    )
    assert centre.returncode == 0, centre.stderr
    assert centre.stdout.count(": accepted\n") == 2 and "records: 2 accepted" in centre.stdout

    with page.expect_file_chooser() as chooser:
        tap(page, "button", "Import from file")
    chooser.value.set_files(str(answer))
    said(page, "2 records confirmed sent")
    said(page, "Nothing waits to be sent.")
    assert _statuses(root / "device") == ["sent", "sent"]
