"""Through a regional relay: what a device's push to the relay costs, and how fast the relay
forwards to the centre, against a device pushing to the centre itself.

    .venv/bin/python bench/relay.py [--records 2000]

A centre (`fieldapp serve`, SQLite) and a relay (`fieldapp serve --upstream URL
--enrol-code CODE`, SQLite, forwarding every 0.2 s), each its own process on 127.0.0.1. One
device enrolled at the relay finalises `--records` victim screenings and syncs; timed: the
device's sync (every record receipted by the relay), then until the centre holds every
record (the relay's forwarding: verify, push upstream, verify the receipts). Then the same
records from a second device straight to the centre, for comparison, and the bytes the
relay sent upstream per record. Every server started is stopped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, screening_values
from tests.relay._harness import RelayProcess, code_at_relay
from tests.sync._harness import Deployment, ServerProcess


def _device(path: Path, url: str, code: str, records: int) -> Store:
    store = Store.create(path, PASSPHRASE)
    enrol(store, url, code)
    for _ in range(records):
        store.records.create_final("victim_screening", screening_values())
    return store


def _sync(store: Store) -> tuple[float, int]:
    started = time.perf_counter()
    with SyncClient(store) as client:
        report = client.sync()
    assert report.ok, report.errors
    return time.perf_counter() - started, report.bytes_sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        centre = Deployment.create(work / "centre" / "data", crypto.OrgKeyPair.generate())
        server = ServerProcess(centre.settings)
        server.start()
        relay = RelayProcess(work / "relay", server.url, centre.issue("relay", region="n").code)
        try:
            relay.start()
            via_relay = _device(
                work / "a.db", relay.url, code_at_relay(centre, relay), args.records
            )
            direct = _device(work / "b.db", server.url, centre.code(), args.records)

            def at_centre() -> int:
                return int(centre.query("SELECT count(*) FROM records")[0][0])

            pushed, device_bytes = _sync(via_relay)
            started = time.perf_counter()
            wait_until(lambda: at_centre() >= args.records, 600, "every record at the centre")
            forwarded = pushed + time.perf_counter() - started
            straight, direct_bytes = _sync(direct)
        finally:
            relay.stop()
            server.stop()
    n = args.records
    print(f"records: {n} victim screenings, SQLite at the relay and at the centre")
    print("| path | seconds | records/s | device bytes sent per record |")
    print("|---|---:|---:|---:|")
    rate, per_record = n / pushed, device_bytes / n
    print(f"| device -> relay (receipted) | {pushed:.2f} | {rate:,.0f} | {per_record:,.0f} |")
    rate = n / forwarded
    print(f"| device -> relay -> centre (all at the centre) | {forwarded:.2f} | {rate:,.0f} | |")
    per_record = direct_bytes / n
    print(f"| device -> centre | {straight:.2f} | {n / straight:,.0f} | {per_record:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
