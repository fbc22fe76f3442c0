"""The PostgreSQL backend on psycopg 3, for deployments that outgrow one SQLite file.

Several server processes may share one database: migrations take an advisory lock, pushes
take per-record advisory locks (in sorted order, so batches never deadlock on each other)
and allocate seqs from the counter row last, which orders commits by seq. A psycopg-pool
connection pool hands connections to the app's threads; a thread that finds none free within
`pool_wait_seconds` gets a StorageError, and so does every use once the storage is closed.

A consent withdrawal sets sealed bytes to NULL, and once that has committed the records
table is rewritten (`VACUUM FULL`, with its TOAST table), so the old row versions leave its
files at once; a checkpoint follows where the role may run one, so write-ahead log segments
written before the erasure can be recycled (see `_after_erasure` and docs/sync-protocol.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from sync.server.storage.errors import StorageError
from sync.server.storage.migrations import load as load_migrations
from sync.server.storage.sql import SqlStorage
from sync.server.storage.tx import Tx

__all__ = ["PostgresStorage"]

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x6669656C64617070  # "fieldapp"
_POOL_WAIT_SECONDS = 30.0
# How long the rewrite after an erasure waits for the table's lock before giving up (it then
# waits for the next erasure): the transactions of a push or a read take milliseconds.
_REWRITE_LOCK_TIMEOUT = "10s"
# How long the rewrite waits for transactions older than the erasure to end: a row version
# that one of them may still see is copied by VACUUM FULL, so it would stay on disk.
_OLDER_TRANSACTIONS_WAIT_SECONDS = 10.0

_TYPES = {
    "ts": "TIMESTAMPTZ",
    "blob": "BYTEA",
    "bool": "BOOLEAN",
    "int8": "BIGINT",
    "identity": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresTx(Tx):
    integrity_errors = (psycopg.IntegrityError,)

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self._cur = conn.cursor()

    def all(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> list[Any]:
        return self._cur.execute(_pg(sql + " FOR UPDATE" if lock else sql), params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(_pg(sql), params or None)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(_pg(sql), rows)

    def lock_keys(self, keys: Sequence[str]) -> None:
        self.all(
            "SELECT pg_advisory_xact_lock(hashtextextended(t.id, 0))"
            " FROM unnest(?::text[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n",
            (list(keys),),
        )

    def lock_migrations(self) -> None:
        self.all("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def ts(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def dt(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def plan_index_walks(self) -> None:
        # Without statistics the planner guesses a handful of matching rows, and a handful
        # costs less through a bitmap scan and a sort than through an ordered index scan;
        # the sort then reads every row after the cursor (EXPLAIN: 10,000 for a page of
        # 1,000 on a fresh database). Ruling out those scans leaves the ordered walk.
        self._cur.execute(
            "SELECT set_config('enable_seqscan', 'off', true),"
            " set_config('enable_bitmapscan', 'off', true)"
        )

    def json_string(self, column: str) -> str:
        return f"to_json({column})::text"

    def joined(self, text: str, order: str) -> str:
        return f"string_agg({text}, ',' ORDER BY {order})"


class PostgresStorage(SqlStorage):
    migrations = load_migrations("postgres", _TYPES)
    transient_errors = (errors.SerializationFailure, errors.DeadlockDetected)

    def __init__(
        self, url: str, pool_size: int = 10, pool_wait_seconds: float = _POOL_WAIT_SECONDS
    ) -> None:
        self._url = url
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[DictRow],
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=1,
            max_size=pool_size,
            timeout=pool_wait_seconds,
            open=False,  # on first use: opening the storage connects to nothing
        )
        self._lock = threading.Lock()
        self._opened = False
        self._closed = False

    def _open_pool(self) -> None:
        with self._lock:
            if self._closed:
                raise StorageError("storage is closed")
            if not self._opened:
                # One connection first, so that a database out of reach says so at once, in
                # psycopg's words: the pool would only log it and retry until its wait ran out.
                psycopg.connect(self._url, autocommit=True).close()
                self._pool.open()
                self._opened = True

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        self._open_pool()
        try:
            conn = self._pool.getconn()
        except PoolTimeout:
            raise StorageError("no database connection became free") from None
        except PoolClosed:
            raise StorageError("storage is closed") from None
        try:
            with conn.transaction():
                yield _PostgresTx(conn)
        finally:
            self._pool.putconn(conn)  # a broken connection is replaced, not reused

    def _write_transaction(self) -> AbstractContextManager[Tx]:
        return self._transaction()

    def _cannot_write(self, error: Exception) -> str | None:
        if isinstance(error, errors.DiskFull):
            return "the database's disk is full"
        if isinstance(error, errors.InsufficientResources):
            return "the database server is out of resources"
        if isinstance(error, errors.ReadOnlySqlTransaction):
            return "the database is read-only"
        return None

    def _storage_problem(self) -> str | None:
        """A standby, or a database set read-only, takes no writes (a full disk shows only
        when a write fails: PostgreSQL has no cheap way to tell)."""
        with self._read() as tx:
            row = tx.one(
                "SELECT pg_is_in_recovery() AS standby,"
                " current_setting('default_transaction_read_only') AS read_only"
            )
        return "the database is read-only" if row["standby"] or row["read_only"] == "on" else None

    def _read(self) -> AbstractContextManager[Tx]:
        return self._transaction()

    def _after_erasure(self) -> None:
        """Rewrite the records table (and its TOAST table) so erased sealed bytes leave its
        files now, then checkpoint if this role may (superuser or pg_checkpoint).

        A plain VACUUM is not enough: it frees the dead row versions, but a page keeps their
        bytes in its free space until a later row happens to overwrite them (measured: the
        row last stored in a page survives it). `VACUUM FULL` writes live rows only into new
        files and truncates the old ones when it commits; the write-ahead log it writes holds
        live rows only. Its cost: an exclusive lock on `records` while it copies the table
        (about a second per 100 MB here), once per push that withdraws consent. WAL written
        before it (the erasure's own records included) keeps the old bytes until PostgreSQL
        recycles those segments, which the checkpoint allows from now on.
        """
        with psycopg.connect(self._url, autocommit=True) as conn:
            _wait_for_older_transactions(conn)
            conn.execute(f"SET lock_timeout = '{_REWRITE_LOCK_TIMEOUT}'")
            try:
                conn.execute("VACUUM FULL records")
            except errors.LockNotAvailable:
                log.warning(
                    "records was not rewritten after an erasure (its lock was busy): erased"
                    " bytes stay in free space until the next erasure or a VACUUM FULL"
                )
                return
            try:
                conn.execute("CHECKPOINT")
            except errors.InsufficientPrivilege:
                log.info("no CHECKPOINT after an erasure: this role may not run one")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened = self._opened
        if opened:
            self._pool.close()  # connections still in use are closed as they come back


def _wait_for_older_transactions(conn: psycopg.Connection[Any]) -> None:
    """Wait (bounded) until no other session's snapshot may still see a row version the
    erasure removed: VACUUM FULL copies every version older than the oldest `backend_xmin` of
    any session, whatever its database. Judged by ids, not start times: a transaction begun
    after the erasure, while an older one still ran, takes that older one's xid as its xmin
    and holds the erased bytes just as well (seen in CI: two of another test's transactions,
    18 and 56 ms old). Sessions of other roles show no transaction to a role without
    pg_read_all_stats: then nothing waits."""
    # A new transaction id: every one assigned before it (the erasure's, and any older
    # transaction's) is below it. (A snapshot's xmax is not: a running id may equal it.)
    (erased_before,) = conn.execute(
        "SELECT pg_current_xact_id()::text::bigint % 4294967296"
    ).fetchone() or (0,)
    older = (
        "SELECT count(*), string_agg(pid::text, ',') FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND ("
        "(backend_xmin::text::bigint - %(erased_before)s + 4294967296) %% 4294967296"
        " >= 2147483648 OR"
        " (backend_xid::text::bigint - %(erased_before)s + 4294967296) %% 4294967296"
        " >= 2147483648)"
    )  # precedes erased_before as PostgreSQL compares transaction ids: modulo 2^32
    deadline = time.monotonic() + _OLDER_TRANSACTIONS_WAIT_SECONDS
    while (row := conn.execute(older, {"erased_before": erased_before}).fetchone()) and row[0]:
        if time.monotonic() > deadline:
            log.warning(
                "%d transaction(s) may still see what an erasure removed (pids %s): the"
                " rewrite keeps those row versions until the next erasure or a VACUUM FULL",
                row[0],
                row[1],
            )
            return
        time.sleep(0.05)
