"""The connectivity monitor over a real client and the real server app (in-process)."""

from __future__ import annotations

import threading
import time

import httpx

from fieldapp.store import Store
from sync import MonitorState, SyncClient, SyncMonitor, SyncReport
from tests._wait import wait_until
from tests.sync._records import make_records


class CountingClient(SyncClient):
    """A real client that notes how many of its syncs overlap (there must never be two)."""

    def __init__(self, store: Store, transport: httpx.BaseTransport) -> None:
        super().__init__(store, transport=transport)
        self.active = 0
        self.most_at_once = 0
        self.syncs = 0
        self._count_lock = threading.Lock()

    def sync(self) -> SyncReport:
        with self._count_lock:
            self.active += 1
            self.syncs += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            time.sleep(0.05)
            return super().sync()
        finally:
            with self._count_lock:
                self.active -= 1


def test_the_monitor_syncs_on_request_and_never_runs_two_syncs_at_once(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    client = CountingClient(device, transport=app_transport)
    states: list[MonitorState] = []
    monitor = SyncMonitor(client, probe_interval=0.05, on_state=states.append)
    monitor.start()
    try:
        assert monitor.sync_now(wait=True, timeout=30) is not None  # the first, on start-up
        make_records(device, 3)
        requests = [
            threading.Thread(target=monitor.sync_now, kwargs={"wait": True, "timeout": 30})
            for _ in range(8)
        ]
        for thread in requests:
            thread.start()
        for thread in requests:
            thread.join()
        report = monitor.sync_now(wait=True, timeout=30)
    finally:
        monitor.stop()

    assert report is not None and report.ok
    assert device.records.status_counts() == {"sent": 3}
    assert client.most_at_once == 1
    assert client.syncs < 8 + 3  # concurrent requests were joined, not run one by one
    assert any(state.running for state in states)
    assert monitor.state.online is True
    assert monitor.state.last_sync_at is not None and not monitor.state.running


def test_the_monitor_outlives_a_listener_that_raises_and_keeps_syncing(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    """A listener that raises (a browser page closed under it) is logged, never the end of the
    monitor: records made afterwards still go with no one asking."""
    heard: list[MonitorState] = []

    def closed_page(state: MonitorState) -> None:
        heard.append(state)
        raise AttributeError("'NoneType' object has no attribute 'loop'")

    client = SyncClient(device, transport=app_transport)
    monitor = SyncMonitor(client, probe_interval=0.05, on_state=closed_page)
    monitor.start()
    try:
        wait_until(lambda: monitor.state.last_sync_at is not None, 30, "the first sync")
        make_records(device, 2)
        wait_until(lambda: device.records.count(status="sent") == 2, 30, "the records to go")
        assert monitor.alive
    finally:
        monitor.stop()
        client.close()
    assert len(heard) > 2


def test_offline_probes_stay_seconds_apart_while_records_wait() -> None:
    """The server's return is noticed within seconds while records wait; with nothing to
    send the probes may space out further, to spare the battery."""
    monitor = SyncMonitor(lambda: SyncClient.__new__(SyncClient), probe_interval=30.0)
    interval = monitor.probe_interval
    for _ in range(10):
        interval = monitor.next_interval(interval, online=False, waiting=True)
    assert interval <= 3.0
    for _ in range(10):
        interval = monitor.next_interval(interval, online=False, waiting=False)
    assert interval == monitor.max_offline_interval > 3.0
    assert monitor.next_interval(interval, online=True, waiting=True) == monitor.probe_interval
