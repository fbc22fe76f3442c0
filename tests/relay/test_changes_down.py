"""What the centre decides about a record comes down hop by hop (issue #11): the office's
resolution of a conflict, and a consent withdrawal, reach the device that wrote the record
through a district relay under a regional one, each relay passing them on through its own
change log. Real servers on
loopback, each its own process."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.protocol import EnrolRequest, EnrolResponse, PushRequest
from sync.server import admin
from sync.server.storage import NotFound
from tests._wait import wait_until
from tests.conftest import screening_values
from tests.relay._harness import RelayProcess, device_at, sync_ok
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._records import copy_store


def _head_at_centre(deployment: Deployment, record_id: str) -> tuple[str, bool] | None:
    """The record's head revision at the centre and whether it is in conflict; None before
    the record reaches it."""
    with admin.open_server_storage(deployment.settings) as storage:
        try:
            head = storage.get_record(deployment.org_id, uuid.UUID(record_id))
        except NotFound:
            return None
    return head.head_revision, head.in_conflict


@pytest.mark.slow  # three servers: the full run only
def test_the_offices_resolution_at_the_centre_reaches_a_device_below_a_district_relay(
    tmp_path: Path,
    centre: tuple[Deployment, ServerProcess],
    relay: RelayProcess,
    district: RelayProcess,
) -> None:
    deployment, _ = centre
    phone = device_at(tmp_path, "phone", deployment, district)
    record = phone.records.create_final("victim_screening", screening_values())
    sync_ok(phone)
    tablet = copy_store(phone, tmp_path / "tablet" / "fieldapp.db")  # restored from backup
    edit_a = phone.records.finalise(record.id, {**record.values, "case_notes": "seen in A"})
    edit_b = tablet.records.finalise(record.id, {**record.values, "case_notes": "seen in B"})
    sync_ok(phone)
    sync_ok(tablet)
    wait_until(
        lambda: _head_at_centre(deployment, record.id) == (edit_a.revision, True),
        60, "the conflict at the centre",
    )  # fmt: skip

    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, record.id, edit_b.revision)

    def settled(store: Store) -> bool:
        sync_ok(store)
        return store.records.get(record.id).status == "sent"

    wait_until(lambda: settled(phone) and settled(tablet), 60, "the resolution on both copies")
    kept = tablet.records.get(record.id)
    assert (kept.base_revision, kept.problems) == (edit_b.revision, [])
    lost = phone.records.get(record.id)  # A's version, set aside: kept, and it says so
    assert (lost.revision, lost.base_revision) == (edit_a.revision, edit_b.revision)
    assert [problem["code"] for problem in lost.problems] == ["superseded"]

    # Each relay settled the record as the centre did: an edit on the kept version goes up
    # as an ordinary edit, no new conflict on the way.
    again = phone.records.finalise(record.id, {**lost.values, "case_notes": "A, on B's"})
    sync_ok(phone)
    assert phone.records.get(record.id).status == "sent"
    wait_until(
        lambda: _head_at_centre(deployment, record.id) == (again.revision, False),
        60, "the edit on the kept version at the centre",
    )  # fmt: skip
    tablet.close()


@pytest.mark.slow  # three servers: the full run only
def test_a_consent_withdrawal_at_the_centre_erases_every_copy_below_a_district_relay(
    tmp_path: Path,
    centre: tuple[Deployment, ServerProcess],
    relay: RelayProcess,
    district: RelayProcess,
) -> None:
    deployment, server = centre
    phone = device_at(tmp_path, "phone", deployment, district)
    record = phone.records.create_final("victim_screening", screening_values())
    sync_ok(phone)
    wait_until(lambda: _head_at_centre(deployment, record.id) == (record.revision, False), 60, "up")

    # The office of the region withdraws the person's consent at the centre: a withdrawal
    # signed by an admin device enrolled there.
    key = crypto.SigningKey.generate()
    office_id = str(uuid.uuid4())
    enrolled = httpx.post(
        f"{server.url}/v1/enrol",
        content=EnrolRequest(
            code=deployment.issue("admin", "north").code, device_id=office_id,
            device_public_key=key.public_key,
        ).model_dump_json(),
        headers={"Content-Type": "application/json"}, timeout=30,
    )  # fmt: skip
    token = EnrolResponse.model_validate_json(enrolled.content).token
    with admin.open_server_storage(deployment.settings) as storage:
        [stored] = storage.list_revisions(deployment.org_id, uuid.UUID(record.id))
    head = stored.to_envelope()
    unsigned = head.model_copy(
        update={"revision": f"2-{uuid.uuid4().hex}", "base_revision": head.revision,
                "device_id": office_id, "sealed": None, "consent_withdrawn": True,
                "match": [], "attachments": []}
    )  # fmt: skip
    withdrawal = unsigned.model_copy(update={"signature": key.sign(unsigned.signing_bytes())})
    pushed = httpx.post(
        f"{server.url}/v1/records:push",
        content=PushRequest(records=[withdrawal]).model_dump_json(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert pushed.json()["outcomes"][0]["status"] == "accepted", pushed.text

    def erased_on_phone() -> bool:
        sync_ok(phone)
        return phone.records.get(record.id).consent_withdrawn

    wait_until(erased_on_phone, 60, "the withdrawal on the device")
    # Each relay erased its copy of the sealed part too, as the centre did.
    for node in (relay, district):
        with sqlite3.connect(f"file:{node.data_dir / 'server.db'}?mode=ro", uri=True) as db:
            sealed = db.execute("SELECT sealed FROM records WHERE id = ?", (record.id,)).fetchall()
            [(withdrawn,)] = db.execute(
                "SELECT consent_withdrawn FROM record_heads WHERE id = ?", (record.id,)
            ).fetchall()
        assert sealed == [(None,)] and withdrawn
