"""Attachments end to end (issue #16's done-when): a record with two photos and a signature
reaches the real server through a loopback proxy that cuts 30% of the exchanges (before,
halfway through or after a request, halfway through an answer); every chunk is stored once,
the record is complete, and a case manager opens files byte-identical to what the device
stored, with no EXIF left and no canary on the server, in its database or on the device."""

from __future__ import annotations

import io
import random
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.media import IMAGE_TYPES
from fieldapp.forms.spec import FieldSpec
from fieldapp.media.images import ImageKind
from fieldapp.store import Store
from sync.client import (
    OfficeClient,
    OpenedAttachment,
    RetryPolicy,
    SyncClient,
    enrol,
    open_attachments,
)
from sync.protocol.attachments import AttachmentRef
from sync.server import admin
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.sync._harness import MID_TRANSFER_FAULTS, Deployment, FaultProxy

SEED = 16
SCREENING = load_builtin_forms()["victim_screening"]
KEY_PASSPHRASE = "organisation key passphrase"


def camera_photo(rng: random.Random, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A camera's JPEG of noise (over 256 KiB once re-encoded: several chunks) whose EXIF,
    GPS and comment carry the canary."""
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif.get_ifd(0x8825).update({0x0001: "N", 0x001C: CANARY})  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif, comment=CANARY.encode())
    return out.getvalue()


def drawn_signature() -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    for x in range(40, 560):
        image.putpixel((x, 100 + (x % 40) - 20), (10, 10, 10, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def capture(store: Store, record_id: str, question: str, data: bytes) -> AttachmentRef:
    """What the app does with a photo taken or a signature drawn for the built-in screening's
    `question`: re-encoded as its type and max-pixels say, kept encrypted under the record."""
    node = SCREENING.node(question)
    assert isinstance(node, FieldSpec) and node.type in IMAGE_TYPES, node
    kind: ImageKind = "signature" if node.type == "signature" else "photo"
    return store.attachments.add_image(
        record_id, question, data, kind=kind, max_pixels=node.max_pixels
    )


def sync_until_done(client: SyncClient, rounds: int = 60) -> int:
    """Sync as the connectivity monitor would, until records and chunks are all sent."""
    for attempt in range(1, rounds + 1):
        report = client.sync()
        if report.ok and not client.pending() and not client.attachments_waiting():
            return attempt
    raise AssertionError(f"still not done after {rounds} syncs: {client.attachments_waiting()}")


def opened_at_office(
    office_dir: Path,
    deployment: Deployment,
    url: str,
    org_key: crypto.OrgKeyPair,
    record_id: str,
    transport: httpx.BaseTransport | None = None,
) -> list[OpenedAttachment]:
    """A record's attachments as a case manager opens them: an office store enrolled on `url`,
    the organisation key unlocked from its file."""
    office_store = Store.create(office_dir / "store.db", PASSPHRASE)
    try:
        enrol(office_store, url, deployment.issue("case_manager").code, transport=transport)
        key_path = office_dir / "org.key"
        org_key.save(key_path, KEY_PASSPHRASE)
        with (
            OfficeClient(office_store, transport=transport) as office,
            crypto.CaseFileKey.unlock(
                key_path.read_bytes(),
                KEY_PASSPHRASE,
                organisation=office_store.outbox.recipients(),
                timer=False,
            ) as key,
        ):
            return open_attachments(office, key, record_id)
    finally:
        office_store.close()


def test_two_photos_and_a_signature_reach_the_office_through_a_cutting_proxy(
    store: Store,
    store_path: Path,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    org_key: crypto.OrgKeyPair,
    tmp_path: Path,
) -> None:
    assert SCREENING.version == "4"
    enrol(store, app_url, deployment.code(), transport=app_transport)
    rng = random.Random(SEED)
    draft = store.records.new_draft(SCREENING.id)
    refs = [
        capture(store, draft.id, "consent_form_photo", camera_photo(rng)),
        capture(store, draft.id, "document_photo", camera_photo(rng)),
        capture(store, draft.id, "consent_signature", drawn_signature()),
    ]
    assert [ref.media_type for ref in refs] == ["image/jpeg", "image/jpeg", "image/png"]
    store.records.finalise(draft.id, screening_values(**{ref.field: ref.id for ref in refs}))
    assert store.records.get(draft.id).form_version == "4"
    stored_on_device = {ref.id: store.attachments.read(ref.id) for ref in refs}
    chunks = {digest for ref in refs for digest in ref.chunks}
    assert len(chunks) >= 6  # the photos take several chunks each

    proxy = FaultProxy(
        urlsplit(app_url).port or 0,
        random.Random(SEED + 1),
        fault_rate=0.3,
        faults=MID_TRANSFER_FAULTS,
    )
    try:
        with SyncClient(
            store,
            base_url=proxy.url,
            retry=RetryPolicy(base_delay=0.01, attempts=8),
            rng=random.Random(SEED + 2),
        ) as client:
            syncs = sync_until_done(client)
    finally:
        proxy.close()

    assert proxy.cuts["mid_request"] > 0, proxy.cuts
    assert store.attachments.unsent(draft.id) == []  # the device may purge it in time
    rows = deployment.query("SELECT digest, COUNT(*) FROM attachment_chunks GROUP BY digest")
    assert {digest for digest, _ in rows} == chunks
    assert {count for _, count in rows} == {1}, "every chunk stored once"
    with admin.open_server_storage(deployment.settings) as storage:
        progress = storage.attachment_progress(deployment.org_id, [uuid.UUID(draft.id)])
    assert progress[uuid.UUID(draft.id)].complete, (progress, syncs)

    office = tmp_path / "office"
    opened = opened_at_office(office, deployment, app_url, org_key, draft.id, app_transport)
    assert {a.ref.id: a.data for a in opened} == stored_on_device
    for attachment in opened:
        assert CANARY.encode() not in attachment.data
        assert not Image.open(io.BytesIO(attachment.data)).getexif()
    for path in deployment.settings.data_dir.glob("server.db*"):
        assert CANARY.encode() not in path.read_bytes(), path
    store.core.checkpoint()
    for path in store_path.parent.glob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
