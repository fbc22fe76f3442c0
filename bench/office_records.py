"""The office's records list: is page 1,000 as fast as page 1 over 100,000 records?

    .venv/bin/python bench/office_records.py [--records 100000] [--postgres URL]

Stores the records through `Storage.push_records` (batches of 500, as devices push them, from
four devices in two regions), then times `Storage.office_records` (the query behind
`GET /v1/office/records`): page 1 and page 1,000 of 100 records, newest first, walking the
keyset cursor to get there; the same filtered by form, and by region. Each figure is the best
of 5 runs. SQLite in a temporary directory, and PostgreSQL when a URL is given (a fresh
schema, dropped afterwards, ANALYZEd after the load as autovacuum would). Also shows the plan
SQLite chooses for the unfiltered page. The machine's other work shows in the figures: compare
page 1 with page 1,000 of the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from sync.server.storage import OfficeFilter, Storage, open_storage
from tests.server.storage._support import Member

PAGE = 100
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def fill(storage: Storage, n: int) -> tuple[Member, list[Member]]:
    org = storage.create_organisation("Bench", NOW).id
    members = [Member(storage, org, "collector", region) for region in ("north", "south") * 2]
    started = time.perf_counter()
    for start in range(0, n, 500):
        member = members[(start // 500) % len(members)]
        form = "victim_screening" if (start // 500) % 3 else "training_attendance"
        batch = [
            member.envelope(record_id=uuid.uuid4(), form_id=form, stats={"n": start + i})
            for i in range(min(500, n - start))
        ]
        storage.push_records(member.device, batch, NOW + timedelta(seconds=start))
    print(f"  stored {n:,} records in {time.perf_counter() - started:.1f} s")
    return Member(storage, org, "coordinator", None), members


def best(work: Any, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def page_times(storage: Storage, office: Member, query: OfficeFilter, label: str) -> None:
    after = None
    cursors: list[int | None] = [None]
    for _ in range(999):
        page = storage.office_records(office.device, query, after, PAGE)
        if page.next_after is None:
            break
        after = page.next_after
        cursors.append(after)
    last = cursors[-1]
    first_ms = best(lambda: storage.office_records(office.device, query, None, PAGE))
    last_ms = best(lambda: storage.office_records(office.device, query, last, PAGE))
    print(f"  {label:<28} page 1: {first_ms:6.2f} ms   page {len(cursors):,}: {last_ms:6.2f} ms")


def run(url: str, n: int) -> None:
    storage = open_storage(url)
    storage.migrate()
    try:
        office, _ = fill(storage, n)
        if url.startswith("postgres"):
            import psycopg

            # What autovacuum does soon after a bulk load: without statistics the planner
            # guesses the tables' sizes.
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE records")
                conn.execute("ANALYZE record_heads")
        page_times(storage, office, OfficeFilter(), "all records")
        page_times(
            storage, office, OfficeFilter(form_id="victim_screening"), "form victim_screening"
        )
        page_times(storage, office, OfficeFilter(region="south"), "region south")
        if url.startswith("sqlite"):
            import sqlite3

            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT h.id FROM record_heads h WHERE h.org_id = ?"
                " AND h.head_seq IS NOT NULL AND h.head_seq < ? ORDER BY h.head_seq DESC"
                " LIMIT 101",
                ("x", 10),
            ).fetchall()
            conn.close()
            print("  plan:", "; ".join(str(row[-1]) for row in plan))
    finally:
        storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, help="postgresql://... (a schema is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite, {args.records:,} records, pages of {PAGE}")
        run(f"sqlite:///{tmp}/server.db", args.records)
    if args.postgres:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
            try:
                sep = "&" if "?" in args.postgres else "?"
                print(f"PostgreSQL, {args.records:,} records, pages of {PAGE}")
                run(f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args.records)
            finally:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
