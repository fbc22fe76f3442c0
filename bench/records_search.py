"""The records list's search and filters (issue #15) on a device holding many records.

    .venv/bin/python bench/records_search.py [--records 1000]

The form, status and day filters are the store's (an index, nothing decrypted); words of a
case code or title are looked for in each candidate's title, decrypted one at a time. So a
search costs one decryption per record of the status group searched: this measures the first
page of each kind of query, as the list asks for it at each keystroke (p50 of 10), with the
waiting group holding `--records` victim records.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import PASSPHRASE, fill_store, machine, percentile, print_table
from fieldapp.ui.services import RecordQuery, Services
from tests.conftest import screening_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "device")
        services.device.create(PASSPHRASE, PASSPHRASE)
        codes = [f"KH-2026-{n:05d}" for n in range(args.records)]
        fill_store(
            services.device.store,
            [("victim_screening", screening_values(case_code=code)) for code in codes],
        )
        today = date.today()
        queries = {
            "waiting, no words": RecordQuery(group="waiting"),
            "waiting, form and today": RecordQuery(
                group="waiting", form_id="victim_screening", since=today, until=today
            ),
            "words matching one record": RecordQuery(group="waiting", text=codes[0]),
            "words matching every record": RecordQuery(group="waiting", text="kh-2026"),
        }
        rows = []
        for name, query in queries.items():
            times = []
            for _ in range(10):
                started = time.perf_counter()
                page = services.records.search(query, limit=20)
                total = services.records.count_matching(query)
                times.append((time.perf_counter() - started) * 1000)
            rows.append([name, len(page.items), total, f"{percentile(times, 50):.1f}"])
        services.close()
    print(machine())
    print_table(
        f"Records list search, {args.records} records (first page of 20 and the total)",
        ["query", "listed", "total", "p50 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
