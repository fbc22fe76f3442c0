"""The sync status the screens show, over a real store and the real server app on loopback
(started and stopped on one port, as a server going away and coming back): one truthful
snapshot, a worker that belongs to the process and outlives the pages that listen to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from fieldapp.i18n import words
from fieldapp.ui.services import Services, SyncStatus
from fieldapp.ui.state import AppState
from fieldapp.ui.widgets.sync_status import last_sync_line, link_line, waiting_line
from sync.server.app import create_app
from sync.server.serve import running_in_thread
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment, free_port

EN = words("en")


class Server:
    """The real server app on one loopback port, stopped and started again at will."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.port = free_port()
        self._running: AbstractContextManager[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._running = running_in_thread(create_app(self.deployment.settings), self.port)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None

    def received(self) -> int:
        [(count,)] = self.deployment.query("SELECT count(*) FROM records")
        return int(count)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[Server]:
    running = Server(deployment)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def open_services(data_dir: Path, server: Server, *, probe_interval: float = 0.2) -> Services:
    services = Services(data_dir, probe_interval=probe_interval)
    if services.device.state == "new":
        services.device.create(PASSPHRASE, PASSPHRASE)
        services.enrolment.enrol(server.url, server.deployment.code())
    else:
        services.unlock(PASSPHRASE)
    return services


@pytest.fixture
def services(tmp_path: Path, server: Server) -> Iterator[Services]:
    opened = open_services(tmp_path / "device", server)
    try:
        yield opened
    finally:
        opened.close()


def make_waiting(services: Services, count: int) -> list[str]:
    store = services.device.store
    return [
        store.records.create_final("victim_screening", screening_values(name=f"Fictional {i}")).id
        for i in range(count)
    ]


def listening_app(services: Services) -> AppState:
    """An app session subscribed to the sync status, as a page is."""
    app = AppState(services=services)
    app.go("home")
    services.sync.subscribe(app.on_sync_status)
    return app


def test_a_subscriber_that_raises_is_dropped_and_the_worker_goes_on_syncing(
    services: Services, server: Server
) -> None:
    wait_until(lambda: services.sync.status.last_success_at, 30, "the first sync")
    calls: list[SyncStatus] = []

    def closed_page(status: SyncStatus) -> None:
        calls.append(status)
        raise AttributeError("'NoneType' object has no attribute 'loop'")

    services.sync.subscribe(closed_page)
    app = listening_app(services)
    make_waiting(services, 2)

    wait_until(lambda: server.received() == 2, 30, "the server to receive both records")
    wait_until(lambda: app.sync.waiting == 0 and not app.sync.running, 30, "the page to hear")
    assert len(calls) == 1  # told once, dropped at its failure
    assert services.sync.subscribers == 1  # the page still listening
    assert services.sync.worker_alive
    assert app.counts.get("waiting", 0) == 0


def test_what_waits_is_counted_with_its_size_before_any_sync(
    services: Services, server: Server
) -> None:
    wait_until(lambda: services.sync.status.last_success_at, 30, "the first sync")
    server.stop()
    app = AppState(services=services)
    make_waiting(services, 2)
    app.go("sync")

    assert (app.sync.waiting, app.sync.running) == (2, False)
    assert app.sync.waiting_bytes > 1000  # two sealed, signed envelopes
    assert waiting_line(EN, app.sync).startswith("2 records wait to be sent · ")
    assert waiting_line(EN, app.sync) != "2 records wait to be sent · 0 B"


def test_an_automatic_sync_replaces_what_a_failed_sync_now_said(
    tmp_path: Path, server: Server
) -> None:
    """ "The server cannot be reached" must not stay beside records the worker sent since."""
    services = open_services(tmp_path / "device", server, probe_interval=0.2)
    try:
        wait_until(lambda: services.sync.status.last_success_at, 30, "the first sync")
        app = listening_app(services)
        server.stop()
        make_waiting(services, 2)
        app.sync_now()
        assert app.sync_message_key == "sync_unreachable"
        assert app.sync.online is False

        server.start()
        wait_until(lambda: server.received() == 2, 30, "the worker to send both")
        wait_until(lambda: app.sync.waiting == 0 and not app.sync.running, 30, "the page")
        assert app.sync_message_key == "sync_result"
        assert app.sync_message_params["sent"] == 2
        assert app.sync.online is True and app.sync.last_error is None
    finally:
        services.close()


def test_last_sync_is_the_latest_one(services: Services, server: Server) -> None:
    app = listening_app(services)
    wait_until(lambda: app.sync.last_success_at, 30, "the first sync")
    first = app.sync.last_success_at
    make_waiting(services, 1)
    app.sync_now()
    assert app.sync.last_success_at is not None and first is not None
    assert app.sync.last_success_at > first
    assert app.sync.last_success_at.isoformat() == services.device.last_sync_at
    app.go("home")
    assert app.sync.last_success_at.isoformat() == services.device.last_sync_at
    assert last_sync_line(EN, app.sync).startswith("Last sync: ")


def test_home_says_offline_once_a_sync_finds_the_server_gone(
    services: Services, server: Server
) -> None:
    app = listening_app(services)
    wait_until(lambda: app.sync.last_success_at, 30, "the first sync")
    assert app.sync.online is True
    server.stop()
    app.sync_now()
    assert app.sync.online is False
    assert link_line(EN, app.sync)[0].startswith("Offline · checked ")


def test_the_status_outlives_the_app(tmp_path: Path, server: Server) -> None:
    """The last successful sync, the last attempt and the last error are in the store."""
    services = open_services(tmp_path / "device", server, probe_interval=3600)
    try:
        wait_until(lambda: services.sync.status.last_success_at, 30, "the first sync")
        server.stop()
        make_waiting(services, 1)
        app = AppState(services=services)
        app.sync_now()
        before = services.sync.status
    finally:
        services.close()
    assert before.last_error == "the server is not reachable"
    assert before.last_attempt_at is not None and before.last_success_at is not None

    again = AppState(services=Services(tmp_path / "device", probe_interval=3600))
    try:
        assert again.device == "locked"
        kept = again.sync
        assert kept.last_success_at == before.last_success_at
        assert kept.last_attempt_at == before.last_attempt_at
        assert kept.last_error == before.last_error
        assert kept.waiting == 1
    finally:
        again.services.close()
