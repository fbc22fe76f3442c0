"""Regional offices (issue #11): devices sync with a relay (`fieldapp serve --upstream URL
--enrol-code CODE`) that forwards their envelopes, unchanged, to the centre. Real servers on
loopback, each its own process, stopped by the test."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient, enrol
from tests._wait import wait_until
from tests.conftest import CANARY, PASSPHRASE
from tests.relay._harness import RelayProcess, code_at_relay
from tests.sync._harness import REPO, Deployment, ServerProcess
from tests.sync._records import make_records

FAST = RetryPolicy(base_delay=0.01, max_delay=0.2, attempts=3)


@pytest.fixture
def centre(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[tuple[Deployment, ServerProcess]]:
    deployment = Deployment.create(tmp_path / "centre" / "data", org_key)
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield deployment, process
    finally:
        process.stop()


@pytest.fixture
def relay(tmp_path: Path, centre: tuple[Deployment, ServerProcess]) -> Iterator[RelayProcess]:
    deployment, server = centre
    code = deployment.issue("relay", region="north").code
    process = RelayProcess(tmp_path / "relay", server.url, code)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _device(tmp_path: Path, name: str, deployment: Deployment, relay: RelayProcess) -> Store:
    store = Store.create(tmp_path / f"{name}.db", PASSPHRASE)
    enrol(store, relay.url, code_at_relay(deployment, relay), retry=FAST)
    return store


def _sync(store: Store, url: str | None = None) -> None:
    with SyncClient(store, url, retry=FAST) as client:
        report = client.sync()
    assert report.ok, report.errors


def _at_centre(deployment: Deployment) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in deployment.query("SELECT id, revision FROM records")]


def test_records_reach_the_centre_once_through_the_relay_signed_by_the_device(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    device = _device(tmp_path, "trainer", deployment, relay)
    ids = make_records(device, 6)
    _sync(device)

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
    from sync.server import admin

    with admin.open_server_storage(deployment.settings) as storage:
        for record_id in ids:
            [revision] = storage.list_revisions(deployment.org_id, __import__("uuid").UUID(record_id))
            envelope = revision.to_envelope()
            crypto.verify(bytes(key), envelope.signature, envelope.signing_bytes())

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
