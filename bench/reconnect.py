"""Reconnect latency: how long after the server comes back every waiting record is on it, with
no one asking.

    .venv/bin/python bench/reconnect.py [--runs 5] [--records 5] [--cap 3.0]

Each run: a device (the app's `Services`, as `fieldapp app` runs it: probes every 30 s while
online) enrolled with a real `fieldapp serve` process on 127.0.0.1; the server stops, records
are finalised, and the device's sync worker finds it offline and backs off for a random 4 to
12 s; then the server starts again on the same port. Timed from the moment the server answers
its health check to the moment it holds every record. `--cap` is the backoff's cap while
records wait (300 is what it was before issue #15: no cap below the offline one). Every
server started is stopped.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldapp import crypto
from fieldapp.ui.services import Services
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment, ServerProcess


def one_run(work: Path, records: int, cap: float, rng: random.Random) -> float:
    deployment = Deployment.create(work / "server", crypto.OrgKeyPair.generate("X25519"))
    server = ServerProcess(deployment.settings, fieldapp_cli=True)
    server.start()
    services = Services(work / "device")
    services.sync.max_waiting_interval = cap
    try:
        services.device.create(PASSPHRASE, PASSPHRASE)
        services.enrolment.enrol(server.url, deployment.code())
        server.stop()
        for index in range(records):
            services.device.store.records.create_final(
                "victim_screening", screening_values(f"Bench {index}")
            )
        time.sleep(rng.uniform(4, 12))  # offline a while: the worker backs off
        server.start()  # returns once the server answers its health check
        up = time.monotonic()
        deadline = up + 600
        while deployment.query("SELECT count(*) FROM records") != [(records,)]:
            if time.monotonic() > deadline:
                raise SystemExit("the records never reached the server")
            time.sleep(0.02)
        return time.monotonic() - up
    finally:
        services.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=5)
    parser.add_argument("--cap", type=float, default=3.0, help="backoff cap while records wait")
    options = parser.parse_args()
    rng = random.Random(15)  # timing, not secrets
    times = []
    for run in range(options.runs):
        with tempfile.TemporaryDirectory(prefix="fieldapp-reconnect-") as work:
            seconds = one_run(Path(work), options.records, options.cap, rng)
        times.append(seconds)
        print(f"run {run + 1}: {options.records} records on the server {seconds:.2f} s after it")
    print(
        f"server up -> all records synced, {options.runs} runs (cap {options.cap:g} s):"
        f" median {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )


if __name__ == "__main__":
    main()
