"""What the centre decides about a record comes down hop by hop (issue #11): the office's
resolution of a conflict reaches the device that wrote the record through a district relay
under a regional one, each relay passing it on through its own change log. Real servers on
loopback, each its own process."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fieldapp.store import Store
from sync.server import admin
from tests._wait import wait_until
from tests.conftest import screening_values
from tests.relay._harness import RelayProcess, device_at, sync_ok
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._records import copy_store


def _head_at_centre(deployment: Deployment, record_id: str) -> tuple[str, bool]:
    with admin.open_server_storage(deployment.settings) as storage:
        head = storage.get_record(deployment.org_id, uuid.UUID(record_id))
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
