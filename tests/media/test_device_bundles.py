"""Attachments leaving the device: in a device bundle, the encrypted chunks of finalised
records beside their envelopes, each checked against its digest, counted in the signed
header (the centre reads the bundle whole and refuses it whole when a chunk was altered); by
network, the record's envelope with its manifest, taken by the real server and opened at the
office with the organisation key alone."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import OfficeClient, SyncClient, enrol, open_record
from sync.client._bundle import export_bundle
from sync.protocol import BundleError, DevicePayload, pack_bundle, read_bundle
from tests.conftest import PASSPHRASE, screening_values
from tests.media._images import photo_jpeg, signature_png
from tests.media.test_store_attachments import CANARY, disk_hits
from tests.sync._harness import Deployment
from tests.test_cli import run


def photographed_records(device: Store) -> dict[str, list[str]]:
    """Two finalised screenings, each with a photo, one with a signature too, and a draft
    with a photo: {record id: its manifest's chunk digests}."""
    chunks: dict[str, list[str]] = {}
    for index in range(2):
        draft = device.records.new_draft("victim_screening", {})
        photo = device.attachments.add_image(draft.id, "photo", photo_jpeg(CANARY))
        named = {"case_notes": photo.id}
        if index == 0:
            signature = device.attachments.add_image(
                draft.id, "signature", signature_png(CANARY), kind="signature"
            )
            named["referral_org_shelter"] = signature.id
        device.records.finalise(draft.id, screening_values(**named))
        chunks[draft.id] = [
            digest for ref in device.attachments.for_record(draft.id) for digest in ref.chunks
        ]
    draft = device.records.new_draft("victim_screening", {})
    device.attachments.add_image(draft.id, "photo", photo_jpeg(CANARY))
    return chunks


def test_a_device_bundle_carries_the_chunks_its_records_name(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    chunks = photographed_records(device)
    exported = export_bundle(device)
    assert (exported.records, exported.chunks) == (2, 3)  # not the draft's photo
    assert CANARY.encode() not in exported.data
    signed = read_bundle(exported.data)
    crypto.verify(device.keyring.public_key, signed.signature, signed.header.signing_bytes())
    assert signed.header.counts == {"records": 2, "roster": 0, "chunks": 3}
    payload = signed.device_payload()
    assert payload.counts() == signed.header.counts
    assert sorted(chunk.digest for chunk in payload.chunks) == sorted(
        digest for digests in chunks.values() for digest in digests
    )
    manifests = {str(envelope.id): envelope.attachments for envelope in payload.records}
    for record_id, digests in chunks.items():
        assert [d for ref in manifests[record_id] for d in ref.chunks] == digests
    for chunk in payload.chunks:
        assert chunk.data == device.attachments.chunk(chunk.digest)

    # The centre reads the bundle and takes its records (it stores the chunks once
    # media-sync's chunk storage is merged).
    bundle = tmp_path / "outbox.fieldapp"
    bundle.write_bytes(exported.data)
    result = run(deployment.settings.data_dir, "bundle", "import", str(bundle), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {record["status"] for record in report["records"]} == {"accepted"}
    assert disk_hits(deployment.settings.data_dir) == []


def test_a_bundle_without_attachments_is_as_before(device: Store) -> None:
    device.records.create_final("victim_screening", screening_values())
    exported = export_bundle(device)
    signed = read_bundle(exported.data)
    assert signed.header.counts == {"records": 1, "roster": 0}
    assert b'"chunks"' not in signed.payload


def test_a_bundle_with_an_altered_chunk_is_refused_whole(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    photographed_records(device)
    signed = read_bundle(export_bundle(device).data)
    payload = json.loads(signed.payload)
    data = bytearray(base64.b64decode(payload["chunks"][1]["data"]))
    data[40] ^= 1
    payload["chunks"][1]["data"] = base64.b64encode(bytes(data)).decode()
    altered = json.dumps(payload).encode()
    with pytest.raises(ValueError, match=r"(?s)chunks\.1.*does not match its sha256"):
        DevicePayload.model_validate_json(altered)
    # Signed again by the device itself: still refused by the centre, nothing taken.
    forged = pack_bundle(
        "device",
        writer_id=device.device_id,
        org_id=signed.header.org_id,
        created_at=signed.header.created_at,
        counts=signed.header.counts,
        payload=altered,
        sign=device.keyring.sign,
    )
    with pytest.raises(BundleError, match=r"(?s)chunks\.1.*does not match its sha256"):
        read_bundle(forged).device_payload()
    bundle = tmp_path / "forged.fieldapp"
    bundle.write_bytes(forged)
    result = run(deployment.settings.data_dir, "bundle", "import", str(bundle), "--json")
    assert result.returncode != 0
    assert "does not match its sha256" in result.stderr
    assert deployment.query("SELECT count(*) FROM records")[0][0] == 0


def test_the_server_takes_a_record_with_attachments_by_network(
    device: Store, client: SyncClient
) -> None:
    photographed_records(device)
    report = client.sync()
    assert report.ok and report.accepted == 2


def test_the_office_opens_the_attachments_with_the_organisation_key_alone(
    device: Store,
    client: SyncClient,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    org_key: crypto.OrgKeyPair,
    tmp_path: Path,
) -> None:
    """A case manager opens the pushed record: its answers hold no content key, and the keys
    its sealed part carries open the chunks (read here from the device, as the server's chunk
    storage would give them) into the files the device stored, with no EXIF left."""
    chunks = photographed_records(device)
    assert client.sync().ok
    office_store = Store.create(tmp_path / "office" / "store.db", PASSPHRASE)
    enrol(office_store, app_url, deployment.issue("case_manager").code, transport=app_transport)
    with (
        OfficeClient(office_store, transport=app_transport) as office,
        crypto.CaseFileKey(org_key, timer=False) as key,
    ):
        for record_id in chunks:
            [revision] = open_record(office, key, record_id, device.forms.get).revisions
            assert "_attachments" not in revision.values
            assert "_attachments" not in revision.sealed
            refs = device.attachments.for_record(record_id)
            assert set(revision.attachments) == {ref.id for ref in refs}
            for ref in refs:
                data = crypto.decrypt_attachment(
                    revision.attachments[ref.id].key,
                    ref.id,
                    [device.attachments.chunk(digest) for digest in ref.chunks],
                    size=ref.size,
                    digests=ref.chunks,
                )
                assert data == device.attachments.read(ref.id)
                assert not Image.open(io.BytesIO(data)).getexif()
