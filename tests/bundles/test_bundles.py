"""Offline bundles end to end, with real files, the real server app and its real database,
through the command line as an office would run it: a device's outbox carried to the centre
and ingested as a push, the centre's answer (receipts) and forms carried back."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from fieldapp import crypto
from fieldapp.errors import FieldappError
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.client._outcomes import Outgoing, epochs_tail, sealed_epoch_id
from sync.client._push import _batch_signed
from sync.client._state import STATE_ORGANISATION
from sync.protocol import BundledChunk, pack_bundle
from sync.server import admin
from sync.server.app import create_app
from tests.conftest import CANARY, PASSPHRASE
from tests.media.test_device_bundles import photographed_records
from tests.server._harness import running
from tests.sync._harness import Deployment
from tests.sync._records import make_records
from tests.test_cli import run


def _export(device: Store, tmp_path: Path, name: str = "outbox.fieldapp") -> Path:
    out = tmp_path / name
    result = run(device.path.parent, "bundle", "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _import_at_centre(
    deployment: Deployment, bundle: Path, answer: Path | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["bundle", "import", str(bundle), "--json"]
    if answer is not None:
        args += ["--answer", str(answer)]
    return run(deployment.settings.data_dir, *args)


def _stored(deployment: Deployment) -> int:
    return int(deployment.query("SELECT count(*) FROM records")[0][0])


def _statuses(store: Store) -> dict[str, str]:
    rows = store.core.db.execute("SELECT id, status FROM records").fetchall()
    return {row[0]: row[1] for row in rows}


def test_round_trip_device_bundle_centre_answer_device(
    device: Store, deployment: Deployment, tmp_path: Path, client: SyncClient
) -> None:
    ids = make_records(device, 3)
    bundle = _export(device, tmp_path)
    assert CANARY.encode() not in bundle.read_bytes()  # sealed parts stay sealed
    assert set(_statuses(device).values()) == {"final"}  # exporting marks nothing sent
    answer = tmp_path / "answer.fieldapp"
    result = _import_at_centre(deployment, bundle, answer)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["device"] == device.device_id
    assert sorted(r["id"] for r in report["records"]) == sorted(ids)
    assert {r["status"] for r in report["records"]} == {"accepted"}
    assert _stored(deployment) == 3
    # Sealed in one epoch: the bundle carried its header, which the centre now keeps.
    named = {
        crypto.envelope_epoch_id(bytes(s))
        for (s,) in deployment.query("SELECT sealed FROM records")
    }
    assert named == {key for (key,) in deployment.query("SELECT epoch_id FROM sealing_epochs")}
    assert None not in named
    back = run(device.path.parent, "bundle", "import", str(answer), "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["sent"] == 3
    assert set(_statuses(device).values()) == {"sent"}
    # A network sync afterwards has nothing to send and stores nothing twice.
    after = client.sync()
    assert after.ok and after.accepted == after.duplicate == 0
    assert _stored(deployment) == 3


def test_importing_twice_changes_nothing(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    make_records(device, 2)
    bundle = _export(device, tmp_path)
    first = _import_at_centre(deployment, bundle, tmp_path / "a1")
    assert first.returncode == 0, first.stderr
    rows = deployment.query("SELECT * FROM records ORDER BY id, revision")
    again = _import_at_centre(deployment, bundle, tmp_path / "a2")
    assert again.returncode == 0, again.stderr
    assert {r["status"] for r in json.loads(again.stdout)["records"]} == {"duplicate"}
    assert deployment.query("SELECT * FROM records ORDER BY id, revision") == rows


def test_bundle_after_the_records_arrived_by_network(
    device: Store, deployment: Deployment, tmp_path: Path, client: SyncClient
) -> None:
    make_records(device, 3)
    bundle = _export(device, tmp_path)
    synced = client.sync()
    assert synced.ok and synced.accepted == 3
    rows = deployment.query("SELECT * FROM records ORDER BY id, revision")
    late = _import_at_centre(deployment, bundle, tmp_path / "answer")
    assert late.returncode == 0, late.stderr
    assert {r["status"] for r in json.loads(late.stdout)["records"]} == {"duplicate"}
    assert deployment.query("SELECT * FROM records ORDER BY id, revision") == rows
    back = run(device.path.parent, "bundle", "import", str(tmp_path / "answer"), "--json")
    assert back.returncode == 0, back.stderr
    assert set(_statuses(device).values()) == {"sent"}


def _refused(deployment: Deployment, bundle: Path, tmp_path: Path, words: str) -> None:
    before = deployment.query("SELECT count(*) FROM records")
    result = _import_at_centre(deployment, bundle, tmp_path / f"{bundle.name}.answer")
    assert result.returncode == 1
    assert words in result.stderr, result.stderr
    assert deployment.query("SELECT count(*) FROM records") == before
    assert not (tmp_path / f"{bundle.name}.answer").exists()


def test_a_truncated_bundle_is_refused_whole(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    make_records(device, 3)
    data = _export(device, tmp_path).read_bytes()
    for size in (len(data) - 1, len(data) // 2, 40, 10):
        cut = tmp_path / f"cut{size}.fieldapp"
        cut.write_bytes(data[:size])
        _refused(deployment, cut, tmp_path, "truncated" if size > 16 else "not a fieldapp bundle")
    assert _stored(deployment) == 0


def test_a_flipped_byte_is_refused_whole(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    make_records(device, 3)
    data = _export(device, tmp_path).read_bytes()
    header_end = 20 + int.from_bytes(data[16:20], "big")
    for where in (30, header_end + 40, len(data) // 2, len(data) - 5):
        flipped = bytearray(data)
        flipped[where] ^= 0x01
        path = tmp_path / f"flip{where}.fieldapp"
        path.write_bytes(bytes(flipped))
        result = _import_at_centre(deployment, path, tmp_path / f"flip{where}.answer")
        assert result.returncode == 1, (where, result.stdout)
        assert "damaged" in result.stderr or "not signed" in result.stderr, result.stderr
    assert _stored(deployment) == 0


def test_a_revoked_devices_bundle_is_refused(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    make_records(device, 2)
    bundle = _export(device, tmp_path)
    revoked = run(deployment.settings.data_dir, "admin", "revoke", device.device_id)
    assert revoked.returncode == 0, revoked.stderr
    _refused(deployment, bundle, tmp_path, "revoked")
    assert _stored(deployment) == 0


def test_server_bundle_carries_forms_down_to_a_new_device(
    deployment: Deployment, app_url: str, tmp_path: Path, store: Store
) -> None:
    spec = load_builtin_forms()["training_attendance"]
    newer = spec.model_copy(update={"version": "99"})
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, newer)
        admin.share_event(
            storage, deployment.org_id, {"title": "Bundle training", "start_date": "2026-12-01"}
        )
    enrol(store, app_url, deployment.issue("trainer").code)  # enrolled, never synced
    with pytest.raises(FieldappError):
        store.forms.get("training_attendance", "99")
    out = tmp_path / "down.fieldapp"
    export = run(
        deployment.settings.data_dir, "bundle", "export", "--for", store.device_id,
        "--out", str(out),
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    result = run(store.path.parent, "bundle", "import", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["forms_added"] >= 1
    reopened = Store(store.path)
    reopened.keyring.unlock(PASSPHRASE)
    try:
        assert reopened.forms.get("training_attendance", "99").version == "99"
        assert [e for e in reopened.roster.shared("event")]
        again = run(store.path.parent, "bundle", "import", str(out), "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["forms_added"] == 0
    finally:
        reopened.close()
    # A bundle for another device is refused on this one.
    other = tmp_path / "other"
    other_store = Store.create(other / "fieldapp.db", PASSPHRASE)
    enrol(other_store, app_url, deployment.issue("trainer").code)
    other_store.close()
    refused = run(other, "bundle", "import", str(out))
    assert refused.returncode == 1 and "not this one" in refused.stderr


@pytest.mark.postgres
def test_bundles_at_a_postgresql_centre(
    pg_schema_url: str, org_key: crypto.OrgKeyPair, store: Store, tmp_path: Path
) -> None:
    """The same ingestion on the other backend: stored once, a second import only duplicates,
    and a refused (flipped) bundle writes nothing."""
    centre = Deployment.create(tmp_path / "pg" / "data", org_key, database_url=pg_schema_url)
    with running(create_app(centre.settings)) as url:
        enrol(store, url, centre.code())
        make_records(store, 3)
        bundle = _export(store, tmp_path)
        args = ["--database-url", pg_schema_url, "--json"]
        data = bundle.read_bytes()
        flipped = tmp_path / "flipped.fieldapp"
        flipped.write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
        refused = run(centre.settings.data_dir, "bundle", "import", str(flipped), *args)
        assert refused.returncode == 1 and "not signed" in refused.stderr, refused.stderr
        outcomes = []
        for name in ("first", "again"):
            result = run(
                centre.settings.data_dir, "bundle", "import", str(bundle),
                "--answer", str(tmp_path / name), *args,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            outcomes.append({r["status"] for r in json.loads(result.stdout)["records"]})
        assert outcomes == [{"accepted"}, {"duplicate"}]
        with psycopg.connect(pg_schema_url) as conn:
            assert conn.execute("SELECT count(*) FROM records").fetchone() == (3,)


def test_a_bundle_larger_than_a_push_batch(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    """More records than one push may carry: stored in one go, every receipt verifiable (one
    signed tree per 500), and every record sent once the answer is imported."""
    make_records(device, 503)
    bundle = _export(device, tmp_path)
    answer = tmp_path / "answer.fieldapp"
    result = _import_at_centre(deployment, bundle, answer)
    assert result.returncode == 0, result.stderr
    assert _stored(deployment) == 503
    back = run(device.path.parent, "bundle", "import", str(answer), "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["sent"] == 503
    assert set(_statuses(device).values()) == {"sent"}


def test_a_bundle_carrying_batch_signed_records_verifies_at_the_centre(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    """Envelopes signed once per batch (as a device pushes them to a server that said it
    checks batch signatures), sealed in an epoch and with attachments, travel in a bundle with
    the epoch's header and the chunks, and are checked at the centre by their proofs."""
    ids = [*make_records(device, 4), *photographed_records(device)]
    outbox = device.outbox.pending(limit=10)
    items = [Outgoing(e.record_id, e.revision, e.content_digest, e.envelope) for e in outbox]
    envelopes = _batch_signed(items, device.keyring.sign)
    named = {epoch for envelope in envelopes if (epoch := sealed_epoch_id(envelope))}
    assert len(named) == 1  # sealed in an epoch: its header goes beside the records
    chunks = [
        BundledChunk(digest=digest, data=device.attachments.chunk(digest)).model_dump_json()
        for digest in device.attachments.unsent_finalised()
    ]
    assert chunks
    bundle = tmp_path / "batch-signed.fieldapp"
    bundle.write_bytes(
        pack_bundle(
            "device",
            writer_id=device.device_id,
            org_id=device.settings.get(STATE_ORGANISATION),
            created_at=device.settings.wall_clock(),
            counts={"records": len(envelopes), "roster": 0, "chunks": len(chunks)},
            payload=b'{"records":['
            + b",".join(envelopes)
            + b'],"roster":[],"chunks":['
            + ",".join(chunks).encode()
            + epochs_tail(device.outbox.epoch_headers(named)),
            sign=device.keyring.sign,
        )
    )
    result = _import_at_centre(deployment, bundle)
    assert result.returncode == 0, result.stderr
    assert {r["status"] for r in json.loads(result.stdout)["records"]} == {"accepted"}
    [(key,)] = deployment.query("SELECT public_key FROM devices WHERE id = ?", (device.device_id,))
    attached = 0
    with admin.open_server_storage(deployment.settings) as storage:
        for record_id in ids:
            [revision] = storage.list_revisions(deployment.org_id, uuid.UUID(record_id))
            envelope = revision.to_envelope()
            assert envelope.proof is not None
            assert envelope.sealed is not None and crypto.envelope_epoch_id(envelope.sealed)
            crypto.verify(bytes(key), envelope.signature, envelope.signed_message())
            attached += bool(envelope.attachments)
    assert attached == 2  # the photographed records' manifests are under the batch signature
