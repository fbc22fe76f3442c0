"""Storage failing on either side of a sync, against the real server app (uvicorn in a
thread, real HTTP): a server whose database cannot write says so on `GET /v1/health`
(`degraded`) and refuses pushes with 503, and devices keep their records until it can; a
device whose storage fills up mid-sync loses nothing and sends everything once space returns.

Both databases are made full for real: their connections may not grow them by one page
(SQLite's PRAGMA max_page_count), so SQLite answers "database or disk is full"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from fieldapp.errors import StorageFull
from fieldapp.store import Store
from fieldapp.ui.services import Services
from sync import SyncClient, SyncMonitor, enrol
from sync.server.app import create_app
from sync.server.storage.sqlite import SqliteStorage
from tests.conftest import PASSPHRASE, screening_values
from tests.server._harness import running
from tests.sync._harness import Deployment
from tests.test_store_failures import MANY, make_full

ONE_BATCH = 16 * 2**20  # every record in one push, so one mark_queued and one outcome write


class FillableStorage(SqliteStorage):
    """The server's real SQLite storage, made full on demand: while `full`, each connection
    may not grow the database (VACUUM having used up its free pages first)."""

    full = False

    def make_full(self) -> None:
        with sqlite3.connect(self._path) as conn:
            conn.execute("VACUUM")
        self.full = True

    def _connection(self) -> sqlite3.Connection:
        conn = super()._connection()
        cap = conn.execute("PRAGMA page_count").fetchone()[0] if self.full else 2**30
        conn.execute(f"PRAGMA max_page_count = {cap}")
        return conn


@pytest.fixture
def server(deployment: Deployment) -> Iterator[tuple[FillableStorage, str]]:
    storage = FillableStorage(deployment.db_path)
    try:
        with running(create_app(deployment.settings, storage=storage)) as url:
            yield storage, url
    finally:
        storage.close()


def finals(store: Store, count: int) -> dict[str, str]:
    made = [
        store.records.create_final("victim_screening", screening_values()) for _ in range(count)
    ]
    return {record.id: record.revision for record in made}


def statuses(store: Store, ids: Mapping[str, str]) -> set[str]:
    return {store.records.get(record_id).status for record_id in ids}


# -- the server cannot write ----------------------------------------------------------------


def test_a_server_that_cannot_write_says_degraded_refuses_pushes_and_recovers(
    server: tuple[FillableStorage, str],
    deployment: Deployment,
    store: Store,
    app_transport: httpx.BaseTransport,
    app_http: httpx.Client,
) -> None:
    storage, url = server
    enrol(store, url, deployment.code(), transport=app_transport)
    records = finals(store, 20)
    assert app_http.get(f"{url}/v1/health").json() == {"status": "ok", "protocol": 1}
    storage.make_full()
    health = app_http.get(f"{url}/v1/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "protocol": 1,
        "reason": "the database is at its size limit",
    }
    with SyncClient(store, transport=app_transport) as client:
        assert client.probe() and client.health().status == "degraded"  # up, cannot write
        report = client.sync()  # as a client that never looks at the health pushes anyway
        assert report.sent == 0
        assert report.errors == [
            "the server cannot store records right now: they stay on this device and go at"
            " a later sync"
        ]
        assert statuses(store, records) == {"queued"}
        storage.full = False
        assert app_http.get(f"{url}/v1/health").json()["status"] == "ok"
        assert client.sync().sent == len(records)
    assert statuses(store, records) == {"sent"}


def test_the_monitor_keeps_records_while_the_server_cannot_write(
    server: tuple[FillableStorage, str],
    deployment: Deployment,
    store: Store,
    app_transport: httpx.BaseTransport,
) -> None:
    storage, url = server
    enrol(store, url, deployment.code(), transport=app_transport)
    records = finals(store, 5)
    storage.make_full()
    with SyncClient(store, transport=app_transport) as client:
        monitor = SyncMonitor(client, probe_interval=0.05, max_offline_interval=0.2)
        monitor.start()
        try:
            assert monitor.sync_now(wait=True, timeout=60) is None  # no sync was tried
            state = monitor.state
            assert state.online is True
            assert state.last_error == (
                "the server cannot store records now (the database is at its size limit):"
                " they stay here"
            )
            assert statuses(store, records) == {"final"}  # never even marked as leaving
            storage.full = False
            report = monitor.sync_now(wait=True, timeout=60)
            assert report is not None and report.sent == len(records)
        finally:
            monitor.stop()


def test_the_app_says_the_server_cannot_store_records_now(
    server: tuple[FillableStorage, str], deployment: Deployment, tmp_path: Path
) -> None:
    storage, url = server
    services = Services(tmp_path / "device", probe_interval=3600)
    try:
        services.device.create(PASSPHRASE, PASSPHRASE)
        services.enrolment.enrol(url, deployment.code())
        assert (
            services.sync.sync_now().ok
        )  # the monitor's first sync is over: it sleeps until asked
        storage.make_full()
        record = services.device.store.records.create_final("victim_screening", screening_values())
        outcome = services.sync.sync_now()
        assert (outcome.ok, outcome.message_key) == (False, "server_degraded")
        assert services.records.get(record.id).status == "final"
    finally:
        services.close()


# -- the device fills up --------------------------------------------------------------------


class FillsUp:
    """A real store whose disk fills up right after records are marked as leaving, while
    `after_queuing` is set: the server gets them, their outcomes cannot be written."""

    def __init__(self, store: Store) -> None:
        self.after_queuing = False
        marking = store.outbox.mark_queued

        def mark_queued(revisions: Mapping[str, str]) -> set[str]:
            marked = marking(revisions)
            if self.after_queuing:
                make_full(store)
            return marked

        store.outbox.mark_queued = mark_queued  # type: ignore[method-assign]


def test_a_device_that_fills_up_mid_sync_loses_nothing_and_sends_everything_later(
    server: tuple[FillableStorage, str],
    deployment: Deployment,
    tmp_path: Path,
    app_transport: httpx.BaseTransport,
) -> None:
    _, url = server
    store = Store.create(tmp_path / "device" / "fieldapp.db", PASSPHRASE)
    fills_up = FillsUp(store)
    enrol(store, url, deployment.code(), transport=app_transport)
    records = finals(store, MANY)
    outbox = store.outbox.pending(limit=1000)
    with SyncClient(store, transport=app_transport, max_batch_bytes=ONE_BATCH) as client:
        before = make_full(store)
        with pytest.raises(StorageFull, match=r"^the device storage is full"):
            client.sync()  # marking them as leaving: they stay final, nothing was sent
        assert statuses(store, records) == {"final"} and store.outbox.pending(limit=1000) == outbox
        store.core.db.execute(f"PRAGMA max_page_count = {before}")
        fills_up.after_queuing = True
        with pytest.raises(StorageFull):
            client.sync()  # the server took them; writing its answers failed
        assert statuses(store, records) == {"queued"}
        fills_up.after_queuing = False
        store.core.db.execute(f"PRAGMA max_page_count = {before}")
        report = client.sync()  # sent again: the server knows them, nothing is doubled
    assert (report.accepted, report.duplicate, report.errors) == (0, MANY, [])
    assert statuses(store, records) == {"sent"}
    store.close()
