"""What each backend does of its own: which URLs open one, PostgreSQL's connection pool, and
how erased sealed bytes leave its files (SQLite's write-ahead log, PostgreSQL's table and log
files)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync.server.storage import StorageError, open_storage
from sync.server.storage.postgres import PostgresStorage, _wait_for_older_transactions
from tests.server.storage._support import (
    NOW,
    Member,
    revision,
)


def test_open_storage_refuses_unknown_urls() -> None:
    with pytest.raises(StorageError):
        open_storage("mysql://localhost/db")
    with pytest.raises(StorageError):
        open_storage("sqlite:///")


@pytest.mark.postgres
def test_a_postgresql_thread_finding_no_free_connection_is_refused_after_a_bounded_wait(
    pg_schema_url: str,
) -> None:
    storage = PostgresStorage(pg_schema_url, pool_size=1, pool_wait_seconds=0.2)
    try:
        storage.migrate()
        busy = pytest.raises(StorageError, match="no database connection became free")
        with storage._read(), busy:  # the pool's only connection is in use
            storage.list_organisations()
        assert storage.list_organisations() == []  # free again once it came back
    finally:
        storage.close()
    with pytest.raises(StorageError, match="storage is closed"):
        storage.list_organisations()


def test_a_postgresql_database_out_of_reach_says_so_at_once() -> None:
    """Not after the pool's wait, in the pool's words: at the first use, in psycopg's."""
    storage = open_storage("postgresql://postgres@127.0.0.1:1/fieldapp")
    assert isinstance(storage, PostgresStorage)
    try:
        with pytest.raises(psycopg.OperationalError, match=r"127\.0\.0\.1"):
            storage.migrate()
    finally:
        storage.close()


def test_erased_sealed_bytes_leave_the_sqlite_files(tmp_path: Any) -> None:
    """SQLite only: secure_delete and a truncated write-ahead log leave no erased byte in
    the database files, for a sealed part stored in its row or on overflow pages."""
    path = tmp_path / "server.db"
    storage = open_storage(f"sqlite:///{path}")
    try:
        storage.migrate()
        alice = Member(storage, storage.create_organisation("Org", NOW).id, "collector", None)
        small, large = secrets.token_bytes(300), secrets.token_bytes(9000)
        v1 = alice.envelope(sealed=small)
        v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision, sealed=large)
        storage.push_records(alice.device, [v1], NOW)
        storage.push_records(alice.device, [v2], NOW)
        files = [path, path.with_name("server.db-wal"), path.with_name("server.db-shm")]

        def traces() -> list[str]:
            fragments = [small[100:140], large[:40], large[4500:4540], large[-40:]]
            return [
                f"{file.name}@{index}"
                for file in files
                if file.exists()
                for index, fragment in enumerate(fragments)
                if fragment in file.read_bytes()
            ]

        assert len({trace.split("@")[1] for trace in traces()}) == 4  # the scan sees them
        withdrawal = alice.envelope(
            record_id=v1.id, rev=revision(3), base=v2.revision, withdrawn=True
        )
        storage.push_records(alice.device, [withdrawal], NOW)
        assert traces() == []
    finally:
        storage.close()
    assert traces() == []


