"""The client against `python -m sync.server` as its own uvicorn process: the offline to
online round trip with no user action, the checkpoint under a lost answer, and the canary scan
of the server's files and logs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from fieldapp.store import Store
from sync import RetryPolicy, SyncClient, SyncMonitor
from tests._wait import wait_until
from tests.conftest import CANARY, attendance_values, screening_values
from tests.sync._harness import Deployment, FaultProxy, ServerProcess, free_port
from tests.sync._records import make_records


def test_records_saved_offline_reach_the_server_when_it_comes_up_with_no_user_action(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet: the server is down
    ids = make_records(device, 6)
    assert device.records.status_counts() == {"final": 6}
    monitor = SyncMonitor(
        lambda: SyncClient(device, f"http://127.0.0.1:{port}"),
        probe_interval=0.1,
        probe_timeout=0.5,
        max_offline_interval=0.8,
    )
    server = ServerProcess(deployment.settings, port, module_cli=True)
    monitor.start()
    try:
        wait_until(lambda: monitor.state.online is False, 10, "the monitor to see it offline")
        assert device.records.status_counts() == {"final": 6}

        server.start()  # `python -m sync.server --data-dir ... --port ...`
        wait_until(lambda: device.records.count(status="sent") == 6, 30, "the records to be sent")
    finally:
        monitor.stop()
        server.stop()

    assert monitor.state.online is True and monitor.state.last_sync_at is not None
    on_server = dict(deployment.query("SELECT id, revision FROM records"))
    assert on_server == {record_id: device.records.get(record_id).revision for record_id in ids}


def test_records_pushed_without_an_answer_stay_queued_and_go_again_as_duplicates(
    device: Store, deployment: Deployment, server: ServerProcess
) -> None:
    """The checkpoint advances only on an acknowledgement: the server stored the batch, the
    answer was cut, so nothing is marked sent; the next push gets `duplicate` receipts."""
    ids = make_records(device, 5)
    proxy = FaultProxy(server.port, random.Random(7), fault_rate=1.0)
    proxy.rng = _Always("after_request")
    try:
        with SyncClient(device, proxy.url, retry=RetryPolicy(0.01, 0.02, attempts=3)) as cut:
            report = cut.sync()
    finally:
        proxy.close()

    assert not report.ok and "could not be reached" in report.errors[0]
    assert proxy.cuts["after_request"] == 3
    assert device.records.status_counts() == {"queued": 5}  # nothing marked sent
    assert deployment.query("SELECT count(*) FROM records") == [(5,)]  # yet the server has them

    with SyncClient(device, server.url) as direct:
        again = direct.sync()
    assert (again.duplicate, again.accepted) == (5, 0)
    assert device.records.status_counts() == {"sent": 5}
    assert deployment.query("SELECT count(*) FROM records") == [(5,)]
    assert sorted(r[0] for r in deployment.query("SELECT id FROM records")) == sorted(ids)


class _Always(random.Random):
    """A proxy 'random' source that always draws the same fault (a deterministic cut)."""

    def __init__(self, fault: str) -> None:
        super().__init__(0)
        self.fault = fault

    def random(self) -> float:
        return 0.0

    def choice(self, seq: Sequence[str]) -> str:  # type: ignore[override]
        assert self.fault in seq
        return self.fault


@pytest.mark.parametrize("kind", ["screening", "attendance"])
def test_after_a_full_sync_the_server_files_and_logs_hold_no_canary(
    kind: str, device: Store, deployment: Deployment, server: ServerProcess
) -> None:
    for index in range(5):
        if kind == "screening":
            device.records.create_final("victim_screening", screening_values(f"{CANARY}{index}"))
        else:
            device.records.create_final(
                "training_attendance", attendance_values(CANARY, participants=3)
            )
    with SyncClient(device, server.url) as client:
        report = client.sync()
    assert report.accepted == 5
    server.stop()  # flush everything: logs closed, WAL checkpointed

    files = [p for p in deployment.settings.data_dir.rglob("*") if p.is_file()]
    files.append(server.log_path)
    assert any(p.name == "server.db" for p in files)
    assert server.log_path.stat().st_size > 0  # the server did log (access lines)
    for path in files:
        content = path.read_bytes().lower()
        assert CANARY.lower().encode() not in content, f"{path.name} holds a canary"
