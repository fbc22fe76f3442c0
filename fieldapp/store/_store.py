"""The encrypted local store: one SQLite file holding forms, drafts, finalised records, the outbox.

Sensitive values exist on disk only as AES-256-GCM ciphertext under a random data key that is
itself stored only wrapped by the passphrase key (Argon2id). Statistical fields and metadata
stay in clear so that records can be listed and counted without the passphrase. Every save is
a durable commit (WAL with synchronous=FULL): once `save_draft` or `finalise` returns, a crash
or a flat battery cannot take the record back.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, ParamSpec, TypeVar

from pydantic import BaseModel, Field
from sqlite_utils import Database

from fieldapp import crypto
from fieldapp.errors import (
    RecordNotFound,
    StorageFull,
    StoreError,
    StoreLocked,
    StoreUnreadable,
)
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import Checked, FieldError, check
from fieldapp.forms.values import join_parts, split_by_sensitivity, stamp_metadata
from fieldapp.store._migrations import apply_migrations
from sync.protocol import RecordEnvelope

__all__ = [
    "DEFAULT_MAX_FAILED_UNLOCKS",
    "MAX_FAILED_UNLOCKS_CEILING",
    "InvalidSetting",
    "Outcome",
    "Page",
    "Record",
    "RecordSummary",
    "Status",
    "Store",
    "StoreWiped",
    "TeamKey",
    "ValidationFailed",
]

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

Status = Literal["draft", "final", "queued", "sent", "rejected", "conflict"]
DEFAULT_AUTOLOCK_SECONDS = 300
DEFAULT_MAX_FAILED_UNLOCKS = 10
# A wipe after more wrong passphrases than this no longer stops a patient guesser.
MAX_FAILED_UNLOCKS_CEILING = 100
_KEY_AAD = b"fieldapp/store/data-key/v1"
_SIGNING_AAD = b"fieldapp/store/signing-key/v1"
_TEAM_KEY_SECRET = "team_key"  # noqa: S105 (the name under which the secret is kept)
_ROSTER = "roster"  # the shared-item kind of the team's roster entries
_STATE_CLOCK_OFFSET = "server_clock_offset"  # seconds, the server's clock minus this device's


class InvalidSetting(StoreError):
    """A store setting is out of its range; the message names the setting and the range."""


class StoreWiped(StoreError):
    """The wrapped key was erased (too many failed unlocks, or a wipe): the data is unreadable."""


class ValidationFailed(StoreError):
    """A submission cannot be finalised; `errors` lists every problem, field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class Record(BaseModel):
    """A record as its author sees it, sensitive values decrypted."""

    id: str
    form_id: str
    form_version: str
    status: Status
    created_at: str
    updated_at: str
    device_id: str
    revision: str
    base_revision: str | None
    values: dict[str, Any]
    problems: list[dict[str, Any]] = Field(default_factory=list)
    server_revision: str | None = None
    purged: bool = False  # the local copy was erased after the server's receipt
    consent_withdrawn: bool = False  # the person withdrew consent: sensitive part erased
    # The user settled a conflict over this record here (kept their version or merged): the
    # office has yet to resolve it on the server (see `Store.settle_conflict`).
    conflict_settled: bool = False


class RecordSummary(BaseModel):
    """What a list shows without decrypting anything."""

    id: str
    form_id: str
    form_version: str
    status: Status
    created_at: str
    updated_at: str
    stats: dict[str, Any]
    problem_count: int
    consent_withdrawn: bool = False


class Outcome(NamedTuple):
    """What the server said about one pushed revision (see `Store.record_outcomes`)."""

    record_id: str
    revision: str
    status: Literal["sent", "rejected", "conflict"]
    problems: list[dict[str, Any]] | None = None
    receipt: str | None = None
    server_revision: str | None = None
    received_at: datetime | None = None  # the receipt's: when the server took the revision


class TeamKey(NamedTuple):
    """The key a region's devices share their rosters with, and the scope it was issued for
    (the associated data of every roster entry names both)."""

    key: bytes
    org_id: str
    region: str | None


class Page(BaseModel):
    items: list[RecordSummary]
    next_after: str | None  # pass back as `after` for the next page; None on the last


