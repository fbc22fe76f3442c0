"""The embedded default backend: one SQLite file through the stdlib sqlite3 module.

One connection per thread (uvicorn runs handlers in a threadpool), WAL so readers never block
the writer, synchronous=FULL so an acknowledged push survives power loss, and BEGIN IMMEDIATE
for every write so writers queue on busy_timeout instead of failing mid-transaction. With
writers serialised, seqs trivially commit in order. secure_delete zeroes what a write frees,
and the log is checkpointed and truncated after a consent withdrawal, so the sealed bytes it
erased linger neither in the database file nor in the write-ahead log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.server.storage.errors import StorageError
from sync.server.storage.migrations import load as load_migrations
from sync.server.storage.sql import SqlStorage
from sync.server.storage.tx import Tx

__all__ = ["SqliteStorage"]

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 30_000
# Less free disk than this and a push batch (up to a few MB, its write-ahead log as much
# again) may not fit: the server says it cannot write before a push fails half-way.
_MIN_FREE_DISK_BYTES = 16 * 2**20
# SQLite's word that it cannot store anything now, by primary result code.
_CANNOT_WRITE = {
    sqlite3.SQLITE_FULL: "the database or its disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "the database's disk fails to read or write",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}

_TYPES = {
    "ts": "TEXT",
    "blob": "BLOB",
    "bool": "INTEGER",
    "int8": "INTEGER",
    "identity": "INTEGER PRIMARY KEY AUTOINCREMENT",
}


class _SqliteTx(Tx):
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()  # BEGIN IMMEDIATE locked it all

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def lock_keys(self, keys: Sequence[str]) -> None:
        """BEGIN IMMEDIATE already excludes every other writer."""

    def lock_migrations(self) -> None:
        """BEGIN IMMEDIATE already excludes every other writer."""

    def plan_index_walks(self) -> None:
        """SQLite's planner walks the index that gives the ORDER BY already (EXPLAIN QUERY
        PLAN of a page: each arm a SEARCH of its index from the cursor, no statistics)."""

    def ts(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def dt(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).astimezone(UTC)

    def json_string(self, column: str) -> str:
        return f"json_quote({column})"

    def joined(self, text: str, order: str) -> str:
        return f"group_concat({text}, ',')"  # no ORDER BY in aggregates before SQLite 3.44


class SqliteStorage(SqlStorage):
    migrations = load_migrations("sqlite", _TYPES)
    transient_errors = ()

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise StorageError("storage is closed")
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._connections.append(conn)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Freed space is overwritten with zeros: erased sealed bytes must not stay readable.
        conn.execute("PRAGMA secure_delete = ON")
        self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Tx]:
        conn = self._connection()
        conn.execute(begin)
        try:
            yield _SqliteTx(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _write_transaction(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN IMMEDIATE")

    def _cannot_write(self, error: Exception) -> str | None:
        code = getattr(error, "sqlite_errorcode", None)
        return None if code is None else _CANNOT_WRITE.get(code & 0xFF)

    def _storage_problem(self) -> str | None:
        try:
            conn = self._connection()
            pages, cap, free = (
                conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("page_count", "max_page_count", "freelist_count")
            )
        except sqlite3.Error as exc:
            reason = self._cannot_write(exc)
            if reason is None:
                raise
            return reason
        if pages >= cap and not free:
            return "the database is at its size limit"
        disk = os.statvfs(self._path.parent)
        if disk.f_flag & os.ST_RDONLY:
            return "the database's disk is read-only"
        if disk.f_bavail * disk.f_frsize < _MIN_FREE_DISK_BYTES:
            return "the database's disk is full"
        return None

    def _read(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN")

    def _after_erasure(self) -> None:
        """Fold the write-ahead log into the database and truncate it: its frames still hold
        pages as they were before the erasure. Readers on older snapshots can hold it up (for
        busy_timeout at most); the next erasure then tries again."""
        busy, _, _ = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("the write-ahead log was not truncated after an erasure: readers busy")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
