"""The store's core: one SQLite file on one connection (sqlite-utils), the lock every room
holds, the device's clock, transactions, and the small key-value tables in clear.

Kept on its own so that every room stands on the same few guarantees: every save is a
durable commit (WAL with synchronous=FULL: once a call returns, a crash or a flat battery
cannot take it back); freed pages are overwritten (secure_delete), so erased ciphertext does
not linger; one thread at a time (Flet runs handlers in threads, the sync client in its
own), and a full disk or a damaged file comes out as a named error, never as a bare SQLite
one.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

from sqlite_utils import Database

from fieldapp.errors import StorageFull, StoreError, StoreUnreadable
from fieldapp.store._migrations import migrate

__all__ = ["Core", "iso", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The store's one timestamp form (UTC, microseconds): such texts compare as times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _storage_failure(path: Path, error: sqlite3.Error) -> StoreError | None:
    """The named error for SQLite's word that the device's storage failed (None: another
    kind of error): a full disk, a file that is not a readable store, a read-only or failing
    one."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
    if code == sqlite3.SQLITE_FULL:
        return StorageFull(
            "the device storage is full: nothing was changed and everything saved before is"
            " kept. Free some space (delete photos, videos or apps you do not need), then"
            " try again"
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN):
        what = "a folder" if path.is_dir() else "damaged, truncated or not a fieldapp store"
        return StoreUnreadable(
            f"the store file {path} cannot be opened: it is {what} ({error}). It was left"
            " exactly as it is: keep a copy of it and ask for help before setting this"
            " device up again"
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR):
        return StoreError(
            f"the device storage failed to read or write the store file {path} ({error}):"
            " nothing was changed; check the device's storage, then try again"
        )
    return None


class StoreLock:
    """The store's lock (reentrant: one connection serves every thread), which also turns
    SQLite's storage failures inside it into named errors (`_storage_failure`): every
    operation holds it, so none lets a full disk or a damaged file out as a bare SQLite
    error. SQLite has undone the statement, and `atomic` its transaction, by then."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        if isinstance(error, sqlite3.Error):
            named = _storage_failure(self._path, error)
            if named is not None:
                raise named from error


class Core:
    """The connection every room shares. Opening it applies pending migrations."""

    def __init__(self, path: str | Path, *, wall_clock: Callable[[], datetime]) -> None:
        """`wall_clock` is this device's date and time, which the person may have set wrong
        (see `Settings.server_time` for what must not depend on it)."""
        self.path = Path(path)
        self.lock = StoreLock(self.path)
        self.wall_clock = wall_clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreUnreadable(f"the store file {self.path} cannot be opened: {exc}") from exc
        with self.lock:  # a damaged file or a folder fails here, named, before any write
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                self.db = Database(conn)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA secure_delete=ON")
                self.db.execute("PRAGMA foreign_keys=ON")
                migrate(self.db)
            except sqlite3.Error:
                conn.close()
                raise
            if self._read("meta", "device_id") is None:
                self._put("meta", "device_id", str(uuid.uuid4()))

    @property
    def device_id(self) -> str:
        """This device's id: it outlives a wipe (it is kept in `meta`)."""
        device_id = self._read("meta", "device_id")
        assert device_id is not None
        return device_id

    def now(self) -> str:
        return iso(self.wall_clock())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes as one durable commit, all or none, under the lock (a write from
        another thread must not join it, and vanish if it rolls back)."""
        with self.lock, self.db.atomic():
            yield

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so erased pages are gone."""
        with self.lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def state(self, key: str) -> str | None:
        """A value of `sync_state`: the device's bookkeeping in clear, secrets encrypted."""
        return self._read("sync_state", key)

    def set_state(self, key: str, value: str) -> None:
        self._put("sync_state", key, value)

    def delete_state(self, key: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM sync_state WHERE key = ?", [key])

    def close(self) -> None:
        with self.lock:
            self.db.conn.close()

    def _read(self, table: Literal["meta", "sync_state"], key: str) -> str | None:
        with self.lock:
            row = self.db.execute(f"SELECT value FROM {table} WHERE key = ?", [key]).fetchone()  # noqa: S608
        return None if row is None else row[0]

    def _put(self, table: Literal["meta", "sync_state"], key: str, value: str) -> None:
        with self.lock:
            self.db.execute(
                f"INSERT INTO {table} (key, value) VALUES (?, ?)"  # noqa: S608
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