def _locked(method: Callable[P, T]) -> Callable[P, T]:
    """Run a read under the store's lock: one connection serves every thread, and a read
    must not see another thread's transaction half-way."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
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


class _StoreLock:
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


class Store:
    """The device's store. Open it, then `unlock` (or `create` a new one) before reading records.

    Thread-safe: Flet runs handlers in threads, so every operation holds one lock.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        autolock_seconds: float = DEFAULT_AUTOLOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`clock` (monotonic) times the inactivity lock; `wall_clock` is this device's date
        and time, which the person may have set wrong: what must not depend on it (how long
        ago the server took a record) uses `server_time()`."""
        self.path = Path(path)
        self._lock = _StoreLock(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreUnreadable(f"the store file {self.path} cannot be opened: {exc}") from exc
        with self._lock:  # a damaged file or a folder fails here, named, before any write
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                self.db = Database(conn)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                # Freed pages are overwritten, so deleted ciphertext and wrapped keys do not
                # linger.
                self.db.execute("PRAGMA secure_delete=ON")
                self.db.execute("PRAGMA foreign_keys=ON")
                apply_migrations(self.db)
            except sqlite3.Error:
                conn.close()
                raise
        self._clock = clock
        self.wall_clock = wall_clock
        self.autolock_seconds = autolock_seconds
        self._key: bytes | None = None
        self._signing: crypto.SigningKey | None = None
        self._specs: dict[tuple[str, str], FormSpec] = {}
        self._last_used = clock()
        with self._lock:
            if self._meta("device_id") is None:
                self._set_meta("device_id", str(uuid.uuid4()))

    # -- lifecycle ------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        passphrase: str,
        *,
        keystore_second_factor: bool = False,
        max_failed_unlocks: int | None = DEFAULT_MAX_FAILED_UNLOCKS,
        **kwargs: Any,
    ) -> Store:
        """A new store protected by `passphrase`, unlocked, with the built-in forms.

        `max_failed_unlocks`: wrong passphrases before the key is erased, 1 to
        MAX_FAILED_UNLOCKS_CEILING, or None for never; anything else raises InvalidSetting.
        """
        if max_failed_unlocks is not None and not (
            1 <= max_failed_unlocks <= MAX_FAILED_UNLOCKS_CEILING
        ):
            raise InvalidSetting(
                f"max_failed_unlocks must be a whole number from 1 to"
                f" {MAX_FAILED_UNLOCKS_CEILING} (or None: never erase), not {max_failed_unlocks}"
            )
        crypto.check_passphrase_policy(passphrase, keystore_second_factor=keystore_second_factor)
        store = cls(path, **kwargs)
        with store._lock:
            if store.initialised:
                raise StoreError(f"{store.path} already holds a store")
            params = crypto.KdfParams.new()
            kek = crypto.derive_key(passphrase, params)
            key = crypto.random_key()
            signing = crypto.SigningKey.generate()
            with store.db.atomic():
                store.db.execute(
                    "INSERT INTO keyring (id, kdf, wrapped_key, wrapped_signing_key,"
                    " max_failed_unlocks, second_factor) VALUES (1, ?, ?, ?, ?, ?)",
                    [
                        params.model_dump_json(),
                        crypto.wrap_key(kek, key, _KEY_AAD),
                        crypto.encrypt(key, signing.to_bytes(), _SIGNING_AAD),
                        max_failed_unlocks,
                        int(keystore_second_factor),
                    ],
                )
            store._key, store._signing = key, signing
            store._last_used = store._clock()
            store.install_builtin_forms()
        return store

    @property
    def initialised(self) -> bool:
        return bool(self.db.execute("SELECT count(*) FROM keyring").fetchone()[0])

    @property
    def device_id(self) -> str:
        device_id = self._meta("device_id")
        assert device_id is not None
        return device_id

    @property
    def locked(self) -> bool:
        with self._lock:
            if self._key is not None and self._clock() - self._last_used > self.autolock_seconds:
                self.lock()
            return self._key is None

    def lock(self) -> None:
        """Forget the keys; records stay readable only after `unlock`."""
        with self._lock:
            self._key = None
            self._signing = None

    def touch(self) -> None:
        """Note user activity, postponing the inactivity lock."""
        with self._lock:
            if not self.locked:
                self._last_used = self._clock()

    def unlock(self, passphrase: str) -> None:
        """Unwrap the data key. Each failure counts; at the policy's limit the key is erased."""
        with self._lock:
            row = self._keyring()
            # Count the attempt durably *before* trying it: killing the app mid-check must
            # not give an attacker free guesses.
            self.db.execute("UPDATE keyring SET failed_unlocks = failed_unlocks + 1 WHERE id = 1")
            params = crypto.KdfParams.model_validate_json(row["kdf"])
            try:
                key = crypto.unwrap_key(
                    crypto.derive_key(passphrase, params), row["wrapped_key"], _KEY_AAD
                )
            except crypto.WrongPassphrase:
                limit = row["max_failed_unlocks"]
                if limit is not None and row["failed_unlocks"] + 1 >= limit:
                    self._erase_keys()
                    raise StoreWiped(
                        f"{limit} failed unlocks: the key was erased and the data on this "
                        "device can no longer be read"
                    ) from None
                raise
            self.db.execute("UPDATE keyring SET failed_unlocks = 0 WHERE id = 1")
            log.debug("store %s unlocked", self.path.name)
            self._key = key
            self._signing = crypto.SigningKey.from_bytes(
                crypto.decrypt(key, row["wrapped_signing_key"], _SIGNING_AAD)
            )
            self._last_used = self._clock()

    def change_passphrase(self, old: str, new: str) -> None:
        with self._lock:
            crypto.check_passphrase_policy(
                new, keystore_second_factor=bool(self._keyring()["second_factor"])
            )
            self.unlock(old)
            params = crypto.KdfParams.new()
            wrapped = crypto.wrap_key(crypto.derive_key(new, params), self._require_key(), _KEY_AAD)
            self.db.execute(
                "UPDATE keyring SET kdf = ?, wrapped_key = ? WHERE id = 1",
                [params.model_dump_json(), wrapped],
            )
            self._checkpoint()

    def wipe(self) -> None:
        """Sign out and wipe: erase keys and every record from this device."""
        with self._lock:
            with self.db.atomic():
                self.db.execute("DELETE FROM records")
                self.db.execute("DELETE FROM sync_state")
                self.db.execute("DELETE FROM recipients")
                self.db.execute("DELETE FROM roster_entries")
                self.db.execute("DELETE FROM shared_items WHERE kind = ?", [_ROSTER])
            self._erase_keys()

    def close(self) -> None:
        with self._lock:
            self.lock()
            self.db.conn.close()

    def _keyring(self) -> dict[str, Any]:
        row = next(self.db.query("SELECT * FROM keyring WHERE id = 1"), None)
        if row is None:
            raise StoreError(f"{self.path} has no keyring: create the store first")
        if row["wrapped_key"] is None:
            raise StoreWiped("the key of this store was erased: its data can no longer be read")
        return row

    def _erase_keys(self) -> None:
        self.db.execute(
            "UPDATE keyring SET wrapped_key = NULL, wrapped_signing_key = NULL WHERE id = 1"
        )
        self.lock()
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so old key material is gone."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _require_key(self) -> bytes:
        if self.locked or self._key is None:
            raise StoreLocked("the store is locked: unlock it with the passphrase")
        self._last_used = self._clock()
        return self._key

    # -- metadata -------------------------------------------------------------------------
    def _read(self, table: Literal["meta", "sync_state"], key: str) -> str | None:
        with self._lock:
            row = self.db.execute(f"SELECT value FROM {table} WHERE key = ?", [key]).fetchone()  # noqa: S608
        return None if row is None else row[0]

    def _put(self, table: Literal["meta", "sync_state"], key: str, value: str) -> None:
        # Under the lock: on the shared connection, a write from another thread during a
        # transaction would join it, and vanish if that transaction rolls back.
        with self._lock:
            self.db.execute(
                f"INSERT INTO {table} (key, value) VALUES (?, ?)"  # noqa: S608
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    def _meta(self, key: str) -> str | None:
        """Facts about this device that outlive a wipe (its id)."""
        return self._read("meta", key)

    def _set_meta(self, key: str, value: str) -> None:
        self._put("meta", key, value)

    # -- time ------------------------------------------------------------------------------
    def _now(self) -> str:
        return _iso(self.wall_clock())

    def clock_offset(self) -> timedelta | None:
        """The server's clock minus this device's, as the last sync measured it (None before
        any sync did): see `server_time`."""
        stored = self.get_state(_STATE_CLOCK_OFFSET)
        return None if stored is None else timedelta(seconds=float(stored))

    def set_clock_offset(self, offset: timedelta) -> None:
        self.set_state(_STATE_CLOCK_OFFSET, repr(offset.total_seconds()))

    def server_time(self) -> datetime:
        """The server's time as this device can tell it: its own clock corrected by the offset
        the last sync measured (its clock alone before any). If the person changes the
        device's clock, it is off by as much until the next sync measures again."""
        return self.wall_clock() + (self.clock_offset() or timedelta(0))

    def get_state(self, key: str) -> str | None:
        """Sync bookkeeping in clear (cursor, server URL, last sync time): never secrets."""
        return self._read("sync_state", key)

    def set_state(self, key: str, value: str) -> None:
        self._put("sync_state", key, value)

    def get_secret(self, key: str) -> str | None:
        """A secret (a bearer token) stored encrypted under the data key."""
        with self._lock:
            data_key = self._require_key()
            stored = self.get_state(f"secret:{key}")
            if stored is None:
                return None
            aad = b"fieldapp/store/secret/" + key.encode()
            return crypto.decrypt(data_key, bytes.fromhex(stored), aad).decode()

    def set_secret(self, key: str, value: str) -> None:
        with self._lock:
            aad = b"fieldapp/store/secret/" + key.encode()
            blob = crypto.encrypt(self._require_key(), value.encode(), aad)
            self.set_state(f"secret:{key}", blob.hex())

    # -- the team key (rosters shared with the region's devices) -------------------------
    def team_key(self) -> TeamKey | None:
        """The team key enrolment brought (decrypted: the store must be unlocked), or None."""
        stored = self.get_secret(_TEAM_KEY_SECRET)
        if stored is None:
            return None
        data = json.loads(stored)
        return TeamKey(bytes.fromhex(data["key"]), data["org_id"], data["region"])

    @property
    def has_team_key(self) -> bool:
        """Whether enrolment brought a team key (works while locked: nothing is decrypted)."""
        return self.get_state(f"secret:{_TEAM_KEY_SECRET}") is not None

    def set_team_key(self, team: TeamKey | None) -> int:
        """Keep the team key (encrypted under the data key, like the token), or forget it.

        A new key or scope starts the roster afresh: entries shared or pulled under the old
        one are dropped from this device, and the participants of every finalised record are
        queued again, sealed with the new key. Returns how many entries were queued.
        """
        with self._lock, self.db.atomic():
            if team == self.team_key():
                return 0
            self.db.execute("DELETE FROM roster_entries")
            self.db.execute("DELETE FROM shared_items WHERE kind = ?", [_ROSTER])
            if team is None:
                self.db.execute(
                    "DELETE FROM sync_state WHERE key = ?", [f"secret:{_TEAM_KEY_SECRET}"]
                )
                return 0
            scope = {"key": team.key.hex(), "org_id": team.org_id, "region": team.region}
            self.set_secret(_TEAM_KEY_SECRET, json.dumps(scope))
            rows = list(
                self.db.query(
                    "SELECT * FROM records WHERE status <> 'draft' AND fields IS NOT NULL"
                )
            )
            return sum(
                self._queue_roster(row, self.form(row["form_id"], row["form_version"]),
                                   self._decrypt_values(row), team)
                for row in rows
            )  # fmt: skip

    def _queue_roster(
        self, row: Mapping[str, Any], spec: FormSpec, values: Mapping[str, Any], team: TeamKey
    ) -> int:
        """Queue the roster entries of a finalised record: each instance of a `team_roster`
        repeat (its answers, the record's title and start date, the record id) sealed with the
        team key, keyed by its `_id`; an instance removed since is withdrawn. An entry whose
        content has not changed is not queued again. Returns how many were queued."""
        entries: dict[str, dict[str, Any]] = {}
        for repeat in spec.roster_repeats():
            for instance in values.get(repeat.name) or []:
                entry_id = instance.get("_id")
                if isinstance(entry_id, str):
                    entries[entry_id] = {
                        "id": entry_id,
                        "record_id": row["id"],
                        "form_id": spec.id,
                        "repeat": repeat.name,
                        "fields": {k: v for k, v in instance.items() if k != "_id"},
                        "event": {
                            "title": values.get("title"),
                            "start_date": values.get("start_date"),
                        },
                    }
        shared = {
            r["entry_key"]: r["digest"]
            for r in self.db.query(
                "SELECT entry_key, digest FROM roster_entries WHERE record_id = ?", [row["id"]]
            )
        }
        digest_key = crypto.subkey(team.key, "roster-digest")
        queued = 0
        for entry_id, entry in entries.items():
            plain = crypto.canonical_json(entry)
            digest = crypto.keyed_hash(digest_key, plain)
            if shared.pop(entry_id, None) == digest:
                continue
            aad = crypto.team_aad(_ROSTER, team.org_id, team.region, entry_id)
            self.db.execute(
                "INSERT INTO roster_entries (entry_key, record_id, digest, sealed, pending)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (entry_key) DO UPDATE SET"
                " record_id = excluded.record_id, digest = excluded.digest,"
                " sealed = excluded.sealed, pending = 1",
                [entry_id, row["id"], digest, crypto.encrypt(team.key, plain, aad)],
            )
            queued += 1
        return queued + self._withdraw_roster_entries(row["id"], list(shared))

    def roster_outbox(
        self, *, after: str = "", limit: int = 500
    ) -> list[tuple[str, str, bytes | None]]:
        """(entry key, digest, sealed bytes or None to withdraw) of roster entries waiting to
        be pushed, by key. Ciphertext only: the outbox drains while the app is locked."""
        with self._lock:
            rows = self.db.execute(
                "SELECT entry_key, digest, sealed FROM roster_entries INDEXED BY"
                " roster_entries_pending WHERE pending = 1 AND entry_key > ?"
                " ORDER BY entry_key LIMIT ?",
                [after, limit],
            ).fetchall()
        return [(row[0], row[1], None if row[2] is None else bytes(row[2])) for row in rows]

    def roster_pushed(self, pushed: Mapping[str, str]) -> int:
        """The server holds these entries (key -> the digest pushed): they leave the outbox,
        a withdrawal for good. An entry changed since it was read stays pending (its new
        content goes next time). One durable commit; returns how many left the outbox."""
        done = 0
        with self._lock, self.db.atomic():
            for key, digest in pushed.items():
                if digest:
                    sql = "UPDATE roster_entries SET pending = 0 WHERE entry_key = ? AND digest = ?"
                else:
                    sql = "DELETE FROM roster_entries WHERE entry_key = ? AND digest = ?"
                done += self.db.execute(sql, [key, digest]).rowcount
        return done

    def team_roster(self) -> list[dict[str, Any]]:
        """The team's roster entries pulled from the server, decrypted in memory (the store
        must be unlocked). An entry that does not open with this device's team key (another
        scope, or altered) is left out."""
        team = self.team_key()
        if team is None:
            return []
        entries = []
        for key, data in self.shared(_ROSTER).items():
            aad = crypto.team_aad(_ROSTER, team.org_id, team.region, key)
            try:
                sealed = base64.b64decode(data["sealed"], validate=True)
                entry = json.loads(crypto.decrypt(team.key, sealed, aad))
            except (KeyError, TypeError, ValueError, binascii.Error, crypto.CryptoError):
                continue
            if isinstance(entry, dict) and entry.get("id") == key:
                entries.append(entry)
        return entries

    # -- signing and sealing --------------------------------------------------------------
    @property
    def public_key(self) -> bytes:
        with self._lock:
            self._require_key()
            assert self._signing is not None
            return self._signing.public_key

    def set_recipients(self, recipients: list[crypto.RecipientKey]) -> int:
        """Whom finalised records are sealed to; seals any record that was waiting for them."""
        with self._lock, self.db.atomic():
            self.db.execute("DELETE FROM recipients")
            for recipient in recipients:
                self.db.execute(
                    "INSERT INTO recipients (key_id, recipient, added_at) VALUES (?, ?, ?)",
                    [recipient.key_id, recipient.model_dump_json(), self._now()],
                )
            return self.seal_waiting()

    @_locked
    def recipients(self) -> list[crypto.RecipientKey]:
        return [
            crypto.RecipientKey.model_validate_json(row["recipient"])
            for row in self.db.query("SELECT recipient FROM recipients ORDER BY key_id")
        ]

    def seal_waiting(self) -> int:
        """Seal and sign finalised records that were finalised before any recipient was known."""
        with self._lock:
            recipients = self.recipients()
            if not recipients:
                return 0
            ids = [
                row["id"]
                for row in self.db.query(
                    "SELECT id FROM records WHERE status = 'final' AND sealed IS NULL"
                )
            ]
            for record_id in ids:
                with self.db.atomic():
                    row = self._row(record_id)
                    secret = self._decrypt_fields(row)
                    self._write_envelope(row, secret, recipients)
            return len(ids)

    def _write_envelope(
        self,
        row: Mapping[str, Any],
        secret: Mapping[str, Any],
        recipients: list[crypto.RecipientKey],
    ) -> None:
        """Seal the sensitive part for the organisation and sign the outgoing envelope."""
        sealed = crypto.seal(
            crypto.canonical_json(secret),
            recipients,
            crypto.record_aad(row["id"], row["revision"], "sealed"),
        )
        self._sign_envelope(row, sealed)

    def _sign_envelope(
        self, row: Mapping[str, Any], sealed: bytes | None, *, consent_withdrawn: bool = False
    ) -> None:
        """Sign the envelope of the record's current revision and put it in the outbox."""
        envelope = RecordEnvelope(
            id=uuid.UUID(row["id"]),
            form_id=row["form_id"],
            form_version=row["form_version"],
            revision=row["revision"],
            base_revision=row["base_revision"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            device_id=row["device_id"],
            stats=json.loads(row["stats"]),
            sealed=sealed,
            deleted=bool(row["deleted"]),
            consent_withdrawn=consent_withdrawn,
            signature=b"",
        )
        assert self._signing is not None
        envelope.signature = self._signing.sign(envelope.signing_bytes())
        self.db.execute(
            "UPDATE records SET sealed = ? WHERE id = ?",
            [envelope.model_dump_json(), row["id"]],
        )

    # -- forms ----------------------------------------------------------------------------
    def install_builtin_forms(self) -> None:
        for spec in load_builtin_forms().values():
            self.add_form(spec, source="builtin")

    def add_form(self, spec: FormSpec, *, source: str = "import") -> None:
        """Add a form version; an existing id+version is replaced only by an identical spec."""
        with self._lock:
            body = spec.model_dump_json()
            existing = self.db.execute(
                "SELECT spec FROM forms WHERE id = ? AND version = ?", [spec.id, spec.version]
            ).fetchone()
            if existing is not None:
                if FormSpec.model_validate_json(existing[0]) != spec:
                    raise StoreError(
                        f"form {spec.id} version {spec.version} already exists with other "
                        "content: give the new form a new version"
                    )
                return
            self.db.execute(
                "INSERT INTO forms (id, version, spec, source, added_at) VALUES (?, ?, ?, ?, ?)",
                [spec.id, spec.version, body, source, self._now()],
            )

    @_locked
    def form(self, form_id: str, version: str | None = None) -> FormSpec:
        """A form version, or the most recently added version of the form."""
        if version is None:
            row = self.db.execute(
                "SELECT version FROM forms WHERE id = ? ORDER BY added_at DESC LIMIT 1", [form_id]
            ).fetchone()
            if row is None:
                raise StoreError(f"no form {form_id!r} on this device")
            version = str(row[0])
        cached = self._specs.get((form_id, version))
        if cached is not None:
            return cached
        found = self.db.execute(
            "SELECT spec FROM forms WHERE id = ? AND version = ?", [form_id, version]
        ).fetchone()
        if found is None:
            raise StoreError(f"no form {form_id!r} version {version} on this device")
        spec = FormSpec.model_validate_json(found[0])
        self._specs[(form_id, version)] = spec
        return spec

    @_locked
    def forms(self) -> list[FormSpec]:
        """The latest version of every form."""
        rows = self.db.query(
            "SELECT spec FROM forms f WHERE added_at = "
            "(SELECT max(added_at) FROM forms g WHERE g.id = f.id) ORDER BY id"
        )
        return [FormSpec.model_validate_json(row["spec"]) for row in rows]

    # -- records --------------------------------------------------------------------------
    def new_draft(self, form_id: str, values: Mapping[str, Any] | None = None) -> Record:
        """Start a record; it is saved (encrypted) at once, so nothing typed is ever lost."""
        with self._lock:
            spec = self.form(form_id)
            record_id = str(uuid.uuid4())
            opened = stamp_metadata(spec, values or {}, "open", self.wall_clock())
            checked = check(spec, opened, partial=True)
            row = self._new_row(record_id, spec, "draft")
            with self.db.atomic():
                self._write(row, spec, checked.values, insert=True)
            return self.get(record_id)

    def save_draft(self, record_id: str, values: Mapping[str, Any]) -> Record:
        """Autosave: store whatever is typed (even invalid) as an encrypted draft.

        Any record can be reopened: a sent one becomes an edit based on what the server has;
        one still in flight keeps its base until the server's answer arrives.
        """
        with self._lock:
            row = self._editable_row(record_id)
            spec = self.form(row["form_id"], row["form_version"])
            checked = check(spec, values, partial=True)
            edit = {
                **row,
                "status": "draft",
                "updated_at": self._now(),
                "base_revision": _base(row),
            }
            with self.db.atomic():
                self._write(edit, spec, checked.values)
            return self.get(record_id)

    def finalise(
        self,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Record:
        """Validate fully, then save as final: sealed for the organisation and in the outbox.

        Raises ValidationFailed with every error; the draft is saved first either way.
        """
        with self._lock:
            row = self._editable_row(record_id)
            if values is None:
                values = self._decrypt_values(row)
            spec = self.form(row["form_id"], row["form_version"])
            values = stamp_metadata(spec, values, "finalise", self.wall_clock())
            checked = check(spec, values, lang=lang, today=today)
            if not checked.ok:
                self.save_draft(record_id, values)
                raise ValidationFailed(checked.errors)
            final = {
                **row,
                "status": "final",
                "updated_at": self._now(),
                "problems": None,
                "base_revision": _base(row),
            }
            with self.db.atomic():
                self._write(final, spec, checked.values)
            return self.get(record_id)

    def create_final(
        self,
        form_id: str,
        values: Mapping[str, Any],
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Record:
        """A finalised record in one step (imports): all or nothing, never a half-saved row."""
        with self._lock:
            checked = self.check_final(form_id, values, lang=lang, today=today)
            if not checked.ok:
                raise ValidationFailed(checked.errors)
            spec = self.form(form_id)
            record_id = str(uuid.uuid4())
            row = self._new_row(record_id, spec, "final")
            with self.db.atomic():
                self._write(row, spec, checked.values, insert=True)
            return self.get(record_id)

    def check_final(
        self,
        form_id: str,
        values: Mapping[str, Any],
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Checked:
        """What `create_final` would make of `values` (metadata stamped, every rule checked),
        saving nothing: an import checks all its rows before it saves any."""
        spec = self.form(form_id)
        moment = self.wall_clock()
        values = stamp_metadata(
            spec, stamp_metadata(spec, values, "open", moment), "finalise", moment
        )
        return check(spec, values, lang=lang, today=today)

    def discard_draft(self, record_id: str) -> None:
        """Delete a draft that was never finalised (nothing about it left the device)."""
        with self._lock:
            row = self._row(record_id)
            if row["status"] != "draft" or row["base_revision"] is not None:
                raise StoreError(f"record {record_id} is {row['status']}: only new drafts go")
            self.db.execute("DELETE FROM records WHERE id = ?", [record_id])

    def settle_conflict(
        self,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        head: str | None = None,
        lang: str = "en",
    ) -> Record:
        """Settle a conflict from this device: finalise `values` (None: this device's own
        version; else a merge of both versions) on top of the server's head, `head` (the one
        the record's conflict named, if not given), so the next push is accepted as the
        newest revision. The other version stays in the server's history, and the server
        keeps the record flagged until the office resolves it: the record is marked settled
        here, so that flag does not bring it back as a conflict (see `conflict_settled`).

        Raises ValidationFailed like `finalise` (the record is then a draft on that head).
        """
        with self._lock:
            row = self._row(record_id)
            base = head or row["server_revision"]
            if row["status"] != "conflict" or not base:
                raise StoreError(f"record {record_id} is {row['status']}, not in conflict")
            if values is None:
                values = self._decrypt_values(row)
            self.db.table("records").update(
                record_id, {"base_revision": base, "conflict_settled_at": self._now()}
            )
            return self.finalise(record_id, values, lang=lang)

    @_locked
    def conflict_settled(self, record_id: str, revision: str) -> bool:
        """Whether this device's copy of the record is at `revision` and its user settled the
        record's conflict (`settle_conflict`): the server's news that this revision is the
        head of a record still flagged for the office is then no new conflict for it."""
        row = self.db.execute(
            "SELECT conflict_settled_at FROM records WHERE id = ? AND revision = ?",
            [record_id, revision],
        ).fetchone()
        return row is not None and row[0] is not None

    def conflict_resolved(
        self, record_id: str, head_revision: str, superseded: Collection[str] = ()
    ) -> bool:
        """The office settled this record's conflict, keeping `head_revision` and setting
        aside `superseded`; True if this device's copy was in conflict, or was sent settled
        here at one of those revisions, and is now `sent`, based on that head.

        If the office kept another version than this device's, the copy stays (the server
        keeps it too, superseded) with a `superseded` problem saying so: an edit made from
        here builds on the office's version. A copy not in conflict (edited meanwhile, never
        flagged, or sent after the office decided) is left alone, its settling done with.
        """
        with self._lock, self.db.atomic():
            row = self._row(record_id)
            settled = row["conflict_settled_at"] is not None
            if row["status"] != "conflict" and not (
                settled
                and row["status"] == "sent"
                and row["revision"] in {head_revision, *superseded}
            ):
                if settled:
                    self.db.table("records").update(record_id, {"conflict_settled_at": None})
                return False
            kept_mine = row["revision"] == head_revision
            self.db.table("records").update(
                record_id,
                {
                    "status": "sent",
                    "problems": None if kept_mine else json.dumps([_superseded(head_revision)]),
                    "server_revision": None if kept_mine else head_revision,
                    "sent_at": self._now(),
                    "base_revision": head_revision,
                    "conflict_settled_at": None,
                },
            )
            return True

    def get(self, record_id: str) -> Record:
        with self._lock:
            row = self._row(record_id)
            return Record(
                id=row["id"],
                form_id=row["form_id"],
                form_version=row["form_version"],
                status=row["status"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                device_id=row["device_id"],
                revision=row["revision"],
                base_revision=row["base_revision"],
                values=self._decrypt_values(row),
                problems=json.loads(row["problems"] or "[]"),
                server_revision=row["server_revision"],
                purged=row["purged_at"] is not None,
                consent_withdrawn=row["consent_withdrawn_at"] is not None,
                conflict_settled=row["conflict_settled_at"] is not None,
            )

    @_locked
    def list_records(
        self,
        *,
        form_id: str | None = None,
        status: Status | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page:
        """Newest first, a page at a time (keyset paging on an index: page 200 is as fast as 1).

        Works while locked: nothing here is decrypted.
        """
        where, params = self._filters(form_id, status, since, until)
        if after:
            updated_at, _, last_id = after.partition("|")
            where.append("(updated_at, id) < (?, ?)")
            params += [updated_at, last_id]
        columns = (
            "id, form_id, form_version, status, created_at, updated_at, stats, problems,"
            " consent_withdrawn_at"
        )
        sql = f"SELECT {columns} FROM records {_where(where)} ORDER BY updated_at DESC, id DESC LIMIT ?"  # noqa: S608, E501
        rows = list(self.db.query(sql, [*params, limit + 1]))
        items = [
            RecordSummary(
                id=r["id"],
                form_id=r["form_id"],
                form_version=r["form_version"],
                status=r["status"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                stats=json.loads(r["stats"]),
                problem_count=len(json.loads(r["problems"] or "[]")),
                consent_withdrawn=r["consent_withdrawn_at"] is not None,
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        next_after = f"{items[-1].updated_at}|{items[-1].id}" if more and items else None
        return Page(items=items, next_after=next_after)

    @_locked
    def count(
        self,
        *,
        form_id: str | None = None,
        status: Status | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> int:
        where, params = self._filters(form_id, status, since, until)
        return int(
            self.db.execute(
                f"SELECT count(*) FROM records {_where(where)}",  # noqa: S608
                params,
            ).fetchone()[0]
        )

    @_locked
    def status_counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT status, count(*) AS n FROM records GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    @staticmethod
    def _filters(
        form_id: str | None, status: str | None, since: str | None, until: str | None
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("form_id = ?", form_id),
            ("status = ?", status),
            ("updated_at >= ?", since),
            ("updated_at < ?", until),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        return where, params

    # -- shared items (pulled from the server) ----------------------------------------------
    def put_shared(self, kind: str, key: str, data: Mapping[str, Any], seq: int) -> None:
        """Keep a reference list or training event the organisation shares; an older change
        (a lower seq, replayed) never overwrites a newer one."""
        with self._lock:
            self.db.execute(
                "INSERT INTO shared_items (kind, key, data, seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, seq = excluded.seq"
                " WHERE excluded.seq > shared_items.seq",
                [kind, key, json.dumps(data, sort_keys=True), seq],
            )

    def delete_shared(self, kind: str, key: str) -> None:
        """A tombstone from the server: the item is gone from the team."""
        with self._lock:
            self.db.execute("DELETE FROM shared_items WHERE kind = ? AND key = ?", [kind, key])

    @_locked
    def shared(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = self.db.query(
            "SELECT key, data FROM shared_items WHERE kind = ? ORDER BY key", [kind]
        )
        return {row["key"]: json.loads(row["data"]) for row in rows}

    # -- the outbox (used by the sync client) ------------------------------------------------
    def outbox(self, *, after: str = "", limit: int = 500) -> list[tuple[str, str]]:
        """(record id, envelope JSON) of records waiting to be sent, in a stable order.

        Envelopes were sealed and signed at finalisation, so sending needs no key: the outbox
        drains even while the app is locked.
        """
        with self._lock:  # never another thread's uncommitted rows
            rows = self.db.execute(
                "SELECT id, sealed FROM records INDEXED BY records_outbox"
                " WHERE status IN ('final', 'queued') AND sealed IS NOT NULL AND id > ?"
                " ORDER BY id LIMIT ?",
                [after, limit],
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def mark_queued(self, revisions: Mapping[str, str]) -> set[str]:
        """Mark records (id -> the revision about to leave) queued: a push without an answer
        leaves them so. Returns the ids marked; a record edited since it was read from the
        outbox is left alone (its old envelope must not go: the caller drops it)."""
        marked: set[str] = set()
        with self._lock, self.db.atomic():
            for record_id, revision in revisions.items():
                cursor = self.db.execute(
                    "UPDATE records SET status = 'queued' WHERE id = ? AND revision = ?"
                    " AND status IN ('final', 'queued')",
                    [record_id, revision],
                )
                if cursor.rowcount:
                    marked.add(record_id)
        return marked

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes as one durable commit, all or none: the sync client writes a whole
        batch's outcomes at once (on failure the records stay queued, to be re-pushed), an
        import all its rows (on failure none is saved, so running it again duplicates none)."""
        with self._lock, self.db.atomic():
            yield

    def record_outcome(
        self,
        record_id: str,
        revision: str,
        status: Literal["sent", "rejected", "conflict"],
        *,
        problems: list[dict[str, Any]] | None = None,
        receipt: str | None = None,
        server_revision: str | None = None,
        received_at: datetime | None = None,
    ) -> bool:
        """Write back what the server said about one revision; True if the record took it.

        If the record was edited while that revision was in flight, the edit stands (and is
        already based on the revision in flight, see `_base`).
        """
        with self._lock, self.db.atomic():
            row = self._row(record_id)
            if row["revision"] != revision:
                return False  # edited meanwhile: the edit is already based on that revision
            self.db.table("records").update(
                record_id,
                {
                    "status": status,
                    "problems": json.dumps(problems) if problems else None,
                    "receipt": receipt or row["receipt"],
                    "received_at": row["received_at"] if received_at is None else _iso(received_at),
                    "server_revision": server_revision,
                    "sent_at": self._now() if status == "sent" else None,
                    "base_revision": revision if status == "sent" else row["base_revision"],
                },
            )
            return True

    def record_outcomes(self, outcomes: Iterable[Outcome]) -> int:
        """`record_outcome` for a whole batch in one statement and one durable commit (all or
        none); returns how many records took theirs. A record edited while its revision was
        in flight keeps the edit; a record no longer on the device is skipped."""
        sent_at = self._now()
        rows = [
            (
                o.status,
                json.dumps(o.problems) if o.problems else None,
                o.receipt or None,
                None if o.received_at is None else _iso(o.received_at),
                o.server_revision,
                sent_at if o.status == "sent" else None,
                o.status,
                o.record_id,
                o.revision,
            )
            for o in outcomes
        ]
        with self._lock, self.db.atomic():
            cursor = self.db.conn.executemany(
                "UPDATE records SET status = ?, problems = ?, receipt = coalesce(?, receipt),"
                " received_at = coalesce(?, received_at), server_revision = ?, sent_at = ?,"
                " base_revision = CASE WHEN ? = 'sent' THEN revision ELSE base_revision END"
                " WHERE id = ? AND revision = ?",
                rows,
            )
            return cursor.rowcount

    def purge_sent(self, *, older_than: timedelta) -> int:
        """Erase the local copy of records the server has receipted, taken by the server more
        than `older_than` ago (zero: every receipted record): the sensitive ciphertext and the
        sealed envelope go; the clear statistics and the receipt stay, so the record still
        counts and can be proven sent.

        How long ago is the server's time: the receipt's `received_at` against `server_time()`,
        never this device's own clock (a clock set to 2076 would keep every record here).
        Only records with a receipt and not edited since are purged: nothing unsent is lost.
        """
        cutoff = _iso(self.server_time() - older_than) if older_than > timedelta(0) else None
        with self._lock, self.db.atomic():
            cursor = self.db.execute(
                "UPDATE records SET fields = NULL, sealed = NULL, purged_at = ?"
                " WHERE status = 'sent' AND receipt IS NOT NULL AND purged_at IS NULL"
                " AND received_at IS NOT NULL AND (? IS NULL OR received_at <= ?)",
                [self._now(), cutoff, cutoff],
            )
            purged = cursor.rowcount
        if purged:
            self._checkpoint()
        return purged

    # -- receipts the server must still honour ---------------------------------------------
    def receipts_to_check(
        self, *, since: datetime | None, after: str = "", limit: int = 500
    ) -> list[tuple[str, str]]:
        """(record id, revision) of receipted revisions that are still each record's own
        (sent, or stored as a conflict), taken by the server at `since` or later (None: any
        time), not already found lost; by id, after `after`. Works while locked."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, revision FROM records WHERE status IN ('sent', 'conflict')"
                " AND receipt IS NOT NULL AND receipt_lost_at IS NULL AND received_at >= ?"
                " AND id > ? ORDER BY id LIMIT ?",
                ["" if since is None else _iso(since), after, limit],
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def requeue_missing(self, revisions: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """The server no longer holds these receipted revisions (record id -> revision). A
        record still at that revision goes back to the outbox with its signed envelope, as
        if never sent (based where the envelope says), to be pushed again; one whose envelope
        is gone (purged after the receipt) cannot be: it is marked lost, with a problem that
        says so. One commit; returns (ids requeued, ids lost)."""
        requeued: list[str] = []
        lost: list[str] = []
        with self._lock, self.db.atomic():
            for record_id, revision in sorted(revisions.items()):
                row = next(
                    self.db.query(
                        "SELECT * FROM records WHERE id = ? AND revision = ?"
                        " AND status IN ('sent', 'conflict') AND receipt_lost_at IS NULL",
                        [record_id, revision],
                    ),
                    None,
                )
                if row is None:
                    continue  # edited or answered since: nothing to do
                if row["sealed"] is not None:
                    changes = {
                        "status": "final",
                        "base_revision": json.loads(row["sealed"]).get("base_revision"),
                        "server_revision": None,
                        "problems": None,
                        "received_at": None,
                        "conflict_settled_at": None,
                    }
                    requeued.append(record_id)
                else:
                    changes = {
                        "receipt_lost_at": self._now(),
                        "problems": json.dumps([_lost_on_server(row["received_at"])]),
                    }
                    lost.append(record_id)
                self.db.table("records").update(record_id, changes)
        for record_id in requeued:
            log.warning("the server lost receipted record %s: queued to be sent again", record_id)
        return requeued, lost

    # -- consent withdrawal ---------------------------------------------------------------
    def withdraw_consent(self, record_id: str) -> Record:
        """The person withdrew their consent: erase the record's sensitive part from this
        device now, and from the server by the next sync (security check 19).

        The encrypted fields, the outgoing envelope (whatever it sealed) and any roster entry
        shared from the record go at once, with secure_delete and a WAL checkpoint, so no old
        page keeps them; the clear statistics stay, so the record still counts. A draft that
        never reached the server stays here, erased, with nothing to send. Anything else gets a
        new signed revision without a sealed part, marked `consent_withdrawn`, in the outbox:
        the server erases the sealed part of every revision it holds when it takes it. Works
        whatever the status; the record can no longer be edited; withdrawing again changes
        nothing. The store must be unlocked (the revision is signed).
        """
        with self._lock:
            self._require_key()
            row = self._row(record_id)
            if row["consent_withdrawn_at"] is not None:
                return self.get(record_id)
            reached_server = row["status"] != "draft" or row["base_revision"] is not None
            changes: dict[str, Any] = {}
            if reached_server:
                base = _base(row)
                changes = {
                    "status": "final",
                    "base_revision": base,
                    "server_revision": None,
                    "revision": self._revision({**row, "base_revision": base}, None),
                }
            self._erase_sensitive_part(row, changes, announce=reached_server)
            log.info("consent withdrawn: record %s erased", record_id)
            return self.get(record_id)

    def erase_withdrawn(self, record_id: str, revision: str) -> bool:
        """The server says consent was withdrawn for this record (from another copy of it, or
        by the office) at its revision `revision`: erase the sensitive part here too, whatever
        the status, a pending edit included; the record becomes `sent` at that revision. True
        if anything was erased; a record withdrawn here already is left alone. Works while
        locked (nothing is decrypted or signed). Raises RecordNotFound."""
        with self._lock:
            row = self._row(record_id)
            if row["consent_withdrawn_at"] is not None:
                return False
            changes = {
                "status": "sent",
                "revision": revision,
                "base_revision": revision,
                "server_revision": None,
                "sent_at": self._now(),
            }
            self._erase_sensitive_part(row, changes, announce=False)
            log.info("consent withdrawn elsewhere: record %s erased", record_id)
            return True

    def _erase_sensitive_part(
        self, row: Mapping[str, Any], changes: Mapping[str, Any], *, announce: bool
    ) -> None:
        """Consent withdrawn: the record's encrypted fields, outgoing envelope and roster
        entries go in one commit, with `changes` to its status; `announce` signs a withdrawal
        into the outbox. The WAL is checkpointed after, so no old page keeps them."""
        now = self._now()
        erased = {
            **row,
            "fields": None,
            "sealed": None,
            "problems": None,
            "updated_at": now,
            "consent_withdrawn_at": now,
            "conflict_settled_at": None,  # the server sets every other version aside
            **changes,
        }
        with self.db.atomic():
            self.db.table("records").update(row["id"], erased)
            self._withdraw_roster_entries(row["id"])
            if announce:
                self._sign_envelope(erased, None, consent_withdrawn=True)
        self._checkpoint()

    def _withdraw_roster_entries(self, record_id: str, keys: Collection[str] | None = None) -> int:
        """Roster entries shared from the record (all, or those of `keys`) are erased here
        and withdrawn from the team; entries already being withdrawn are left. Returns how
        many were withdrawn."""
        sql = (
            "UPDATE roster_entries SET digest = '', sealed = NULL, pending = 1"
            " WHERE record_id = ? AND digest <> ''"
        )
        params = [record_id]
        if keys is not None:
            if not keys:
                return 0
            sql += f" AND entry_key IN ({','.join('?' * len(keys))})"
            params += list(keys)
        return int(self.db.execute(sql, params).rowcount)

    def still_current(self, revisions: Mapping[str, str]) -> set[str]:
        """The ids among `revisions` (record id -> revision) whose record is still at that
        revision: the sync client asks just before a batch leaves, so an envelope replaced
        meanwhile (an edit, a consent withdrawal) is not sent."""
        ids = list(revisions)
        with self._lock:
            rows = self.db.execute(
                f"SELECT id, revision FROM records WHERE id IN ({','.join('?' * len(ids))})",  # noqa: S608
                ids,
            ).fetchall()
        return {row[0] for row in rows if revisions[row[0]] == row[1]}

    # -- internals ------------------------------------------------------------------------
    def _new_row(self, record_id: str, spec: FormSpec, status: Status) -> dict[str, Any]:
        now = self._now()
        return {
            "id": record_id,
            "form_id": spec.id,
            "form_version": spec.version,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "device_id": self.device_id,
            "base_revision": None,
            "deleted": 0,
        }

    def _editable_row(self, record_id: str) -> dict[str, Any]:
        row = self._row(record_id)
        if row["consent_withdrawn_at"] is not None:
            raise StoreError(
                f"record {record_id}: consent was withdrawn and its personal details erased,"
                " so it can no longer be edited"
            )
        if row["purged_at"] is not None:
            raise StoreError(
                f"record {record_id} was removed from this device after the server confirmed"
                " it: edit it from the office, where the organisation's key opens it"
            )
        return row

    def _row(self, record_id: str) -> dict[str, Any]:
        row = next(self.db.query("SELECT * FROM records WHERE id = ?", [record_id]), None)
        if row is None:
            raise RecordNotFound(f"no record {record_id} on this device")
        return row

    def _revision(self, row: Mapping[str, Any], values: Mapping[str, Any] | None) -> str:
        """`<generation>-<keyed hash of the content>`: the same edit always gets the same name
        (`values` None: a consent withdrawal, which holds none).

        Keyed, so the clear revision reveals nothing about the encrypted content.
        """
        base = row["base_revision"]
        generation = int(base.split("-", 1)[0]) + 1 if base else 1
        content = {"id": row["id"], "base": base, "form": row["form_id"], "values": values}
        digest = crypto.keyed_hash(
            crypto.subkey(self._require_key(), "revision"), crypto.canonical_json(content)
        )
        return f"{generation}-{digest[:32]}"

    def _write(
        self,
        row: Mapping[str, Any],
        spec: FormSpec,
        values: Mapping[str, Any],
        *,
        insert: bool = False,
    ) -> None:
        key = self._require_key()
        stats, secret = split_by_sensitivity(spec, values)
        revision = self._revision(row, values)
        fields = crypto.encrypt(
            key, crypto.canonical_json(secret), crypto.record_aad(row["id"], revision)
        )
        new = {
            **row,
            "revision": revision,
            "stats": json.dumps(stats, sort_keys=True),
            "fields": fields,
            "sealed": None,
        }
        new.setdefault("problems", None)
        records = self.db.table("records")
        if insert:
            records.insert(new)
        else:
            records.update(new["id"], new)
        log.debug(
            "saved record %s form=%s status=%s revision=%s",
            new["id"], new["form_id"], new["status"], revision,
        )  # fmt: skip
        recipients = self.recipients()
        if new["status"] == "final" and recipients:
            self._write_envelope(new, secret, recipients)
        team = self.team_key() if new["status"] == "final" and spec.roster_repeats() else None
        if team is not None:
            self._queue_roster(new, spec, values, team)

    def _decrypt_fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        blob = row["fields"]
        if blob is None:
            return {}
        aad = crypto.record_aad(row["id"], row["revision"])
        try:
            plain = crypto.decrypt(self._require_key(), blob, aad)
        except crypto.IntegrityError as exc:
            raise crypto.IntegrityError(
                f"record {row['id']}: its encrypted fields were altered or damaged ({exc})"
            ) from None
        result: dict[str, Any] = json.loads(plain)
        return result

    def _decrypt_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.form(row["form_id"], row["form_version"])
        return join_parts(spec, json.loads(row["stats"]), self._decrypt_fields(row))

    def iter_ids(self) -> Iterator[str]:
        for row in self.db.query("SELECT id FROM records ORDER BY id"):
            yield row["id"]


def _base(row: Mapping[str, Any]) -> str | None:
    """What an edit builds on: a revision in flight may already be on the server, so an edit
    made meanwhile is based on it (else the server would see a stale base: a false conflict);
    otherwise the last revision the server acknowledged."""
    return row["revision"] if row["status"] == "queued" else row["base_revision"]


def _superseded(head_revision: str) -> dict[str, Any]:
    return {
        "field": "",
        "path": "",
        "code": "superseded",
        "message": "the office kept another version of this record (server version "
        f"{head_revision}); yours stays in the server's history",
    }


def _lost_on_server(received_at: str | None) -> dict[str, Any]:
    return {
        "field": "",
        "path": "",
        "code": "lost_on_server",
        "message": f"the server confirmed this record ({received_at or 'at an unknown time'})"
        " but no longer holds it, and this device removed its copy after that receipt, so it"
        " cannot be sent again: tell the office (the receipt kept here proves it was sent)",
    }


def _where(clauses: list[str]) -> str:
    """Join fixed clauses from `Store._filters`; values are always bound parameters."""
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""
