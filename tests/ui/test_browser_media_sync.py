"""Issue #16's first done-when, in one go: a victim screening with two photos and a drawn
signature, finished in headless Chromium at 360x640 on a device enrolled with the real server
(its own process on loopback) reached only through a proxy that cuts 30% of the exchanges,
some halfway through a chunk upload. Synced by the real client on the app's data dir: every
chunk is stored once, the record is complete, and the office opens photos byte-identical to
what the device stored, with no EXIF and no canary on the server."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient, enrol
from sync.server import admin
from tests._media import CANARY, exif_photo
from tests.conftest import PASSPHRASE
from tests.sync._harness import MID_TRANSFER_FAULTS, Deployment, FaultProxy, ServerProcess
from tests.sync.test_attachments_e2e import opened_at_office, sync_until_done
from tests.ui._browser import AppProcess, open_phone, tap, type_into
from tests.ui.test_browser import choose, identified_to_review, unlock
from tests.ui.test_browser_media import attach_photo, draw_signature, said

pytestmark = pytest.mark.browser

SEED = 1616


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair) -> Deployment:
    return Deployment.create(tmp_path_factory.mktemp("server") / "data", org_key)


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[ServerProcess]:
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def proxy(server: ServerProcess) -> Iterator[FaultProxy]:
    """The only way to the server; it cuts nothing until the device is enrolled."""
    cutting = FaultProxy(server.port, random.Random(SEED), 0.0, faults=MID_TRANSFER_FAULTS)
    try:
        yield cutting
    finally:
        cutting.close()


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, deployment: Deployment, proxy: FaultProxy
) -> Iterator[AppProcess]:
    """The app on a device enrolled through the proxy, which then cuts 30% of the exchanges."""
    data_dir = tmp_path_factory.mktemp("media-sync") / "device"
    store = Store.create(data_dir / "fieldapp.db", PASSPHRASE)
    try:
        enrol(store, proxy.url, deployment.code())
    finally:
        store.close()
    proxy.fault_rate = 0.3
    process = AppProcess(data_dir, server_url=proxy.url)
    process.start()
    yield process
    process.stop()


def test_a_screening_with_photos_and_signature_reaches_the_office_through_cuts(
    browser: Browser,
    app: AppProcess,
    deployment: Deployment,
    server: ServerProcess,
    proxy: FaultProxy,
    org_key: crypto.OrgKeyPair,
    tmp_path: Path,
) -> None:
    page = open_phone(browser, app.url)
    unlock(page)
    tap(page, "button", "Identify a victim")
    for question in ("record personal information", "be referred to services"):
        choose(page, f"Consent to {question} *", "Yes")
    choose(page, "Consent to share anonymised data *", "Yes")
    tap(page, "button", "Sign")
    draw_signature(page)
    tap(page, "button", "Save signature")
    expect(said(page, "Attached (")).to_have_count(1)
    attach_photo(page, "Take photo", exif_photo(tmp_path / "consent-form.jpg", 1))
    expect(said(page, "Attached (")).to_have_count(2)
    tap(page, "button", "Next")
    type_into(page, page.get_by_label("Case code *"), "KH-2026-0116")
    attach_photo(page, "Choose file", exif_photo(tmp_path / "passport.jpg", 2))
    expect(page.get_by_role("button", name="Remove")).to_have_count(1)
    type_into(page, page.get_by_label("Given name(s)"), "Fictional")
    tap(page, "button", "Next")
    type_into(page, page.get_by_label("Age in years"), "30")
    choose(page, "Sex / gender *", "Female")
    identified_to_review(page)
    tap(page, "button", "Finalise")
    expect(page.get_by_text("Finalised. It will be sent at the next sync.")).to_be_visible()
    app.stop()  # whatever the app's own sync sent went through the proxy too

    store = Store(app.data_dir / "fieldapp.db")
    try:
        store.keyring.unlock(PASSPHRASE)
        [record] = store.records.page(status="final").items
        refs = store.attachments.for_record(record.id)
        assert {ref.field for ref in refs} == {
            "consent_signature",
            "consent_form_photo",
            "document_photo",
        }
        stored_on_device = {ref.id: store.attachments.read(ref.id) for ref in refs}
        chunks = {digest for ref in refs for digest in ref.chunks}
        proxy.rng = random.Random(SEED + 2)  # the same cuts for the client's same requests
        with SyncClient(
            store,
            base_url=proxy.url,
            retry=RetryPolicy(base_delay=0.01, attempts=8),
            rng=random.Random(SEED + 1),
        ) as client:
            syncs = sync_until_done(client)
        print(f"cuts through the proxy: {dict(proxy.cuts)}; syncs: {syncs}")
        assert store.attachments.unsent(record.id) == []
    finally:
        store.close()

    assert proxy.cuts["mid_request"] > 0, proxy.cuts  # chunk uploads cut halfway
    rows = deployment.query("SELECT digest, COUNT(*) FROM attachment_chunks GROUP BY digest")
    assert {digest for digest, _ in rows} == chunks
    assert {count for _, count in rows} == {1}, "every chunk stored once"
    with admin.open_server_storage(deployment.settings) as storage:
        progress = storage.attachment_progress(deployment.org_id, [uuid.UUID(record.id)])
    assert progress[uuid.UUID(record.id)].complete, (progress, syncs)

    opened = opened_at_office(tmp_path / "office", deployment, server.url, org_key, record.id)
    assert {a.ref.id: a.data for a in opened} == stored_on_device
    for attachment in opened:
        assert CANARY.encode() not in attachment.data
        with Image.open(io.BytesIO(attachment.data)) as image:
            assert not image.getexif() and "exif" not in image.info
    for path in deployment.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data and b"CanaryCam" not in data, path
