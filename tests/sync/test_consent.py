"""Consent withdrawn, end to end (security check 19): a synced victim record, edited on two
copies of the device (a conflict on the server), has its consent withdrawn on one; after the
next syncs no byte of any of its sealed versions is left in the server's database files, and
the other copy has erased its own. Every step is checked where it happens, so the test fails
if any one of them (device erasure, server erasure, the pull on the other copy) is skipped."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from fieldapp.store import Store
from sync import SyncClient, enrol
from sync.server import admin
from sync.server.storage import StatsRow
from tests._wait import wait_until
from tests.conftest import CANARY, screening_values
from tests.security.canary import scan_paths
from tests.sync._harness import Deployment, Rewriting, ServerProcess
from tests.sync.test_client import copy_store
from tests.test_consent import IDENTIFYING, Traces, store_files


def sealed_on_server(deployment: Deployment, record_id: str) -> dict[str, bytes | None]:
    rows = deployment.query("SELECT revision, sealed FROM records WHERE id = ?", (record_id,))
    return {revision: None if sealed is None else bytes(sealed) for revision, sealed in rows}


def server_traces(deployment: Deployment, fragments: list[bytes]) -> list[str]:
    """Which of the server's database files hold which fragment."""
    return [
        f"{path.name}#{index}"
        for path in store_files(deployment.db_path)
        for index, fragment in enumerate(fragments)
        if fragment in path.read_bytes()
    ]


def test_withdrawing_consent_erases_the_record_on_the_server_and_on_every_copy(
    store: Store,
    store_path: Path,
    deployment: Deployment,
    server: ServerProcess,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    enrol(store, server.url, deployment.code(), transport=app_transport)
    record = store.records.create_final("victim_screening", screening_values())
    phone_traces = Traces(store, record.id)
    with SyncClient(store, transport=app_transport) as phone:
        assert phone.sync().accepted == 1
    tablet_path = tmp_path / "tablet" / "fieldapp.db"
    tablet = copy_store(store, tablet_path)  # a second copy of the device holds the record
    try:
        store.records.finalise(
            record.id, {**record.values, "case_notes": f"{CANARY}, on the phone"}
        )
        phone_traces.note()
        tablet.records.finalise(
            record.id, {**record.values, "case_notes": f"{CANARY}, on the tablet"}
        )
        tablet_traces = Traces(tablet, record.id)
        with SyncClient(store, transport=app_transport) as phone:
            assert phone.sync().accepted == 1
        with SyncClient(tablet, transport=app_transport) as other:
            assert other.sync().conflict == 1
        stored = sealed_on_server(deployment, record.id)
        assert len(stored) == 3 and all(stored.values())  # v1, the head, its sibling
        fragments = [sealed[40:80] for sealed in stored.values() if sealed is not None]
        assert len({t.split("#")[1] for t in server_traces(deployment, fragments)}) == 3

        # Step 1, on the phone: erased at once, a withdrawal waits in the outbox.
        withdrawn = store.consent.withdraw(record.id)
        assert phone_traces.found_in(store_path) == []
        assert withdrawn.status == "final"

        # Step 2, the phone syncs: the server erases every version, the conflict included.
        with SyncClient(store, transport=app_transport) as phone:
            report = phone.sync()
        assert report.ok and report.accepted == 1, report.errors
        assert store.records.get(record.id).status == "sent"
        after = sealed_on_server(deployment, record.id)
        assert set(after) == {*stored, withdrawn.revision}
        assert set(after.values()) == {None}
        assert deployment.query(
            "SELECT consent_withdrawn, in_conflict FROM record_heads WHERE id = ?", (record.id,)
        ) == [(1, 0)]
        assert server_traces(deployment, fragments) == []
        hits, scanned = scan_paths(store_files(deployment.db_path), CANARY)
        assert hits == [] and scanned > 0

        # Step 3, the tablet syncs: it learns by pull and erases its copy.
        assert tablet_traces.found_in(tablet_path)  # still there until it syncs
        with SyncClient(tablet, transport=app_transport) as other:
            report = other.sync()
        assert report.ok and report.erased == 1, report.errors
        copy = tablet.records.get(record.id)
        assert (copy.status, copy.revision, copy.consent_withdrawn) == (
            "sent",
            withdrawn.revision,
            True,
        )
        assert not set(IDENTIFYING) & set(copy.values) and copy.values["sex"] == "female"
        assert tablet_traces.found_in(tablet_path) == []
        for path in (store_path, tablet_path):
            assert scan_paths(store_files(path), CANARY)[0] == []
    finally:
        tablet.close()

    with admin.open_server_storage(deployment.settings) as storage:  # the office still counts it
        assert StatsRow(deployment.org_id, "victim_screening", "current", 1) in storage.stats()


def test_a_record_withdrawn_while_its_batch_waits_to_leave_is_not_sent(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport
) -> None:
    """The sync prepares the next batch while the current one is on the wire; consent is
    withdrawn in between: the prepared envelope, sealed, must not leave."""
    first, second = sorted(
        device.records.create_final("victim_screening", screening_values()).id for _ in range(2)
    )
    withdrawn = threading.Event()

    def withdraw_while_the_first_batch_is_sent(request: httpx.Request) -> httpx.Request:
        if request.url.path.endswith("/v1/records:push") and not withdrawn.is_set():
            wait_until(
                lambda: device.records.get(second).status == "queued",
                30,
                "the next batch to be ready",
            )
            device.consent.withdraw(second)
            withdrawn.set()
        return request

    with (
        Rewriting(on_request=withdraw_while_the_first_batch_is_sent) as withdrawing,
        # one record a batch
        SyncClient(device, transport=withdrawing, max_batch_bytes=1024) as client,
    ):
        report = client.sync()

    assert withdrawn.is_set() and report.ok, report.errors
    assert report.accepted == 1 and device.records.get(first).status == "sent"
    assert sealed_on_server(deployment, second) == {}  # its sealed envelope never left
    with SyncClient(device, transport=app_transport) as client:
        assert client.sync().accepted == 1  # the withdrawal goes at the next sync
    [(revision, sealed)] = sealed_on_server(deployment, second).items()
    assert (revision, sealed) == (device.records.get(second).revision, None)
