"""Push and pull throughput of fieldapp's own sync client and server over loopback.

    .venv/bin/python bench/sync.py [--records 100000] [--batch-kib 256]

A device store gets N finalised victim-screening records (sealed to an ML-KEM-768+X25519
organisation key and signed, as in the field); a real `fieldapp serve` process (uvicorn,
SQLite, every check on: auth, signatures, stats validation, audit, signed receipts) runs on
127.0.0.1. The push is timed from the sync's start to its last batch; the pull is a second
sync from cursor 0 (every change the device may see: one per record, plus the forms).
The server's rate limit is raised for the run (one device pushing 100,000 records would
otherwise be throttled, as it should be). Every server started is stopped.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment, ServerProcess

NAMES = ["Sokha", "Dara", "Mealea", "Vannak", "Sreymom", "Piseth", "Chantha", "Rithy"]


def make_records(store: Store, count: int) -> float:
    """N screening records with varied values; returns the seconds it took (setup only)."""
    started = time.perf_counter()
    for index in range(count):
        name = f"{NAMES[index % len(NAMES)]} {index}"
        store.records.create_final(
            "victim_screening", screening_values(name, case_code=f"KH-2026-{index:05d}")
        )
        if index and index % 10_000 == 0:
            print(f"  {index} records made", flush=True)
    return time.perf_counter() - started


def envelope_bytes(store: Store) -> int:
    total, after = 0, ""
    while page := store.outbox.pending(after=after, limit=1000):
        total += sum(len(entry.envelope) for entry in page)
        after = page[-1].record_id
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-kib", type=int, default=256)
    options = parser.parse_args()
    count = options.records

    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-"))
    server: ServerProcess | None = None
    try:
        org_key = crypto.OrgKeyPair.generate()
        deployment = Deployment.create(
            workdir / "server" / "data",
            org_key,
            rate_limit_per_minute=1_000_000,
            rate_limit_burst=1_000_000,
        )
        server = ServerProcess(deployment.settings)
        server.start()
        store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
        enrol(store, server.url, deployment.code())
        print(f"making {count} victim-screening records on the device...", flush=True)
        setup = make_records(store, count)
        json_bytes = envelope_bytes(store)

        last_batch = [0.0]

        def progress(done: int, total: int, sent: int) -> None:
            last_batch[0] = time.perf_counter()

        with SyncClient(
            store, max_batch_bytes=options.batch_kib * 1024, on_progress=progress
        ) as client:
            started = time.perf_counter()
            first = client.sync()
            push_seconds = last_batch[0] - started
            store.settings.set("cursor", "0")
            started = time.perf_counter()
            pull = client.sync()
            pull_seconds = time.perf_counter() - started
        for report in (first, pull):
            if not report.ok:
                raise SystemExit(f"sync failed: {report.errors[:3]}")
        assert first.accepted == count and store.records.count(status="sent") == count
        rows = deployment.query("SELECT count(*) FROM records")[0][0]
        assert rows == count, f"the server holds {rows} records, expected {count}"

        per_record = count or 1
        rows_out = [
            ("setup: records finalised on the device", f"{count / setup:10.0f} rec/s"),
            (
                "push (client -> server, receipts checked)",
                f"{count / push_seconds:10.0f} rec/s  ({push_seconds:.1f} s, "
                f"{first.requests} requests)",
            ),
            (
                "pull (changes from cursor 0)",
                f"{pull.pulled / pull_seconds:10.0f} rec/s  ({pull_seconds:.1f} s, "
                f"{pull.pulled} changes)",
            ),
            ("envelope JSON per record", f"{json_bytes / per_record:10.0f} B"),
            (
                "push bytes on the wire per record (gzip)",
                f"{first.bytes_sent / per_record:10.0f} B  "
                f"({first.bytes_sent / json_bytes:.2f}x the JSON)",
            ),
            (
                "pull bytes on the wire per change",
                f"{pull.bytes_received / max(1, pull.pulled):10.0f} B",
            ),
            (
                "client peak RSS",
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:10.0f} MB",
            ),
        ]
        print(f"\nfieldapp sync over loopback (SQLite server), {count} records")
        for label, value in rows_out:
            print(f"{label:44} {value}")
        print("(wire bytes: HTTP bodies as sent or received, headers not counted)")
        store.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
