"""Regional offices (issue #11): devices sync with a relay (`fieldapp serve --upstream URL
--enrol-code CODE`) that forwards their envelopes, unchanged, to the centre. Real servers on
loopback, each its own process, stopped by the test."""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import OfficeClient, RetryPolicy, SyncClient, enrol
from sync.server import admin
from tests._wait import wait_until
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.media.test_device_bundles import photographed_records
from tests.relay._harness import RelayProcess, code_at_relay, device_at, sync_ok
from tests.sync._harness import REPO, Deployment, ServerProcess, report_of, run_client_process
from tests.sync._records import make_records

FAST = RetryPolicy(base_delay=0.01, max_delay=0.2, attempts=3)


def _at_centre(deployment: Deployment) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in deployment.query("SELECT id, revision FROM records")]


def test_records_reach_the_centre_once_through_the_relay_signed_by_thedevice_at(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, _ = centre
    device = device_at(tmp_path, "trainer", deployment, relay)
    ids = make_records(device, 6)
    sent = {entry.record_id: entry.envelope for entry in device.outbox.pending()}
    sync_ok(device)

    wait_until(lambda: len(_at_centre(deployment)) == 6, 30, "6 revisions at the centre")
    stored = _at_centre(deployment)
    assert sorted(record_id for record_id, _ in stored) == sorted(ids)
    assert len(set(stored)) == len(stored)  # exactly once
    # The centre holds the device's own signature over the envelope, unchanged, which
    # verifies with the key the centre itself enrolled for the device (through the relay).
    [(key,)] = deployment.query("SELECT public_key FROM devices WHERE id = ?", (device.device_id,))
    rows = deployment.query("SELECT id, revision, device_id, pushed_by, hops FROM records")
    views = {}
    for record_id, revision, signer, pushed_by, hops in rows:
        assert signer == device.device_id
        assert pushed_by == relay.device_id
        [hop] = json.loads(hops)
        assert hop["node"] == relay.device_id
        views[record_id] = revision
    with admin.open_server_storage(deployment.settings) as storage:
        for record_id in ids:
            [revision] = storage.list_revisions(deployment.org_id, uuid.UUID(record_id))
            envelope = revision.to_envelope()
            crypto.verify(bytes(key), envelope.signature, envelope.signing_bytes())
    # Sealed in an epoch on the device, forwarded byte for byte with the epoch's header,
    # which the centre keeps for the office.
    assert sorted(sent) == sorted(ids)
    for record_id in ids:
        [(sealed,)] = deployment.query("SELECT sealed FROM records WHERE id = ?", (record_id,))
        epoch_id = crypto.envelope_epoch_id(bytes(sealed))
        assert epoch_id is not None
        assert deployment.query("SELECT 1 FROM sealing_epochs WHERE epoch_id = ?", (epoch_id,))
        assert json.loads(sent[record_id])["sealed"] == base64.b64encode(sealed).decode()

    # `fieldapp admin stats --relayed` at the centre: which relay, and when each hop took it.
    out = subprocess.run(
        [sys.executable, "-m", "fieldapp", "--data-dir", str(deployment.settings.data_dir),
         "admin", "stats", "--json", "--relayed", "10"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    relayed = json.loads(out)["relayed"]
    assert len(relayed) == 6
    assert {entry["relay"] for entry in relayed} == {relay.device_id}
    assert all(entry["hops"][0]["received_at"] <= entry["received_at"] for entry in relayed)


def _files_hold(folder: Path, needle: bytes) -> list[str]:
    """Every file under `folder` (database, write-ahead log, identity, logs) holding `needle`."""
    return [
        str(path) for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()
    ]


@pytest.mark.slow  # servers stopped, SIGKILLed and started again: the full run only
def test_the_relay_takes_records_while_the_centre_is_away_and_forwards_them_once_it_is_back(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    device = device_at(tmp_path, "worker", deployment, relay)
    make_records(device, 3)
    sync_ok(device)
    wait_until(lambda: len(_at_centre(deployment)) == 3, 30, "the first 3 at the centre")

    server.stop()  # the line to the centre is down
    make_records(device, 12)
    sync_ok(device)  # the relay takes them and signs receipts for them
    assert device.records.status_counts() == {"sent": 15}
    # A device SIGKILLed in the middle of its push to the relay, then syncing again.
    make_records(device, 40)
    doomed = run_client_process(device.path, PASSPHRASE, relay.url, max_batch_bytes=6 * 1024)
    wait_until(
        lambda: device.records.count(status="queued") > 0 or doomed.poll() is not None,
        60, "the device's push to start", step=0.002,
    )  # fmt: skip
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    resumed = run_client_process(device.path, PASSPHRASE, relay.url, max_batch_bytes=6 * 1024)
    assert report_of(resumed)["ok"]
    # The relay itself SIGKILLed while it retries the centre, and started again.
    relay.kill()
    relay.start()
    server.start()  # the line is back, same port and database

    saved = {(rid, device.records.get(rid).revision) for rid in device.records.ids()}
    wait_until(lambda: len(_at_centre(deployment)) >= len(saved), 60, "every record at the centre")
    stored = _at_centre(deployment)
    assert sorted(stored) == sorted(saved)  # zero lost, zero duplicated
    assert device.records.status_counts() == {"sent": len(saved)}
    # Nothing sensitive at the relay: its database, write-ahead log, identity file, log.
    assert _files_hold(relay.data_dir, CANARY.encode()) == []
    assert CANARY.encode() not in relay.log_path.read_bytes()


def test_a_revocation_at_the_centre_reaches_the_relay_and_shuts_the_device_out(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, _ = centre
    device = device_at(tmp_path, "lost-phone", deployment, relay)
    make_records(device, 1)
    sync_ok(device)
    with admin.open_server_storage(deployment.settings) as storage:
        admin.revoke(storage, device.device_id)

    def revoked_at_relay() -> bool:
        with sqlite3.connect(f"file:{relay.data_dir / 'server.db'}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT revoked_at FROM devices WHERE id = ?", (device.device_id,)
            ).fetchone()
        return row is not None and row[0] is not None

    wait_until(revoked_at_relay, 30, "the revocation at the relay")
    make_records(device, 1)
    with SyncClient(device, retry=FAST) as client:
        report = client.sync()
    assert not report.ok
    assert device.records.count(status="sent") == 1  # the new record waits on the device


def test_shared_events_and_the_offices_review_come_down_through_the_relay(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    trainer = Store.create(tmp_path / "trainer.db", PASSPHRASE)
    enrol(trainer, relay.url, code_at_relay(deployment, relay, "trainer"), retry=FAST)
    record = trainer.records.create_final("victim_screening", screening_values())
    sync_ok(trainer)
    with admin.open_server_storage(deployment.settings) as storage:
        event = admin.share_event(
            storage, deployment.org_id,
            {"title": "Court interpreters, Battambang", "start_date": "2026-12-14"},
            region="north",
        )  # fmt: skip
    wait_until(lambda: len(_at_centre(deployment)) == 1, 30, "the record at the centre")
    office_store = Store.create(tmp_path / "office.db", PASSPHRASE)
    enrol(office_store, server.url, deployment.code("coordinator"), retry=FAST)
    with OfficeClient(office_store, retry=FAST) as office:
        office.review(record.id, "has_issues", "The age band does not match the age")

    def arrived() -> bool:
        sync_ok(trainer)
        review = trainer.reviews.get(record.id)
        return event.key in trainer.roster.shared("event") and review is not None

    wait_until(arrived, 30, "the event and the review on the device")
    review = trainer.reviews.get(record.id)
    assert review is not None
    assert (review.state, review.comment) == ("has_issues", "The age band does not match the age")


def test_batch_signed_records_go_through_the_relay_and_verify_at_the_centre(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    """The relay said it verifies batch signatures: the device's next batches are signed
    once each (sealed in an epoch, two with photos); the relay forwards each envelope with
    its proof and the centre checks it."""
    deployment, _ = centre
    device = device_at(tmp_path, "batcher", deployment, relay)
    make_records(device, 2)
    with SyncClient(device, retry=FAST) as client:
        first = client.sync()  # signed each alone: the relay has not said yet
        batched = [*make_records(device, 4), *photographed_records(device)]
        second = client.sync()
    assert first.ok and second.ok, (first.errors, second.errors)
    wait_until(lambda: len(_at_centre(deployment)) == 8, 30, "8 revisions at the centre")
    [(key,)] = deployment.query("SELECT public_key FROM devices WHERE id = ?", (device.device_id,))
    with admin.open_server_storage(deployment.settings) as storage:
        envelopes = {}
        for record_id in batched:
            [revision] = storage.list_revisions(deployment.org_id, uuid.UUID(record_id))
            envelopes[record_id] = revision.to_envelope()
    assert all(envelope.proof is not None for envelope in envelopes.values())
    assert len({bytes(envelope.signature) for envelope in envelopes.values()}) == 1
    assert sum(bool(envelope.attachments) for envelope in envelopes.values()) == 2
    for envelope in envelopes.values():
        assert envelope.sealed is not None and crypto.envelope_epoch_id(envelope.sealed)
        crypto.verify(bytes(key), envelope.signature, envelope.signed_message())
