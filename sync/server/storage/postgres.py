"""The PostgreSQL backend on psycopg 3, for deployments that outgrow one SQLite file.

Several server processes may share one database: migrations take an advisory lock, pushes
take per-record advisory locks (in sorted order, so batches never deadlock on each other)
and allocate seqs from the counter row last, which orders commits by seq. A small pool of our
own (psycopg_pool is not a dependency) hands connections to the app's threads.

A consent withdrawal sets sealed bytes to NULL, and once that has committed the records
table is rewritten (`VACUUM FULL`, with its TOAST table), so the old row versions leave its
files at once; a checkpoint follows where the role may run one, so write-ahead log segments
written before the erasure can be recycled (see `_after_erasure` and docs/sync-protocol.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from sync.server.storage._sql import (
    CONSENT_WITHDRAWN_COLUMNS,
    OWNER_COLUMNS,
    SCHEMA_V1,
    STATUS_CHECK_V2,
    TEAM_KEY_COLUMN,
    SqlStorage,
    Tx,
    schema_statements,
)
from sync.server.storage.base import StorageError

__all__ = ["PostgresStorage"]

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x6669656C64617070  # "fieldapp"
_POOL_WAIT_SECONDS = 30
# How long the rewrite after an erasure waits for the table's lock before giving up (it then
# waits for the next erasure): the transactions of a push or a read take milliseconds.
_REWRITE_LOCK_TIMEOUT = "10s"

_TYPES = {
    "ts": "TIMESTAMPTZ",
    "blob": "BYTEA",
    "bool": "BOOLEAN",
    "int8": "BIGINT",
    "identity": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}

_AUDIT_APPEND_ONLY = [
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresTx(Tx):
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self._cur = conn.cursor()

    def all(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> list[Any]:
        return self._cur.execute(_pg(sql + " FOR UPDATE" if lock else sql), params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(_pg(sql), params or None)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(_pg(sql), rows)


class PostgresStorage(SqlStorage):
    migrations = (
        (1, "initial schema", (*schema_statements(SCHEMA_V1, _TYPES), *_AUDIT_APPEND_ONLY)),
        (
            2,
            "superseded revisions",
            (
                "ALTER TABLE records DROP CONSTRAINT records_status_check",
                f"ALTER TABLE records ADD CONSTRAINT records_status_check {STATUS_CHECK_V2}",
            ),
        ),
        (3, "team key of enrolment codes", schema_statements(TEAM_KEY_COLUMN, _TYPES)),
        (4, "consent withdrawal", schema_statements(CONSENT_WITHDRAWN_COLUMNS, _TYPES)),
        (5, "record and roster entry owners", schema_statements(OWNER_COLUMNS, _TYPES)),
    )
    transient_errors = (errors.SerializationFailure, errors.DeadlockDetected)
    integrity_errors = (psycopg.IntegrityError,)

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._url = url
        self._idle: list[psycopg.Connection[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        if not self._slots.acquire(timeout=_POOL_WAIT_SECONDS):
            raise StorageError("no database connection became free")
        try:
            with self._lock:
                if self._closed:
                    raise StorageError("storage is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = psycopg.connect(self._url, autocommit=True, row_factory=dict_row)
            try:
                yield conn
            finally:
                reusable = (
                    not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
                )
                with self._lock:
                    if reusable and not self._closed:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
        finally:
            self._slots.release()

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        with self._connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

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

    def _lock_migrations(self, tx: Tx) -> None:
        tx.all("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def _lock_records(self, tx: Tx, record_ids: list[str]) -> None:
        tx.all(
            "SELECT pg_advisory_xact_lock(hashtextextended(t.id, 0))"
            " FROM unnest(?::text[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n",
            (record_ids,),
        )

    def _ts(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _dt(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
