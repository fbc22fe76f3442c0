"""Enrolling at a relay while its line to the centre is down (issue #11): the centre issues
codes for the relay, which takes only their hashes while online; a device enrols at the relay
with one while the centre is away, syncs there, and once the line is back the relay passes
the enrolment up with a proof that the device gave the code; the centre takes it for its
own codes only, once, and verifies the device's records with the device's own key. Real
servers on loopback, each its own process, the centre stopped for part of each test."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import EnrolRefused, enrol
from sync.relay import RelayIdentity
from sync.server import admin
from sync.server.auth import enrol_code_hash
from tests._wait import wait_until
from tests.conftest import PASSPHRASE
from tests.relay._harness import (
    FAST,
    RelayProcess,
    centre_device,
    code_at_relay,
    refusal,
    secrets_of,
    sync_ok,
    verified_at_centre,
)
from tests.sync._harness import REPO, Deployment, ServerProcess
from tests.sync._records import make_records
from tests.sync.test_team_roster import files_holding


def _relay_holds(relay: RelayProcess, code: str) -> bool:
    """The relay has taken the code (by hash) to check while its upstream is away."""
    with sqlite3.connect(f"file:{relay.data_dir / 'server.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT relay_id FROM enrol_codes WHERE code_hash = ?", (enrol_code_hash(code),)
        ).fetchone()
    return row is not None and row[0] == relay.device_id


@pytest.mark.slow  # the centre stopped and started again: the full run only
def test_a_device_enrolled_at_the_relay_offline_is_taken_by_the_centre_once_the_line_is_back(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    # `fieldapp admin enrol-code --relay ID --count 2` at the centre: two codes for the relay.
    out = subprocess.run(
        [sys.executable, "-m", "fieldapp", "--data-dir", str(deployment.settings.data_dir),
         "admin", "enrol-code", "--org", deployment.org_id, "--role", "collector",
         "--relay", relay.device_id, "--count", "2", "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    used, unused = (issued["code"] for issued in json.loads(out))
    wait_until(lambda: _relay_holds(relay, used) and _relay_holds(relay, unused), 30, "codes")

    server.stop()  # the line to the centre is down
    device = Store.create(tmp_path / "offline.db", PASSPHRASE)
    enrol(device, relay.url, used, retry=FAST)
    ids = make_records(device, 3)
    sync_ok(device)
    assert device.records.status_counts() == {"sent": 3}
    # The same code again at the relay: refused by name, whoever types it.
    assert refusal(relay.url, used) == (409, "enrol_code_used")
    # A code the centre never issued for this relay cannot be checked: the relay says so.
    stranger = deployment.issue("collector", "north").code
    assert refusal(relay.url, stranger) == (503, "upstream_unreachable")

    relay.stop()  # so the centre is back before the relay passes anything up
    server.start()
    # At the centre, a code issued for the relay is refused, used there or not yet.
    assert refusal(server.url, used) == (403, "enrol_code_for_relay")
    assert refusal(server.url, unused) == (403, "enrol_code_for_relay")
    relay.start()

    # The centre knows the device by the key the device itself made, through this relay,
    # and each record's signature verifies with it.
    verified_at_centre(deployment, device, ids, relay)
    # Used once: a second device with the same code, at the relay or the centre, is refused.
    assert refusal(relay.url, used) == (409, "enrol_code_used")
    assert refusal(server.url, used) == (409, "enrol_code_used")
    with pytest.raises(EnrolRefused):
        enrol(Store.create(tmp_path / "late.db", PASSPHRASE), relay.url, used, retry=FAST)
    # The relay held the codes by hash only: never a code, its secret, or its proof key.
    for code in (used, unused):
        for needle in secrets_of(code):
            assert files_holding(relay.data_dir, needle) == []
            assert needle.encode() not in relay.log_path.read_bytes()


@pytest.mark.slow  # the centre and the relays stopped and started again: the full run only
def test_the_centre_refuses_a_code_used_at_two_relays_and_a_revoked_relays_enrolments(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    other = RelayProcess(
        tmp_path / "relay2", server.url, deployment.issue("relay", region="north").code
    ).start()
    try:
        first, second = code_at_relay(deployment, relay), code_at_relay(deployment, relay)
        wait_until(lambda: _relay_holds(relay, second), 30, "the codes at the relay")
        # Another relay of the region never gets this relay's codes, and the centre refuses
        # them through it.
        assert not _relay_holds(other, first)
        assert refusal(other.url, first) == (403, "enrol_code_other_relay")

        server.stop()
        early = Store.create(tmp_path / "early.db", PASSPHRASE)
        enrol(early, relay.url, first, retry=FAST)
        pending = Store.create(tmp_path / "pending.db", PASSPHRASE)
        enrol(pending, relay.url, second, retry=FAST)
        make_records(pending, 2)
        sync_ok(pending)
        relay.stop()
        server.start()
        # The relay is revoked at the centre before it can pass its enrolments up.
        with admin.open_server_storage(deployment.settings) as storage:
            admin.revoke(storage, relay.device_id)
        relay.start()
        wait_until(
            lambda: b"upstream round failed" in relay.log_path.read_bytes(), 30, "a refused round"
        )
        # Neither device exists at the centre, nor any record of theirs.
        assert centre_device(deployment, early.device_id) is None
        assert centre_device(deployment, pending.device_id) is None
        assert deployment.query("SELECT count(*) FROM records") == [(0,)]
        # And the code stays refused at the other relay, by name.
        assert refusal(other.url, second) == (403, "enrol_code_other_relay")
    finally:
        other.stop()


def test_an_enrolment_passed_up_without_the_code_is_refused(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    """A relay holds a code's hash, not the code: it cannot make the proof for a device that
    never typed it, nor pass up a code issued for another relay."""
    deployment, server = centre
    code = code_at_relay(deployment, relay)
    relay_token = _relay_token(relay)
    phantom = crypto.SigningKey.generate().public_key
    body = {
        "device_id": str(uuid.uuid4()),
        "device_public_key": base64.b64encode(phantom).decode(),
        "device_label": "phantom",
        "code_hash": enrol_code_hash(code),
        "proof": hashlib.sha256(enrol_code_hash(code).encode()).hexdigest(),
        "enrolled_at": "2026-12-05T00:00:00Z",
    }
    response = httpx.post(
        f"{server.url}/v1/relay/enrolments",
        json=body,
        headers={"Authorization": f"Bearer {relay_token}"},
        timeout=30,
    )
    assert (response.status_code, response.json()["error"]) == (403, "enrol_proof_invalid")
    assert centre_device(deployment, body["device_id"]) is None
    # The code is still good for the device that has it, at the relay.
    device = Store.create(tmp_path / "real.db", PASSPHRASE)
    enrol(device, relay.url, code, retry=FAST)
    assert centre_device(deployment, device.device_id) is not None


def _relay_token(relay: RelayProcess) -> str:
    identity = RelayIdentity.load(relay.data_dir)
    assert identity is not None
    return identity.token
