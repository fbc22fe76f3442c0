"""A fleet syncing at once: 200 devices against `fieldapp serve` on PostgreSQL.

    .venv/bin/python bench/fleet.py [--devices 200] [--records-per-device 50]
        [--database-url URL] (default: a throwaway database on 127.0.0.1:5432, dropped after)

Each device is its own store file (enrolled with its own one-time code, its records
finalised: validated, encrypted, sealed, signed) and its own keep-alive httpx client; all
start their sync at the same moment from a pool of threads in this process (the machine
has few cores: the devices share them with the server). `fieldapp serve` runs as its own
process with its production defaults (rate limits included). Afterwards the server's
database is checked set-wise against every device's records: zero lost, zero duplicated.
Prints the latency of every push request (batch) at p50/p95/p99 and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

import httpx

from bench._common import (
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    machine,
    percentile,
    print_table,
    sample_records,
    temp_postgres,
)
from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, SyncReport, enrol
from sync.server.settings import ServerSettings


class TimedTransport(httpx.HTTPTransport):
    """Times each push request from sending it to the last byte of its answer."""

    def __init__(self, latencies: list[float], lock: threading.Lock) -> None:
        super().__init__()
        self.latencies, self.lock = latencies, lock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        if request.url.path.endswith("records:push"):
            response.read()
            with self.lock:
                self.latencies.append(time.perf_counter() - started)
        return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--records-per-device", type=int, default=50)
    parser.add_argument("--database-url", default="", help="default: a throwaway database")
    options = parser.parse_args()

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    devices, per_device = options.devices, options.records_per_device
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-fleet-"))
    database = nullcontext(options.database_url) if options.database_url else temp_postgres()
    try:
        with database as database_url:
            org_key = crypto.OrgKeyPair.generate()
            settings = ServerSettings(
                data_dir=workdir / "server" / "data", database_url=database_url
            )
            deployment = Deployment(settings, org_key)
            codes = deployment.codes(devices)
            records = sample_records(devices * per_device)
            with ServerProcess(settings, cli=True) as server:
                say(f"{devices} devices: creating stores, enrolling, finalising records...")
                started = time.perf_counter()

                def prepare(index: int) -> Store:
                    store = Store.create(
                        workdir / f"device-{index:03d}" / "fieldapp.db", PASSPHRASE
                    )
                    enrol(store, server.url, codes[index], label=f"bench device {index}")
                    fill_store(store, records[index * per_device : (index + 1) * per_device])
                    return store

                with ThreadPoolExecutor(max_workers=4) as pool:
                    stores = list(pool.map(prepare, range(devices)))
                say(f"  ready in {time.perf_counter() - started:.0f} s; syncing all at once...")
                expected: set[tuple[str, str | None]] = set()
                for store in stores:
                    after = ""
                    while page := store.outbox.pending(after=after, limit=1000):
                        expected.update((entry.record_id, entry.revision) for entry in page)
                        after = page[-1].record_id

                latencies: list[float] = []
                lock = threading.Lock()
                gate = threading.Barrier(devices)

                def sync(store: Store) -> SyncReport:
                    timed = TimedTransport(latencies, lock)
                    with timed, SyncClient(store, transport=timed, timeout=60) as client:
                        gate.wait()
                        return client.sync()

                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=devices) as pool:
                    reports = list(pool.map(sync, stores))
                elapsed = time.perf_counter() - started
                server_rss = server.peak_rss_mb()
            held = deployment.stored_revisions()
            not_sent = sum(
                s.records.count(status="final") + s.records.count(status="queued") for s in stores
            )
            for store in stores:
                store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    total = devices * per_device
    lost = len(expected - set(held))
    duplicated = len(held) - len(set(held))
    unexpected = len(set(held) - expected)
    failed = [r for r in reports if not r.ok]
    latencies_ms = sorted(x * 1000 for x in latencies)
    print(f"\n{devices} devices x {per_device} records = {total} records; {machine()}")
    print_table(
        "fleet sync against `fieldapp serve` on PostgreSQL",
        ["measure", "value"],
        [
            ["wall time, all devices", f"{elapsed:.1f} s ({total / elapsed:.0f} records/s)"],
            ["push requests (batches)", f"{len(latencies_ms)}"],
            ["batch latency p50", f"{percentile(latencies_ms, 50):.0f} ms"],
            ["batch latency p95", f"{percentile(latencies_ms, 95):.0f} ms"],
            ["batch latency p99", f"{percentile(latencies_ms, 99):.0f} ms"],
            ["batch latency max", f"{latencies_ms[-1]:.0f} ms" if latencies_ms else "-"],
            ["server peak RSS (VmHWM)", f"{server_rss:.0f} MB"],
            [
                "accepted / duplicate (retries)",
                f"{sum(r.accepted for r in reports)} / {sum(r.duplicate for r in reports)}",
            ],
            ["devices whose sync reported errors", f"{len(failed)}"],
            ["records still waiting on devices", f"{not_sent}"],
            ["lost (on a device, not on the server)", f"{lost}"],
            ["duplicated (same id+revision twice)", f"{duplicated}"],
            ["on the server but from no device", f"{unexpected}"],
        ],
    )
    if failed:
        print("first errors:", failed[0].errors[:3])
    ok = not (lost or duplicated or unexpected or failed or not_sent)
    print("\nresult:", "OK: zero lost, zero duplicated" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
