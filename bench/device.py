"""On the device: autosave and finalise latency, the records list with many records, memory
while pushing.

    .venv/bin/python bench/device.py [--records 100000] [--finalise-samples 300]

1. Autosave latency, what every keystroke costs (`store.records.save_draft` of a whole
   record's answers on a draft: partial check, encrypt, durable commit), p50/p95.
2. Finalise-and-save latency, the user's tap on "Finalise" (`store.records.finalise` on a
   saved draft: validate, encrypt, HPKE-seal to the organisation's ML-KEM-768+X25519 key,
   sign, durable commit with synchronous=FULL), p50/p95, on the store exactly as the app
   uses it.
3. The records list's first screen (`records.page` of a status, 20 items, as the app's
   list; and `status_counts`, the app's tab badges), with 10,000 and `--records` records on
   the device: first call, then p50 of 30.
4. Client peak RSS (VmHWM) while pushing all of them to a real server process (SQLite,
   rate limit raised for one device): the sync runs in a fresh child process, so the
   figure is the sync's own, not the setup's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import (
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    machine,
    percentile,
    print_table,
    sample_records,
    vm_hwm_mb,
)
from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.settings import ServerSettings

LIST_PAGE = 20
LIST_REPEATS = 30


def autosave_latencies(store: Store, samples: int) -> dict[str, list[float]]:
    """Milliseconds of `save_draft` per form, each saving a whole record's answers on a draft
    started empty (not timed)."""
    result: dict[str, list[float]] = {}
    for form_id, values in sample_records(samples, seed=98):
        draft = store.records.new_draft(form_id)
        started = time.perf_counter()
        store.records.save_draft(draft.id, values)
        result.setdefault(form_id, []).append((time.perf_counter() - started) * 1000)
    return result


def latency_rows(latencies: dict[str, list[float]]) -> list[list[object]]:
    """One row per form, then all: n, p50, p95."""
    every = [ms for values in latencies.values() for ms in values]
    return [
        [form_id, len(values), f"{percentile(values, 50):.1f}", f"{percentile(values, 95):.1f}"]
        for form_id, values in [*latencies.items(), ("all", every)]
    ]


def finalise_latencies(store: Store, samples: int) -> dict[str, list[float]]:
    """Milliseconds of `finalise` per form, each on a draft saved beforehand (not timed)."""
    result: dict[str, list[float]] = {}
    for form_id, values in sample_records(samples, seed=99):
        draft = store.records.new_draft(form_id, values)
        started = time.perf_counter()
        store.records.finalise(draft.id, values)
        result.setdefault(form_id, []).append((time.perf_counter() - started) * 1000)
    return result


def list_timings(store: Store) -> list[tuple[str, float, float]]:
    """(what, first call ms, p50 ms) for the list's first screen."""
    calls = {
        f"records.page(status='final', limit={LIST_PAGE})":
            lambda: store.records.page(status="final", limit=LIST_PAGE),
        f"records.page(form_id=..., status='final', limit={LIST_PAGE})":
            lambda: store.records.page(form_id="victim_screening", status="final", limit=LIST_PAGE),
        "status_counts()": store.records.status_counts,
    }  # fmt: skip
    rows = []
    for name, call in calls.items():
        started = time.perf_counter()
        call()
        first = (time.perf_counter() - started) * 1000
        runs = []
        for _ in range(LIST_REPEATS):
            started = time.perf_counter()
            call()
            runs.append((time.perf_counter() - started) * 1000)
        rows.append((name, first, percentile(runs, 50)))
    return rows


def push_child(store_path: str) -> None:
    """The child: open the store, push everything, print its own counts and peak RSS."""
    store = Store(store_path)
    store.keyring.unlock(PASSPHRASE)
    started = time.perf_counter()
    with SyncClient(store) as client:
        report = client.sync()
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "accepted": report.accepted, "errors": report.errors[:3], "seconds": elapsed,
        "rss_mb": vm_hwm_mb(), "sent": store.records.count(status="sent"),
    }))  # fmt: skip
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--finalise-samples", type=int, default=300)
    parser.add_argument("--push-child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.push_child:
        push_child(options.push_child)
        return

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    count = options.records
    steps = sorted({min(10_000, count), count})
    records = sample_records(count)
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-device-"))
    lists: dict[int, list[tuple[str, float, float]]] = {}
    try:
        org_key = crypto.OrgKeyPair.generate()
        settings = ServerSettings(
            data_dir=workdir / "server" / "data",
            rate_limit_per_minute=1_000_000,
            rate_limit_burst=1_000_000,
        )
        deployment = Deployment(settings, org_key)
        store_path = workdir / "device" / "fieldapp.db"
        store = Store.create(store_path, PASSPHRASE)
        with ServerProcess(settings) as server:
            enrol(store, server.url, deployment.codes(1)[0])
            say(f"autosave and finalise latency, {options.finalise_samples} records each...")
            autosaves = autosave_latencies(store, options.finalise_samples)
            latencies = finalise_latencies(store, options.finalise_samples)
            done = 0
            for step in steps:
                say(f"finalising records on the device up to {step} (setup)...")
                fill_store(store, records[done:step], say=say)
                done = step
                lists[store.records.count()] = list_timings(store)
            store.close()
            say(
                f"pushing {store_path.stat().st_size / 1e6:.0f} MB of store from a child process..."
            )
            out = subprocess.run(
                [sys.executable, __file__, "--push-child", str(store_path)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            push = json.loads(out.stdout.strip().splitlines()[-1])
        held = len(deployment.stored_revisions())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{machine()}")
    print_table("autosave latency (ms)", ["form", "n", "p50", "p95"], latency_rows(autosaves))
    print_table(
        "finalise-and-save latency (ms)", ["form", "n", "p50", "p95"], latency_rows(latencies)
    )
    list_rows = [
        [f"{n:,} records", name, f"{first:.1f}", f"{p50:.2f}"]
        for n, timings in lists.items()
        for name, first, p50 in timings
    ]
    print_table(
        "records list, first screen (ms)", ["device holds", "call", "first", "p50"], list_rows
    )
    print_table(
        f"pushing {count:,} records (child process)",
        ["measure", "value"],
        [
            ["client peak RSS (VmHWM)", f"{push['rss_mb']:.0f} MB (target <= 200 MB)"],
            ["push time", f"{push['seconds']:.0f} s ({push['accepted'] / push['seconds']:.0f}/s)"],
            ["accepted / sent on device / held by server",
             f"{push['accepted']} / {push['sent']} / {held}"],
            ["errors", "; ".join(push["errors"]) or "none"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
