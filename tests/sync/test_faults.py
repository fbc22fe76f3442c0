"""Fault injection: randomised rounds of pushing through connections cut at every stage, a
server SIGKILLed mid-batch and restarted on the same database, and a client process SIGKILLed
mid-push and resumed by a new process. Then, set-wise against the server's database: every
revision the device saved is stored exactly once, every record's head is the device's latest
revision, nothing else is stored, and every record on the device ends `sent` with a receipt.

FIELDAPP_FAULT_ROUNDS sets the number of rounds (default 100); FIELDAPP_FAULT_SEED the seed.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from fieldapp.store import Store
from sync import RetryPolicy, SyncClient, SyncReport
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, attendance_values, screening_values
from tests.sync._harness import (
    Deployment,
    FaultProxy,
    ServerProcess,
    report_of,
    run_client_process,
    server_records,
)

ROUNDS = int(os.environ.get("FIELDAPP_FAULT_ROUNDS", "100"))
SEED = int(os.environ.get("FIELDAPP_FAULT_SEED", "20261128"))
FAST_RETRY = RetryPolicy(base_delay=0.005, max_delay=0.1, attempts=12)
SMALL_BATCH = 6 * 1024  # a few records per batch, so a kill lands between batches too


class Device:
    """The device under test, and every (id, revision) it ever finalised."""

    def __init__(self, store: Store, rng: random.Random) -> None:
        self.store = store
        self.rng = rng
        self.saved: set[tuple[str, str]] = set()

    def save(self, count: int) -> None:
        for _ in range(count):
            if self.rng.random() < 0.7:
                values = screening_values(case_notes=f"note {self.rng.random()}")
                record = self.store.records.create_final("victim_screening", values)
            else:
                values = attendance_values(participants=self.rng.randint(1, 4))
                record = self.store.records.create_final("training_attendance", values)
            self.saved.add((record.id, record.revision))

    def edit_a_sent_record(self) -> None:
        page = self.store.records.page(status="sent", limit=20)
        if not page.items:
            return
        record = self.store.records.get(self.rng.choice(page.items).id)
        if record.form_id == "victim_screening":
            values = {**record.values, "case_notes": f"follow-up {self.rng.random()}"}
        else:
            values = {**record.values, "venue": f"Room {self.rng.randint(1, 99)}"}
        edited = self.store.records.finalise(record.id, values)
        self.saved.add((edited.id, edited.revision))


def sync_until_done(client: SyncClient, attempts: int = 40) -> list[SyncReport]:
    reports = []
    for _ in range(attempts):
        reports.append(client.sync())
        if reports[-1].ok:
            return reports
    raise AssertionError(f"no clean sync after {attempts} tries: {reports[-1].errors}")


@pytest.mark.slow
def test_randomised_faults_lose_nothing_and_duplicate_nothing(
    device: Store, deployment: Deployment, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    phone = Device(device, rng)
    server = ServerProcess(deployment.settings, log_path=tmp_path / "server.log")
    server.start()
    proxy = FaultProxy(server.port, random.Random(SEED + 1), fault_rate=0.45)
    kinds: Counter[str] = Counter()
    interrupted: Counter[str] = Counter()  # kills that really landed mid-sync
    started = time.monotonic()
    try:
        for round_number in range(ROUNDS):
            kind = "proxy"
            if round_number % 5 == 4:  # every fifth round kills a process, alternately
                kind = ("server_kill", "client_kill")[(round_number // 5) % 2]
            kinds[kind] += 1
            if kind == "proxy":
                proxy_round(phone, proxy)
            elif kind == "server_kill":
                interrupted[kind] += server_kill_round(phone, server)
            else:
                interrupted[kind] += client_kill_round(phone, server)
        with SyncClient(device, server.url) as final:
            assert sync_until_done(final)[-1].ok
    finally:
        proxy.close()
        server.stop()

    assert sum(kinds.values()) >= ROUNDS
    assert set(proxy.cuts) == {"before_request", "after_request", "mid_response"}, proxy.cuts
    for kind in ("server_kill", "client_kill"):
        assert interrupted[kind] >= kinds[kind] / 2, (kind, interrupted)
    assert_exactly_once(phone, deployment)
    print(
        f"\n{ROUNDS} rounds {dict(kinds)}, interrupted {dict(interrupted)}, "
        f"cuts {dict(proxy.cuts)}, "
        f"{len(phone.saved)} revisions, {time.monotonic() - started:.0f} s"
    )


def proxy_round(phone: Device, proxy: FaultProxy) -> None:
    phone.save(phone.rng.randint(1, 10))
    if phone.rng.random() < 0.3:
        phone.edit_a_sent_record()
    with SyncClient(
        phone.store,
        proxy.url,
        max_batch_bytes=phone.rng.choice([SMALL_BATCH, 64 * 1024]),
        retry=RetryPolicy(base_delay=0.005, max_delay=0.05, attempts=3),
    ) as client:
        sync_until_done(client)


def server_kill_round(phone: Device, server: ServerProcess) -> bool:
    """Kill the server during a push; whether the push was cut short by it."""
    phone.save(phone.rng.randint(30, 60))
    results: list[SyncReport] = []
    with SyncClient(
        phone.store,
        server.url,
        max_batch_bytes=SMALL_BATCH,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05, attempts=3),
    ) as client:
        pushing = threading.Thread(target=lambda: results.append(client.sync()))
        pushing.start()
        wait_until(
            lambda: phone.store.records.count(status="queued") > 0 or not pushing.is_alive(),
            30,
            "the push to start",
            step=0.002,
        )
        time.sleep(phone.rng.uniform(0, 0.05))  # a push of 30-60 records takes ~0.1 s
        server.kill()  # SIGKILL, mid-batch or between batches
        pushing.join(60)
        server.start()  # same port, same database
        sync_until_done(client)
    return not results[0].ok


def client_kill_round(phone: Device, server: ServerProcess) -> bool:
    """Kill a client process during its push, resume in a new one; whether it was cut short."""
    phone.save(phone.rng.randint(30, 60))
    store_path = phone.store.path
    doomed = run_client_process(store_path, PASSPHRASE, server.url, max_batch_bytes=SMALL_BATCH)
    wait_until(
        lambda: phone.store.records.count(status="queued") > 0 or doomed.poll() is not None,
        60,
        "the client process to start pushing",
        step=0.002,
    )
    time.sleep(phone.rng.uniform(0, 0.1))
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    killed = doomed.returncode == -signal.SIGKILL
    resumed = run_client_process(store_path, PASSPHRASE, server.url, max_batch_bytes=SMALL_BATCH)
    result = report_of(resumed)
    assert resumed.returncode == 0 and result["ok"], result
    return killed


def assert_exactly_once(phone: Device, deployment: Deployment) -> None:
    stored = list(server_records(deployment))
    by_revision = Counter((record_id, revision) for record_id, revision, _ in stored)
    assert all(n == 1 for n in by_revision.values())
    assert set(by_revision) == phone.saved  # zero lost, zero extra
    assert {status for _, _, status in stored} == {"current"}  # no spurious conflicts
    heads = dict(deployment.query("SELECT id, head_revision FROM record_heads"))
    store = phone.store
    device_heads = {
        record_id: store.records.get(record_id).revision for record_id in store.records.ids()
    }
    assert heads == device_heads  # each record once, at the device's latest revision
    assert store.records.status_counts() == {"sent": len(device_heads)}
    missing = store.core.db.execute("SELECT count(*) FROM records WHERE receipt IS NULL").fetchone()
    assert missing[0] == 0
