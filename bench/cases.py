"""A case's timeline on a device holding many cases (issue #14).

    .venv/bin/python bench/cases.py [--cases 200] [--services 5]

A service links to its case by an id that is sealed, so finding a case's services decrypts
the link of every service record on the device once (one query, then one AES-GCM opening
each; kept in memory by record version). This measures the first timeline after the device
filled (every link opened) and the next ones (p50 of 10), side by side with reading the same
services by their ids (what an index in clear would cost, and would tell anyone with the file
which records belong together), and opening a case with its services (each service
re-finalises the case).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import PASSPHRASE, machine, percentile, print_table
from fieldapp.store import Store

_TYPES = ("shelter", "psychosocial", "medical", "legal", "reintegration")


def _fill(store: Store, cases: int, services: int) -> list[str]:
    start = date(2026, 1, 5)
    ids = []
    with store.batch():
        for n in range(cases):
            case = store.cases.open(assigned_worker=f"Worker {n % 7}", identified_on=start)
            for s in range(services):
                kind = _TYPES[s % len(_TYPES)]
                day = start + timedelta(days=1 + 3 * s)
                end = day + timedelta(days=20) if kind == "shelter" else None
                store.cases.add_service(
                    case.id, service_type=kind, start_date=day, end_date=end, provider="NGO"
                )
            ids.append(case.id)
    return ids


def _p50(action: Callable[[], object]) -> float:
    times = []
    for _ in range(10):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--services", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.create(Path(tmp) / "fieldapp.db", PASSPHRASE)
        filled = 0
        for size in sorted({max(1, args.cases // 10), args.cases}):
            started = time.perf_counter()
            ids = _fill(store, size - filled, args.services)
            per_case = (time.perf_counter() - started) * 1000 / max(1, size - filled)
            filled = size
            last = ids[-1]
            started = time.perf_counter()
            wanted = [last, *(s.id for s in store.cases.timeline(last).services)]
            first = (time.perf_counter() - started) * 1000
            linked = _p50(lambda last=last: store.cases.timeline(last))
            direct = _p50(lambda wanted=wanted: [store.records.get(i) for i in wanted])
            rows.append(
                [
                    size,
                    size * args.services,
                    f"{per_case:.1f}",
                    f"{first:.1f}",
                    f"{linked:.1f}",
                    f"{direct:.1f}",
                    f"{linked / direct:.1f}",
                ]
            )
        store.close()
    print(machine())
    print_table(
        "A case's timeline (p50 of 10) as the device fills",
        [
            "cases",
            "services",
            "open+services ms/case",
            "first timeline ms",
            "timeline ms",
            "by ids ms",
            "ratio",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
