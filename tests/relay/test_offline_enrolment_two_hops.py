"""Enrolling below a district relay while the centre is away (issue #11): the centre binds
codes to the district relay, the regional relay takes them (by hash) while online and hands
them down; a device enrols at the district relay with the centre down; the enrolment goes up
hop by hop, kept at the regional relay with the district relay's proof until the line is
back; the centre checks the proof as for one hop. Real servers on loopback, each its own
process."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import enrol
from sync.protocol import RelayEnrolment
from sync.relay import RelayIdentity
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
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._records import make_records
from tests.sync.test_team_roster import files_holding


def _bound_at(node: RelayProcess, code: str) -> str | None:
    """The relay a node holds the code for (by hash), None if it does not hold it."""
    with sqlite3.connect(f"file:{node.data_dir / 'server.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT relay_id FROM enrol_codes WHERE code_hash = ?", (enrol_code_hash(code),)
        ).fetchone()
    return None if row is None else row[0]


def _records_at(node: RelayProcess) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{node.data_dir / 'server.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT id, device_id FROM records").fetchall()


@pytest.mark.slow  # three servers, the centre stopped and started again: the full run only
def test_a_device_enrols_below_a_district_relay_with_the_centre_away_and_the_centre_decides(
    tmp_path: Path,
    centre: tuple[Deployment, ServerProcess],
    relay: RelayProcess,
    district: RelayProcess,
) -> None:
    deployment, server = centre
    regional = relay
    # `fieldapp admin enrol-code --relay DISTRICT_ID` at the centre.
    used, unused = code_at_relay(deployment, district), code_at_relay(deployment, district)
    # The regional relay takes them for the district relay, which takes them as its own.
    for code in (used, unused):
        wait_until(lambda c=code: _bound_at(district, c) == district.device_id, 30, "codes")
        assert _bound_at(regional, code) == district.device_id

    server.stop()  # the centre is away: the regional relay's upstream
    phone = Store.create(tmp_path / "phone.db", PASSPHRASE)
    enrol(phone, district.url, used, retry=FAST)
    ids = make_records(phone, 3)
    sync_ok(phone)
    # Passed up hop by hop: the regional relay keeps the enrolment (it cannot check the
    # proof) and takes the records while the centre is still away.
    wait_until(lambda: len(_records_at(regional)) == 3, 30, "the records at the regional relay")
    assert {device for _, device in _records_at(regional)} == {phone.device_id}
    # The code is used once: again at the district relay, or typed at the regional relay
    # (whose codes it is not), it is refused by name.
    assert refusal(district.url, used) == (409, "enrol_code_used")
    assert refusal(regional.url, used) == (403, "enrol_code_other_relay")
    assert refusal(regional.url, unused) == (403, "enrol_code_other_relay")

    server.start()

    # The centre took the device with the key the device itself made, through the regional
    # relay, and each record verifies with that key.
    verified_at_centre(deployment, phone, ids, regional)
    assert ("relay_enrol", "ok:offline") in set(
        deployment.query("SELECT action, outcome FROM audit WHERE device_id = ?",
                         (phone.device_id,))
    )  # fmt: skip
    # Used at one relay, the code is refused at the centre and at the regional relay, and
    # the unused one is still only the district relay's.
    assert refusal(server.url, used) == (409, "enrol_code_used")
    assert refusal(regional.url, used) in {(409, "enrol_code_used"),
                                            (403, "enrol_code_other_relay")}  # fmt: skip
    assert refusal(regional.url, unused) == (403, "enrol_code_other_relay")
    late = Store.create(tmp_path / "late.db", PASSPHRASE)
    enrol(late, district.url, unused, retry=FAST)
    assert centre_device(deployment, late.device_id) is not None
    # Neither relay held a code, its secret or its proof key: hashes only.
    for node in (regional, district):
        for code in (used, unused):
            for needle in secrets_of(code):
                assert files_holding(node.data_dir, needle) == []


@pytest.mark.slow  # three servers: the full run only
def test_the_regional_relay_keeps_an_enrolment_it_cannot_check_and_the_centre_refuses_it(
    centre: tuple[Deployment, ServerProcess], relay: RelayProcess, district: RelayProcess
) -> None:
    """A regional relay never holds a proof key: it takes a district relay's enrolment on the
    rules it can check and passes it up; an enrolment whose proof the device never made (here
    posted with the district relay's own token) is refused at the centre, and the device is
    revoked at the regional relay, its records never accepted."""
    deployment, _ = centre
    regional = relay
    code = code_at_relay(deployment, district)
    regional_code = code_at_relay(deployment, regional)
    wait_until(lambda: _bound_at(regional, code) == district.device_id, 30, "the code")
    wait_until(lambda: _bound_at(regional, regional_code) == regional.device_id, 30, "its own")
    identity = RelayIdentity.load(district.data_dir)
    assert identity is not None
    phantom = str(uuid.uuid4())
    body = RelayEnrolment(
        device_id=phantom,
        device_public_key=crypto.SigningKey.generate().public_key,
        code_hash=enrol_code_hash(code),
        proof=hashlib.sha256(b"not made from the code").hexdigest(),
        enrolled_at=datetime.now(UTC),
    )
    # Another relay's code, passed up by the district relay: refused by name at once.
    stranger = body.model_copy(update={"code_hash": enrol_code_hash(regional_code)})

    def post(enrolment: RelayEnrolment) -> httpx.Response:
        return httpx.post(
            f"{regional.url}/v1/relay/enrolments", content=enrolment.model_dump_json(),
            headers={"Authorization": f"Bearer {identity.token}",
                     "Content-Type": "application/json"}, timeout=30,
        )  # fmt: skip

    refused = post(stranger)
    assert (refused.status_code, refused.json()["error"]) == (403, "enrol_code_other_relay")
    kept = post(body)
    assert kept.status_code == 200, kept.text

    def revoked_at_regional() -> bool:
        with sqlite3.connect(f"file:{regional.data_dir / 'server.db'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT revoked_at FROM devices WHERE id = ?", (phantom,)).fetchone()
        return row is not None and row[0] is not None

    wait_until(revoked_at_regional, 30, "the refusal at the regional relay")
    assert centre_device(deployment, phantom) is None
    assert ("relay_enrol", "refused:enrol_proof_invalid") in set(
        deployment.query("SELECT action, outcome FROM audit WHERE action = 'relay_enrol'")
    )