class PostgresFiles:
    """Reads what a PostgreSQL server on this machine keeps on disk for the test's schema:
    the files of `records` and of its TOAST table, and the write-ahead log written between
    two points. The test runs as root beside the server; elsewhere it skips."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.root = Path(self.one("SHOW data_directory"))
        if not os.access(self.root, os.R_OK):
            pytest.skip(f"PostgreSQL's data directory {self.root} is not readable here")

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def checkpoint(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def tables(self) -> bytes:
        """The files of `records` and of its TOAST table as they are on disk (after a
        checkpoint: until then, a page may be newer in shared memory only)."""
        self.checkpoint()
        paths = [
            self.one("SELECT pg_relation_filepath('records')"),
            self.one(
                "SELECT pg_relation_filepath(reltoastrelid) FROM pg_class"
                " WHERE oid = 'records'::regclass"
            ),
        ]
        files = [self.root / path for path in paths]
        files += [file.with_name(f"{file.name}.{n}") for file in files for n in range(1, 9)]
        return b"".join(file.read_bytes() for file in files if file.exists())

    def wal_position(self) -> str:
        return str(self.one("SELECT pg_current_wal_lsn()::text"))

    def wal_since(self, start: str) -> bytes:
        """The write-ahead log written from `start` up to now."""
        end = self.wal_position()
        segment = int(
            self.one("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
        )
        spans: list[bytes] = []
        position = start
        while self.one("SELECT %s::pg_lsn < %s::pg_lsn", (position, end)):
            name, offset = self.one(
                "SELECT row(file_name, file_offset) FROM pg_walfile_name_offset(%s::pg_lsn)",
                (position,),
            )
            stop = int(self.one("SELECT %s::pg_lsn - %s::pg_lsn", (end, position))) + int(offset)
            data = (self.root / "pg_wal" / name).read_bytes()
            spans.append(data[int(offset) : min(stop, segment)])
            position = self.one(
                "SELECT (%s::pg_lsn + (%s - %s))::text", (position, segment, int(offset))
            )
        return b"".join(spans)


@pytest.mark.postgres
def test_the_rewrite_waits_for_a_snapshot_begun_later_that_still_sees_older_rows(
    pg_schema_url: str,
) -> None:
    """A transaction begun after the erasure, while an older one still ran, takes the older
    one's id as its xmin, so VACUUM FULL would keep what it erased: the rewrite waits for it
    too, not only for transactions begun before it (CI once failed the erasure test so)."""
    older = psycopg.connect(pg_schema_url)
    later = psycopg.connect(pg_schema_url)
    older.execute("BEGIN")
    older.execute("SELECT pg_current_xact_id()")  # holds an id the erasure came after
    done = threading.Event()

    def rewrite_wait() -> None:
        with psycopg.connect(pg_schema_url, autocommit=True) as conn:
            _wait_for_older_transactions(conn)
        done.set()

    waiting = threading.Thread(target=rewrite_wait)
    try:
        waiting.start()
        time.sleep(0.3)  # the wait has begun
        later.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        later.execute("SELECT 1")  # its snapshot's xmin: the older transaction's id
        older.commit()
        assert not done.wait(0.8), "the wait ended though a later snapshot sees older rows"
        later.commit()
        assert done.wait(15)
    finally:
        waiting.join(15)
        older.close()
        later.close()


def _other_transactions(url: str) -> list[tuple[Any, ...]]:
    """The cluster's other open transactions (what VACUUM FULL must keep row versions for):
    named in a failure, as another test's transaction once outlasted the erasure's wait."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, datname, application_name, state, now() - xact_start,"
            " left(query, 80) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND xact_start IS NOT NULL"
        ).fetchall()


@pytest.mark.postgres
@pytest.mark.parametrize("older_transaction", [False, True])
def test_erased_sealed_bytes_leave_the_postgresql_files(
    pg_schema_url: str, older_transaction: bool
) -> None:
    """PostgreSQL: after a withdrawal the sealed bytes are in neither the files of `records`
    nor its TOAST table, for a sealed part stored in its row or out of line, nor in the
    write-ahead log written after the erasure. Also while another session's transaction begun
    before the erasure still runs (seen in CI: VACUUM FULL copies every row version such a
    transaction may see, so the rewrite waits for it to end)."""
    if older_transaction:
        other = psycopg.connect(pg_schema_url)
        other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        other.execute("SELECT pg_current_xact_id()")
        ends = threading.Timer(1.0, other.commit)
        ends.start()
    disk = PostgresFiles(pg_schema_url)
    storage = open_storage(pg_schema_url)
    try:
        storage.migrate()
        alice = Member(storage, storage.create_organisation("Org", NOW).id, "collector", None)
        # Stored out of line (TOAST), and in the row: the last row of its page, so that rows
        # moved up when the page is compacted do not happen to cover all of it.
        large, small = secrets.token_bytes(9000), secrets.token_bytes(1200)
        toasted, inline = alice.envelope(sealed=large), alice.envelope(sealed=small)
        storage.push_records(alice.device, [toasted], NOW)
        storage.push_records(alice.device, [inline], NOW)
        fragments = [large[:64], large[4500:4564], large[-64:], small[:64], small[100:164]]

        def traces(data: bytes) -> list[int]:
            return [index for index, fragment in enumerate(fragments) if fragment in data]

        assert traces(disk.tables()) == [0, 1, 2, 3, 4]  # the scan sees them
        withdrawals = [
            alice.envelope(record_id=env.id, rev=revision(2), base=env.revision, withdrawn=True)
            for env in (toasted, inline)
        ]
        storage.push_records(alice.device, withdrawals, NOW)
        assert traces(disk.tables()) == [], _other_transactions(pg_schema_url)
        erased_at = disk.wal_position()
        storage.push_records(alice.device, [alice.envelope()], NOW)  # pages are written again
        assert traces(disk.wal_since(erased_at)) == []
    finally:
        storage.close()
        if older_transaction:
            ends.join()
            other.close()
