"""The SQL both backends share: schema, push semantics, change log, visibility rules.

A backend supplies connections and transactions (`_write`, `_read`), the placeholder style,
how timestamps travel, per-record locking and which exceptions are transient. SQL here uses
`?` placeholders and no literal `?` or `%`, so PostgreSQL can rewrite them to `%s`.
"""

from __future__ import annotations

import abc
import base64
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from pydantic import TypeAdapter

from sync.protocol import Change, ChangeKind, ChangesPage, RecordEnvelope, Role, WireFieldError
from sync.server.auth import OFFICE_ROLES, may_write
from sync.server.storage.base import (
    ORG_WIDE_ROLES,
    AlreadyExists,
    AuditEntry,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    Device,
    EnrolCode,
    FormVersion,
    NotFound,
    NotRecordOwner,
    NotResolvable,
    Organisation,
    Owner,
    PushResult,
    RecordHead,
    RosterStatus,
    SharedKind,
    StatsRow,
    Storage,
    StorageUnwritable,
    StoredRecord,
)

_WRITE_ATTEMPTS = 5
_DATETIME = TypeAdapter(datetime)
_T = TypeVar("_T")

# The schema, written once; each backend maps the type tokens to its own types.
SCHEMA_V1 = """
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    recipients TEXT NOT NULL
);
CREATE TABLE enrol_codes (
    code_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    region TEXT,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    device_id TEXT,
    redeemed_at {ts}
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    region TEXT,
    public_key {blob} NOT NULL,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at {ts} NOT NULL,
    revoked_at {ts}
);
CREATE INDEX devices_by_org ON devices (org_id, enrolled_at);
CREATE TABLE server_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    blob {blob} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE TABLE forms (
    scope TEXT NOT NULL,
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    org_id TEXT REFERENCES organisations (id),
    spec TEXT NOT NULL,
    published_at {ts} NOT NULL,
    seq {int8} NOT NULL,
    PRIMARY KEY (scope, form_id, version)
);
CREATE TABLE shared_items (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    region TEXT,
    data TEXT NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (org_id, kind, key)
);
CREATE TABLE records (
    id TEXT NOT NULL,
    revision TEXT NOT NULL,
    base_revision TEXT,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    region TEXT,
    device_id TEXT NOT NULL,
    pushed_by TEXT NOT NULL,
    form_id TEXT NOT NULL,
    form_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stats TEXT NOT NULL,
    sealed {blob},
    deleted {bool} NOT NULL,
    signature {blob} NOT NULL,
    content_digest TEXT NOT NULL,
    received_at {ts} NOT NULL,
    seq {int8} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current', 'conflict')),
    PRIMARY KEY (id, revision)
);
CREATE TABLE record_heads (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    form_id TEXT NOT NULL,
    head_revision TEXT NOT NULL,
    head_device_id TEXT NOT NULL,
    deleted {bool} NOT NULL,
    in_conflict {bool} NOT NULL
);
CREATE INDEX record_heads_by_org ON record_heads (org_id, form_id);
CREATE TABLE changes (
    seq {int8} PRIMARY KEY,
    org_id TEXT,
    region TEXT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    deleted {bool} NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX changes_by_org ON changes (org_id, seq);
CREATE TABLE change_audience (
    device_id TEXT NOT NULL,
    seq {int8} NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value {int8} NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);
CREATE TABLE audit (
    id {identity},
    at {ts} NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    org_id TEXT,
    device_id TEXT,
    record_id TEXT
);
CREATE INDEX audit_by_org ON audit (org_id, id)
"""

# Migration 2 widens the revision status check: a revision set aside when the office resolves
# a conflict becomes `superseded` (kept, like everything else: nothing is ever deleted).
STATUS_CHECK_V1 = "CHECK (status IN ('current', 'conflict'))"
STATUS_CHECK_V2 = "CHECK (status IN ('current', 'conflict', 'superseded'))"

# Migration 3: an enrolment code may carry the team key, wrapped by the code itself.
TEAM_KEY_COLUMN = "ALTER TABLE enrol_codes ADD COLUMN wrapped_team_key {blob}"

# Migration 4: a revision may be a consent withdrawal (kept as signed), and a record whose
# consent was withdrawn is marked on its head: it never takes sealed content again. Only a
# withdrawal writes these columns (other writes are as before), and reads go through
# `_withdrawn`, so a database made by an older schema works until it is migrated.
CONSENT_WITHDRAWN_COLUMNS = """
ALTER TABLE records ADD COLUMN consent_withdrawn {bool} NOT NULL DEFAULT FALSE;
ALTER TABLE record_heads ADD COLUMN consent_withdrawn {bool} NOT NULL DEFAULT FALSE
"""


# Migration 5: a record belongs to the signer of its first revision, in that revision's region
# (`auth.may_write`), kept on its head, filled in for the records stored before; a team roster
# entry to the device that first stored it (unknown for entries stored before: NULL). Every
# new record and entry writes them, so a push needs this migration (the app and the admin
# CLI migrate before they serve).
OWNER_COLUMNS = """
ALTER TABLE record_heads ADD COLUMN owner_device_id TEXT;
ALTER TABLE record_heads ADD COLUMN owner_region TEXT;
UPDATE record_heads SET
    owner_device_id = (SELECT r.device_id FROM records r WHERE r.id = record_heads.id
                       ORDER BY r.seq LIMIT 1),
    owner_region = (SELECT r.region FROM records r WHERE r.id = record_heads.id
                    ORDER BY r.seq LIMIT 1);
ALTER TABLE shared_items ADD COLUMN owner_device_id TEXT
"""


def schema_statements(schema: str, types: dict[str, str]) -> list[str]:
    """Split a schema template into statements with the backend's types filled in."""
    return [s.strip() for s in schema.format(**types).split(";") if s.strip()]


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Tx(abc.ABC):
    """One open transaction; rows support `row["column"]`."""

    @abc.abstractmethod
    def all(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> list[Any]:
        """Rows of a query; `lock` locks them until commit where the backend needs that."""

    @abc.abstractmethod
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def one(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> Any:
        rows = self.all(sql, params, lock=lock)
        return rows[0] if rows else None


@dataclass(slots=True)
class _NewChange:
    org_id: str | None
    region: str | None
    kind: ChangeKind
    key: str
    deleted: bool
    data: dict[str, Any]
    audience: set[str] = field(default_factory=set)
    seq: int = 0


@dataclass(slots=True)
class _Revision:
    content_digest: str
    received_at: datetime
    seq: int = 0
    change: _NewChange | None = None  # pending in this batch: seq known after allocation

    def final_seq(self) -> int:
        return self.change.seq if self.change is not None else self.seq


_UNLOADED = Owner("", "", None)  # the owner of a head not loaded yet: nobody may write it


@dataclass(slots=True)
class _Head:
    org_id: str
    form_id: str
    head_revision: str
    head_device_id: str
    deleted: bool
    in_conflict: bool
    siblings: list[str]
    dirty: bool = False
    withdrawn: bool = False  # consent withdrawn: no sealed content is ever stored again
    participants: set[str] = field(default_factory=set)  # wrote or pushed a revision
    owner: Owner = _UNLOADED  # who may write it, with the office


@dataclass(slots=True)
class _Pending:
    """A result waiting for the batch's seq allocation."""

    envelope: RecordEnvelope
    status: str
    revision: _Revision | None = None
    current_revision: str | None = None
    error: WireFieldError | None = None


class SqlStorage(Storage):
    """Everything but connections, placeholders and locking."""

    migrations: ClassVar[Sequence[tuple[int, str, Sequence[str]]]]
    transient_errors: ClassVar[tuple[type[Exception], ...]]
    integrity_errors: ClassVar[tuple[type[Exception], ...]]
    # Why the last write failed for want of storage; None once one succeeds (`_write`).
    _write_failure: str | None = None

    # -- backend hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _write_transaction(self) -> AbstractContextManager[Tx]:
        """A read-write transaction, committed on normal exit, rolled back on an exception."""

    @abc.abstractmethod
    def _cannot_write(self, error: Exception) -> str | None:
        """If `error` says the database cannot store anything now (full, read-only, failing
        disk), why, in words fit for anyone (see `write_problem`); else None."""

    @abc.abstractmethod
    def _storage_problem(self) -> str | None:
        """What a cheap look, without writing, finds in the way of writing (a full or
        read-only disk or database), or None."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Tx]:
        """A transaction for consistent reads."""

    @abc.abstractmethod
    def _lock_migrations(self, tx: Tx) -> None: ...

    @abc.abstractmethod
    def _lock_records(self, tx: Tx, record_ids: list[str]) -> None:
        """Serialise concurrent batches touching the same records (ids come sorted)."""

    @abc.abstractmethod
    def _ts(self, value: datetime) -> Any: ...

    @abc.abstractmethod
    def _dt(self, value: Any) -> datetime: ...

    def _dt_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self._dt(value)

    # -- whether the database can write -----------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        """A read-write transaction (`_write_transaction`) that notes whether the database
        could write: a failure for want of storage is raised as StorageUnwritable and kept
        for `write_problem` until a write succeeds."""
        try:
            with self._write_transaction() as tx:
                yield tx
        except Exception as exc:
            reason = self._cannot_write(exc)
            if reason is None:
                raise
            self._write_failure = reason
            raise StorageUnwritable(f"the server cannot store anything now: {reason}") from exc
        self._write_failure = None

    def write_problem(self) -> str | None:
        """What the backend sees in the way of writing; else, after a write failed for want of
        storage, a cheap write (a no-op update) tells whether that is over."""
        problem = self._storage_problem()
        if problem is not None or self._write_failure is None:
            return problem
        try:
            with self._write() as tx:
                tx.run("UPDATE change_counter SET value = value WHERE id = 1")
        except StorageUnwritable:
            return self._write_failure
        return None

    # -- lifecycle -------------------------------------------------------------------------

    def migrate(self) -> None:
        with self._write() as tx:
            self._lock_migrations(tx)
            tx.run(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {row["version"] for row in tx.all("SELECT version FROM schema_migrations")}
            for version, name, statements in self.migrations:
                if version in applied:
                    continue
                for statement in statements:
                    tx.run(statement)
                tx.run(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).isoformat()),
                )

    def applied_migrations(self) -> list[int]:
        with self._read() as tx:
            rows = tx.all("SELECT version FROM schema_migrations ORDER BY version")
        return [row["version"] for row in rows]

    # -- change log plumbing ---------------------------------------------------------------

    def _append_changes(self, tx: Tx, changes: list[_NewChange]) -> None:
        """Allocate seqs from the counter row (locked until commit) and insert the changes.

        Called once per transaction, after every decision, so the counter lock is held only
        for the final inserts and seqs become visible in allocation order.
        """
        if not changes:
            return
        row = tx.one(
            "UPDATE change_counter SET value = value + ? WHERE id = 1 RETURNING value",
            (len(changes),),
        )
        first = int(row["value"]) - len(changes) + 1
        for offset, change in enumerate(changes):
            change.seq = first + offset
        tx.many(
            "INSERT INTO changes (seq, org_id, region, kind, key, deleted, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(c.seq, c.org_id, c.region, c.kind, c.key, c.deleted, _json(c.data)) for c in changes],
        )
        audience = [(device_id, c.seq) for c in changes for device_id in sorted(c.audience)]
        if audience:
            tx.many("INSERT INTO change_audience (device_id, seq) VALUES (?, ?)", audience)

    # -- server key ------------------------------------------------------------------------

    def ensure_server_key(self, key_id: str, blob: bytes, now: datetime) -> tuple[str, bytes]:
        with self._write() as tx:
            tx.run(
                "INSERT INTO server_keys (id, key_id, blob, created_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (key_id, blob, self._ts(now)),
            )
            row = tx.one("SELECT key_id, blob FROM server_keys WHERE id = 1")
        return row["key_id"], bytes(row["blob"])

    # -- organisations ---------------------------------------------------------------------

    def _organisation(self, row: Any) -> Organisation:
        return Organisation(
            id=row["id"],
            name=row["name"],
            created_at=self._dt(row["created_at"]),
            recipients=json.loads(row["recipients"]),
        )

    def create_organisation(self, name: str, now: datetime) -> Organisation:
        org = Organisation(id=str(uuid.uuid4()), name=name, created_at=now, recipients=[])
        try:
            with self._write() as tx:
                tx.run(
                    "INSERT INTO organisations (id, name, created_at, recipients)"
                    " VALUES (?, ?, ?, ?)",
                    (org.id, name, self._ts(now), "[]"),
                )
        except self.integrity_errors as exc:
            raise AlreadyExists(f"an organisation named {name!r} exists") from exc
        return self.get_organisation(org.id)

    def _organisation_where(self, column: str, value: str) -> Organisation:
        with self._read() as tx:
            row = tx.one(f"SELECT * FROM organisations WHERE {column} = ?", (value,))  # noqa: S608
        if row is None:
            raise NotFound(f"no organisation with {column} {value!r}")
        return self._organisation(row)

    def get_organisation(self, org_id: str) -> Organisation:
        return self._organisation_where("id", org_id)

    def organisation_by_name(self, name: str) -> Organisation:
        return self._organisation_where("name", name)

    def list_organisations(self) -> list[Organisation]:
        with self._read() as tx:
            rows = tx.all("SELECT * FROM organisations ORDER BY name")
        return [self._organisation(row) for row in rows]

    def set_recipients(self, org_id: str, recipients: list[dict[str, Any]]) -> Organisation:
        with self._write() as tx:
            self._require_org(tx, org_id)
            tx.run(
                "UPDATE organisations SET recipients = ? WHERE id = ?",
                (_json(recipients), org_id),
            )
        return self.get_organisation(org_id)

    def _require_org(self, tx: Tx, org_id: str) -> None:
        if tx.one("SELECT 1 AS present FROM organisations WHERE id = ?", (org_id,)) is None:
            raise NotFound(f"no organisation with id {org_id!r}")

    # -- enrolment and devices -------------------------------------------------------------

    def create_enrol_code(
        self,
        org_id: str,
        code_hash: str,
        role: Role,
        region: str | None,
        expires_at: datetime,
        now: datetime,
        wrapped_team_key: bytes | None = None,
    ) -> EnrolCode:
        try:
            with self._write() as tx:
                self._require_org(tx, org_id)
                tx.run(
                    "INSERT INTO enrol_codes (code_hash, org_id, role, region, created_at,"
                    " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (code_hash, org_id, role, region, self._ts(now), self._ts(expires_at)),
                )
                # Apart, so that a code without a team key is written exactly as before
                # migration 3 (a database made by an older schema takes it unchanged).
                if wrapped_team_key is not None:
                    tx.run(
                        "UPDATE enrol_codes SET wrapped_team_key = ? WHERE code_hash = ?",
                        (wrapped_team_key, code_hash),
                    )
        except self.integrity_errors as exc:
            raise AlreadyExists("an enrolment code with this hash exists") from exc
        return EnrolCode(
            code_hash=code_hash,
            org_id=org_id,
            role=role,
            region=region,
            created_at=now,
            expires_at=expires_at,
            wrapped_team_key=wrapped_team_key,
        )

    def get_enrol_code(self, code_hash: str) -> EnrolCode:
        with self._read() as tx:
            row = tx.one("SELECT * FROM enrol_codes WHERE code_hash = ?", (code_hash,))
        if row is None:
            raise NotFound("no enrolment code has this hash")
        wrapped = row["wrapped_team_key"]
        return EnrolCode(
            code_hash=row["code_hash"],
            org_id=row["org_id"],
            role=cast(Role, row["role"]),
            region=row["region"],
            created_at=self._dt(row["created_at"]),
            expires_at=self._dt(row["expires_at"]),
            device_id=row["device_id"],
            redeemed_at=self._dt_or_none(row["redeemed_at"]),
            wrapped_team_key=None if wrapped is None else bytes(wrapped),
        )

    def _device(self, row: Any) -> Device:
        return Device(
            id=row["id"],
            org_id=row["org_id"],
            role=cast(Role, row["role"]),
            region=row["region"],
            public_key=bytes(row["public_key"]),
            label=row["label"],
            enrolled_at=self._dt(row["enrolled_at"]),
            revoked_at=self._dt_or_none(row["revoked_at"]),
        )

    def redeem_enrol_code(
        self,
        code_hash: str,
        device_id: str,
        public_key: bytes,
        label: str,
        token_hash: str,
        now: datetime,
    ) -> Device:
        try:
            with self._write() as tx:
                code = tx.one(
                    "SELECT * FROM enrol_codes WHERE code_hash = ?", (code_hash,), lock=True
                )
                if code is None:
                    raise CodeInvalid("unknown enrolment code")
                if now >= self._dt(code["expires_at"]):
                    raise CodeExpired("the enrolment code has expired")
                if code["device_id"] is None:
                    if tx.one("SELECT 1 AS present FROM devices WHERE id = ?", (device_id,)):
                        raise AlreadyExists(f"device {device_id!r} is already enrolled")
                    tx.run(
                        "INSERT INTO devices (id, org_id, role, region, public_key, label,"
                        " token_hash, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            device_id,
                            code["org_id"],
                            code["role"],
                            code["region"],
                            public_key,
                            label,
                            token_hash,
                            self._ts(now),
                        ),
                    )
                    tx.run(
                        "UPDATE enrol_codes SET device_id = ?, redeemed_at = ? WHERE code_hash = ?",
                        (device_id, self._ts(now), code_hash),
                    )
                elif code["device_id"] == device_id:
                    device = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
                    if bytes(device["public_key"]) != public_key or device["revoked_at"]:
                        raise CodeUsed("the enrolment code has been used")
                    tx.run(
                        "UPDATE devices SET token_hash = ?, label = ? WHERE id = ?",
                        (token_hash, label, device_id),
                    )
                else:
                    raise CodeUsed("the enrolment code has been used")
                row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
        except self.integrity_errors as exc:
            raise AlreadyExists(f"device {device_id!r} is already enrolled") from exc
        return self._device(row)

    def device_by_token(self, token_hash: str) -> Device | None:
        with self._read() as tx:
            row = tx.one(
                "SELECT * FROM devices WHERE token_hash = ? AND revoked_at IS NULL",
                (token_hash,),
            )
        return None if row is None else self._device(row)

    def get_device(self, device_id: str) -> Device:
        with self._read() as tx:
            row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
        if row is None:
            raise NotFound(f"no device {device_id!r}")
        return self._device(row)

    def list_devices(self, org_id: str) -> list[Device]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT * FROM devices WHERE org_id = ? ORDER BY enrolled_at, id", (org_id,)
            )
        return [self._device(row) for row in rows]

    def revoke_device(self, device_id: str, now: datetime) -> Device:
        with self._write() as tx:
            row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,), lock=True)
            if row is None:
                raise NotFound(f"no device {device_id!r}")
            if row["revoked_at"] is None:
                tx.run("UPDATE devices SET revoked_at = ? WHERE id = ?", (self._ts(now), device_id))
                change = _NewChange(
                    org_id=row["org_id"],
                    region=None,
                    kind="revocation",
                    key=device_id,
                    deleted=False,
                    data={"device_id": device_id, "revoked_at": now.astimezone(UTC).isoformat()},
                )
                self._append_changes(tx, [change])
            row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
        return self._device(row)

    # -- forms -----------------------------------------------------------------------------

    def _form(self, row: Any) -> FormVersion:
        return FormVersion(
            form_id=row["form_id"],
            version=row["version"],
            org_id=row["org_id"],
            spec=json.loads(row["spec"]),
            published_at=self._dt(row["published_at"]),
            seq=int(row["seq"]),
        )

    def publish_form(
        self, org_id: str | None, form_id: str, version: str, spec: dict[str, Any], now: datetime
    ) -> FormVersion:
        scope = org_id or ""
        spec_text = _json(spec)
        with self._write() as tx:
            if org_id is not None:
                self._require_org(tx, org_id)
            existing = tx.one(
                "SELECT * FROM forms WHERE scope = ? AND form_id = ? AND version = ?",
                (scope, form_id, version),
            )
            if existing is not None:
                if existing["spec"] != spec_text:
                    raise AlreadyExists(f"form {form_id} version {version} differs")
                return self._form(existing)
            change = _NewChange(
                org_id=org_id,
                region=None,
                kind="form",
                key=f"{form_id}@{version}",
                deleted=False,
                data={"form_id": form_id, "version": version, "spec": spec},
            )
            self._append_changes(tx, [change])
            tx.run(
                "INSERT INTO forms (scope, form_id, version, org_id, spec, published_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, form_id, version, org_id, spec_text, self._ts(now), change.seq),
            )
        return FormVersion(form_id, version, org_id, spec, now, change.seq)

    def get_form(self, org_id: str, form_id: str, version: str) -> FormVersion:
        with self._read() as tx:
            rows = tx.all(
                "SELECT * FROM forms WHERE scope IN (?, '') AND form_id = ? AND version = ?"
                " ORDER BY scope DESC",
                (org_id, form_id, version),
            )
        if not rows:
            raise NotFound(f"form {form_id} version {version} is not published")
        return self._form(rows[0])

    def published_form_seq(self, org_id: str, form_id: str, version: str) -> int | None:
        with self._read() as tx:
            row = tx.one(
                "SELECT seq FROM forms WHERE scope IN (?, '') AND form_id = ? AND version = ?"
                " ORDER BY scope DESC LIMIT 1",
                (org_id, form_id, version),
            )
        return None if row is None else int(row["seq"])

    def list_form_versions(self, org_id: str, form_id: str | None = None) -> list[FormVersion]:
        sql = "SELECT * FROM forms WHERE scope IN (?, '')"
        params: list[Any] = [org_id]
        if form_id is not None:
            sql += " AND form_id = ?"
            params.append(form_id)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY form_id, seq", params)
        forms: dict[tuple[str, str], FormVersion] = {}
        for row in rows:  # an organisation's own version shadows the global one
            if row["scope"] or (row["form_id"], row["version"]) not in forms:
                forms[(row["form_id"], row["version"])] = self._form(row)
        return sorted(forms.values(), key=lambda f: (f.form_id, f.seq))

    # -- shared items ----------------------------------------------------------------------

    def put_shared(
        self,
        org_id: str,
        kind: SharedKind,
        key: str,
        data: dict[str, Any],
        region: str | None,
        now: datetime,
    ) -> int:
        with self._write() as tx:
            self._require_org(tx, org_id)
            old = tx.one(
                "SELECT region FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?",
                (org_id, kind, key),
                lock=True,
            )
            changes = []
            if old is not None and old["region"] != region:
                changes.append(_NewChange(org_id, old["region"], kind, key, True, {}))
            changes.append(_NewChange(org_id, region, kind, key, False, data))
            tx.run(
                "INSERT INTO shared_items (org_id, kind, key, region, data, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, kind, key) DO UPDATE SET"
                " region = excluded.region, data = excluded.data,"
                " updated_at = excluded.updated_at",
                (org_id, kind, key, region, _json(data), self._ts(now)),
            )
            self._append_changes(tx, changes)
        return changes[-1].seq

    def delete_shared(self, org_id: str, kind: SharedKind, key: str, now: datetime) -> int:
        with self._write() as tx:
            old = tx.one(
                "SELECT region FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?",
                (org_id, kind, key),
                lock=True,
            )
            if old is None:
                raise NotFound(f"no {kind} {key!r}")
            tx.run(
                "DELETE FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?",
                (org_id, kind, key),
            )
            change = _NewChange(org_id, old["region"], kind, key, True, {})
            self._append_changes(tx, [change])
        return change.seq

    def put_roster(
        self, device: Device, entries: Sequence[tuple[str, bytes | None]], now: datetime
    ) -> list[RosterStatus]:
        return self._write_retrying(lambda tx: self._put_roster(tx, device, entries, now))

    def _put_roster(
        self,
        tx: Tx,
        device: Device,
        entries: Sequence[tuple[str, bytes | None]],
        now: datetime,
    ) -> list[RosterStatus]:
        keys = sorted({key for key, _ in entries})
        # Per-key locks, as for records: two batches naming one key never decide on the same
        # stale row (on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
        self._lock_records(tx, [f"roster/{key}" for key in keys])
        current: dict[str, str | None] = {}  # key -> stored data (None: absent), this region
        owners: dict[str, str] = {}  # key -> the device whose entry it is (this region)
        foreign: set[str] = set()  # keys of another region's entries
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for row in tx.all(
                "SELECT key, region, data, owner_device_id FROM shared_items"  # noqa: S608
                f" WHERE org_id = ? AND kind = 'roster' AND key IN ({_marks(len(chunk))})",
                [device.org_id, *chunk],
            ):
                if row["region"] != device.region:
                    foreign.add(row["key"])
                    continue
                current[row["key"]] = row["data"]
                if row["owner_device_id"] is not None:  # else stored before migration 5
                    owners[row["key"]] = row["owner_device_id"]
        statuses: list[RosterStatus] = []
        changes: list[_NewChange] = []
        touched: set[str] = set()
        for key, sealed in entries:  # in order: a key named again sees the earlier entry
            data = None if sealed is None else {"sealed": base64.b64encode(sealed).decode()}
            text = None if data is None else _json(data)
            owner = Owner(device.org_id, owners.setdefault(key, device.id), device.region)
            if key in foreign or not may_write(device, owner):
                statuses.append("refused")
            elif current.get(key) == text:
                statuses.append("unchanged")
            else:
                current[key] = text
                touched.add(key)
                deleted = data is None
                if deleted:  # a withdrawn key is free again
                    del owners[key]
                changes.append(
                    _NewChange(device.org_id, device.region, "roster", key, deleted, data or {})
                )
                statuses.append("withdrawn" if deleted else "stored")
        tx.many(
            "INSERT INTO shared_items (org_id, kind, key, region, data, updated_at,"
            " owner_device_id) VALUES (?, 'roster', ?, ?, ?, ?, ?)"
            " ON CONFLICT (org_id, kind, key) DO UPDATE SET data = excluded.data,"
            " updated_at = excluded.updated_at, owner_device_id = excluded.owner_device_id",
            [
                (device.org_id, key, device.region, current[key], self._ts(now), owners[key])
                for key in sorted(touched)
                if current[key] is not None
            ],
        )
        tx.many(
            "DELETE FROM shared_items WHERE org_id = ? AND kind = 'roster' AND key = ?",
            [(device.org_id, key) for key in sorted(touched) if current[key] is None],
        )
        self._append_changes(tx, changes)
        return statuses

    # -- records ---------------------------------------------------------------------------

    def push_records(
        self,
        device: Device,
        envelopes: list[RecordEnvelope],
        now: datetime,
        content_digests: Sequence[str] | None = None,
    ) -> list[PushResult]:
        if content_digests is None:
            content_digests = [env.content_digest for env in envelopes]
        elif len(content_digests) != len(envelopes):
            raise ValueError("one content digest per envelope")
        digests = content_digests
        results = self._write_retrying(lambda tx: self._push(tx, device, envelopes, digests, now))
        if any(
            env.consent_withdrawn and result.status == "accepted"
            for env, result in zip(envelopes, results, strict=True)
        ):
            self._after_erasure()
        return results

    def _after_erasure(self) -> None:
        """Called once a transaction that erased sealed bytes has committed: a backend that
        keeps old page images of its own (SQLite's write-ahead log) drops them here."""

    def _write_retrying(self, work: Callable[[Tx], _T]) -> _T:
        """`work` in a write transaction, run again on a transient failure between concurrent
        writers (PostgreSQL serialisation failures and deadlocks)."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._write() as tx:
                    return work(tx)
            except self.transient_errors:
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _load_state(
        self, tx: Tx, record_ids: list[str]
    ) -> tuple[dict[tuple[str, str], _Revision], dict[str, _Head]]:
        revisions: dict[tuple[str, str], _Revision] = {}
        heads: dict[str, _Head] = {}
        participants: dict[str, set[str]] = {}
        chunk = 500
        for start in range(0, len(record_ids), chunk):
            ids = record_ids[start : start + chunk]
            marks = _marks(len(ids))
            for row in tx.all(
                "SELECT id, revision, content_digest, received_at, seq, status,"  # noqa: S608
                f" device_id, pushed_by FROM records WHERE id IN ({marks}) ORDER BY seq",
                ids,
            ):
                revisions[(row["id"], row["revision"])] = _Revision(
                    row["content_digest"], self._dt(row["received_at"]), int(row["seq"])
                )
                participants.setdefault(row["id"], set()).update(
                    (row["device_id"], row["pushed_by"])
                )
                if row["status"] == "conflict":
                    heads.setdefault(row["id"], _Head("", "", "", "", False, False, []))
                    heads[row["id"]].siblings.append(row["revision"])
            for row in tx.all(
                f"SELECT * FROM record_heads WHERE id IN ({marks})",  # noqa: S608
                ids,
            ):
                head = heads.setdefault(row["id"], _Head("", "", "", "", False, False, []))
                head.org_id = row["org_id"]
                head.form_id = row["form_id"]
                head.head_revision = row["head_revision"]
                head.head_device_id = row["head_device_id"]
                head.deleted = bool(row["deleted"])
                head.in_conflict = bool(row["in_conflict"])
                head.withdrawn = _withdrawn(row)
                head.owner = Owner(row["org_id"], row["owner_device_id"], row["owner_region"])
        for record_id, head in heads.items():
            head.participants = participants.get(record_id, set())
        return revisions, heads

    def _push(
        self,
        tx: Tx,
        device: Device,
        envelopes: list[RecordEnvelope],
        digests: Sequence[str],
        now: datetime,
    ) -> list[PushResult]:
        now = now.astimezone(UTC)
        record_ids = sorted({str(env.id) for env in envelopes})
        self._lock_records(tx, record_ids)
        revisions, heads = self._load_state(tx, record_ids)
        pending: list[_Pending] = []
        changes: list[_NewChange] = []
        new_rows: list[tuple[RecordEnvelope, _Revision, str]] = []
        withdrawn: list[str] = []  # records whose every revision's sealed part goes
        for env, digest in zip(envelopes, digests, strict=True):
            record_id = str(env.id)
            head = heads.get(record_id)
            stored = revisions.get((record_id, env.revision))
            if head is not None and head.org_id != device.org_id:
                pending.append(_Pending(env, "rejected", error=_error("record_id_taken")))
                continue
            if stored is not None:
                if stored.content_digest == digest:
                    assert head is not None
                    pending.append(_Pending(env, "duplicate", stored, head.head_revision))
                else:
                    pending.append(_Pending(env, "rejected", error=_error("revision_reused")))
                continue
            if head is not None and not may_write(device, head.owner):
                pending.append(_Pending(env, "rejected", error=_not_owner(env)))
                continue
            if head is not None and head.withdrawn and not env.consent_withdrawn:
                pending.append(_Pending(env, "rejected", error=_error("consent_withdrawn")))
                continue
            audience = {device.id, env.device_id}
            # A withdrawal becomes the head whatever its base: every version loses its sealed
            # part, so there is nothing left to compare, and conflicting ones are set aside.
            if head is None or env.base_revision == head.head_revision or env.consent_withdrawn:
                status = "accepted"
                if head is None:
                    head = heads[record_id] = _Head(
                        device.org_id, env.form_id, "", "", False, False, [],
                        owner=Owner(device.org_id, env.device_id, device.region),
                    )  # fmt: skip
                head.form_id, head.head_revision = env.form_id, env.revision
                head.head_device_id, head.deleted = env.device_id, env.deleted
                if env.consent_withdrawn:
                    audience |= head.participants  # every copy of the record must go
                    head.withdrawn, head.in_conflict, head.siblings = True, False, []
                    withdrawn.append(record_id)
            else:
                status = "conflict"
                audience.add(head.head_device_id)
                head.siblings.append(env.revision)
                head.in_conflict = True
            head.dirty = True
            head.participants |= {device.id, env.device_id}
            change = _NewChange(
                org_id=device.org_id,
                region=device.region,
                kind="record",
                key=record_id,
                deleted=head.deleted,
                data={
                    "revision": env.revision,
                    "base_revision": env.base_revision,
                    "head_revision": head.head_revision,
                    "form_id": env.form_id,
                    "form_version": env.form_version,
                    "device_id": env.device_id,
                    "conflict": head.in_conflict,
                    "siblings": list(head.siblings),
                    **({"consent_withdrawn": True} if env.consent_withdrawn else {}),
                },
                audience=audience,
            )
            changes.append(change)
            revision = revisions[(record_id, env.revision)] = _Revision(digest, now, change=change)
            new_rows.append((env, revision, "current" if status == "accepted" else "conflict"))
            pending.append(_Pending(env, status, revision, head.head_revision))

        self._append_changes(tx, changes)
        self._insert_records(tx, device, new_rows, now)
        # After the inserts: a sealed revision stored earlier in this batch goes too.
        # The owner is written once, with the record's first revision: no update changes it.
        tx.many(
            "INSERT INTO record_heads (id, org_id, form_id, head_revision, head_device_id,"
            " deleted, in_conflict, owner_device_id, owner_region)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " form_id = excluded.form_id, head_revision = excluded.head_revision,"
            " head_device_id = excluded.head_device_id, deleted = excluded.deleted,"
            " in_conflict = excluded.in_conflict",
            [
                (rid, h.org_id, h.form_id, h.head_revision, h.head_device_id, h.deleted,
                 h.in_conflict, h.owner.device_id, h.owner.region)
                for rid, h in heads.items()
                if h.dirty
            ],
        )  # fmt: skip
        # After the inserts, so a sealed revision stored earlier in this batch goes too. The
        # mark is one-way: no other statement writes it.
        erased = [(record_id,) for record_id in sorted(set(withdrawn))]
        tx.many(
            "UPDATE records SET sealed = NULL, status = CASE WHEN status = 'conflict'"
            " THEN 'superseded' ELSE status END WHERE id = ?",
            erased,
        )
        tx.many("UPDATE record_heads SET consent_withdrawn = TRUE WHERE id = ?", erased)
        tx.many(
            "INSERT INTO audit (at, actor, action, outcome, org_id, device_id, record_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (self._ts(now), f"device:{device.id}", "push", _audit_outcome(p), device.org_id,
                 device.id, str(p.envelope.id))
                for p in pending
            ] + [
                (self._ts(now), f"device:{device.id}", "withdraw_consent", "erased",
                 device.org_id, device.id, record_id)
                for record_id in withdrawn
            ],
        )  # fmt: skip
        return [_result(p) for p in pending]

    def _insert_records(
        self,
        tx: Tx,
        device: Device,
        rows: list[tuple[RecordEnvelope, _Revision, str]],
        now: datetime,
    ) -> None:
        values = []
        for env, revision, status in rows:
            wire = env.model_dump(mode="json", include={"created_at", "updated_at"})
            values.append(
                (str(env.id), env.revision, env.base_revision, device.org_id, device.region,
                 env.device_id, device.id, env.form_id, env.form_version, wire["created_at"],
                 wire["updated_at"], _json(env.stats), env.sealed, env.deleted, env.signature,
                 revision.content_digest, self._ts(now), revision.final_seq(), status)
            )  # fmt: skip
        tx.many(
            "INSERT INTO records (id, revision, base_revision, org_id, region, device_id,"
            " pushed_by, form_id, form_version, created_at, updated_at, stats, sealed, deleted,"
            " signature, content_digest, received_at, seq, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        tx.many(
            "UPDATE records SET consent_withdrawn = TRUE WHERE id = ? AND revision = ?",
            [(str(env.id), env.revision) for env, _, _ in rows if env.consent_withdrawn],
        )

    def get_record(self, org_id: str, record_id: UUID) -> RecordHead:
        with self._read() as tx:
            head = tx.one(
                "SELECT * FROM record_heads WHERE id = ? AND org_id = ?", (str(record_id), org_id)
            )
            siblings = tx.all(
                "SELECT revision FROM records WHERE id = ? AND status = 'conflict' ORDER BY seq",
                (str(record_id),),
            )
        if head is None:
            raise NotFound(f"no record {record_id}")
        return RecordHead(
            id=record_id,
            org_id=org_id,
            form_id=head["form_id"],
            head_revision=head["head_revision"],
            deleted=bool(head["deleted"]),
            in_conflict=bool(head["in_conflict"]),
            siblings=[row["revision"] for row in siblings],
            consent_withdrawn=_withdrawn(head),
        )

    def resolve_conflict(
        self,
        org_id: str,
        record_id: UUID,
        keep_revision: str,
        now: datetime,
        *,
        actor: str,
        by: Device | None,
    ) -> RecordHead:
        return self._write_retrying(
            lambda tx: self._resolve(tx, org_id, str(record_id), keep_revision, now, actor, by)
        )

    def _resolve(
        self,
        tx: Tx,
        org_id: str,
        record_id: str,
        keep: str,
        now: datetime,
        actor: str,
        by: Device | None,
    ) -> RecordHead:
        self._lock_records(tx, [record_id])
        head = tx.one(
            "SELECT * FROM record_heads WHERE id = ? AND org_id = ?", (record_id, org_id), lock=True
        )
        if head is None:
            raise NotFound(f"no record {record_id}")
        owner = Owner(head["org_id"], head["owner_device_id"], head["owner_region"])
        if by is not None and not (by.role in OFFICE_ROLES and may_write(by, owner)):
            raise NotRecordOwner(
                f"record {record_id} is settled by an admin or case manager of its region"
                f" ({owner.region or 'none'}), not by a {by.role} of region {by.region or 'none'}"
            )
        rows = tx.all(
            "SELECT revision, base_revision, region, device_id, pushed_by, form_id, form_version,"
            " deleted, status FROM records WHERE id = ? ORDER BY seq",
            (record_id,),
        )
        kept = next((row for row in rows if row["revision"] == keep), None)
        if kept is None:
            raise NotFound(f"record {record_id} has no revision {keep!r}")
        siblings = [row["revision"] for row in rows if row["status"] == "conflict"]
        candidates = [head["head_revision"], *siblings]
        if keep not in candidates:
            raise NotResolvable(
                f"revision {keep!r} of record {record_id} is not in conflict: keep the head"
                " or one of its conflicting siblings"
            )
        superseded = [revision for revision in candidates if revision != keep]
        if superseded:
            tx.run(
                "UPDATE records SET status = 'current' WHERE id = ? AND revision = ?",
                (record_id, keep),
            )
            tx.many(
                "UPDATE records SET status = 'superseded' WHERE id = ? AND revision = ?",
                [(record_id, revision) for revision in superseded],
            )
            deleted = bool(kept["deleted"])
            tx.run(
                "UPDATE record_heads SET head_revision = ?, head_device_id = ?, form_id = ?,"
                " deleted = ?, in_conflict = ? WHERE id = ?",
                (keep, kept["device_id"], kept["form_id"], deleted, False, record_id),
            )
            change = _NewChange(
                org_id=org_id,
                region=kept["region"],
                kind="record",
                key=record_id,
                deleted=deleted,
                data={
                    "revision": keep,
                    "base_revision": kept["base_revision"],
                    "head_revision": keep,
                    "form_id": kept["form_id"],
                    "form_version": kept["form_version"],
                    "device_id": kept["device_id"],
                    "conflict": False,
                    "siblings": [],
                    "resolved": True,
                    "superseded": superseded,
                },
                audience={row[column] for row in rows for column in ("device_id", "pushed_by")},
            )
            self._append_changes(tx, [change])
        tx.run(
            "INSERT INTO audit (at, actor, action, outcome, org_id, device_id, record_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._ts(now), actor, "resolve_conflict", "ok" if superseded else "unchanged",
             org_id, None, record_id),
        )  # fmt: skip
        return RecordHead(
            id=UUID(record_id),
            org_id=org_id,
            form_id=kept["form_id"],
            head_revision=keep,
            deleted=bool(kept["deleted"]),
            in_conflict=False,
            siblings=[],
            consent_withdrawn=_withdrawn(head),
        )

    def list_revisions(self, org_id: str, record_id: UUID) -> list[StoredRecord]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT * FROM records WHERE id = ? AND org_id = ? ORDER BY seq",
                (str(record_id), org_id),
            )
        if not rows:
            raise NotFound(f"no record {record_id}")
        return [
            StoredRecord(
                id=UUID(row["id"]),
                revision=row["revision"],
                base_revision=row["base_revision"],
                org_id=row["org_id"],
                region=row["region"],
                device_id=row["device_id"],
                pushed_by=row["pushed_by"],
                form_id=row["form_id"],
                form_version=row["form_version"],
                created_at=_DATETIME.validate_python(row["created_at"]),
                updated_at=_DATETIME.validate_python(row["updated_at"]),
                stats=json.loads(row["stats"]),
                sealed=None if row["sealed"] is None else bytes(row["sealed"]),
                deleted=bool(row["deleted"]),
                signature=bytes(row["signature"]),
                content_digest=row["content_digest"],
                received_at=self._dt(row["received_at"]),
                seq=int(row["seq"]),
                status=row["status"],
                consent_withdrawn=_withdrawn(row),
            )
            for row in rows
        ]

    def held_revisions(
        self, viewer: Device, revisions: Sequence[tuple[UUID, str]]
    ) -> set[tuple[UUID, str]]:
        asked = {(str(record_id), revision) for record_id, revision in revisions}
        ids = sorted({record_id for record_id, _ in asked})
        stored: set[tuple[str, str]] = set()
        readable: set[str] = set()  # records the viewer wrote or pushed a revision of
        with self._read() as tx:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in tx.all(
                    "SELECT id, revision, device_id, pushed_by FROM records"  # noqa: S608
                    f" WHERE org_id = ? AND id IN ({_marks(len(chunk))})",
                    [viewer.org_id, *chunk],
                ):
                    stored.add((row["id"], row["revision"]))
                    if viewer.id in (row["device_id"], row["pushed_by"]):
                        readable.add(row["id"])
        everything = viewer.role in ORG_WIDE_ROLES
        return {
            (UUID(record_id), revision)
            for record_id, revision in asked & stored
            if everything or record_id in readable
        }

    # -- change log ------------------------------------------------------------------------

    def changes_since(self, viewer: Device, cursor: int, limit: int) -> ChangesPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        sql = (
            "SELECT seq, kind, key, deleted, data FROM changes c"
            " WHERE c.seq > ? AND (c.org_id = ? OR c.org_id IS NULL)"
        )
        params: list[Any] = [cursor, viewer.org_id]
        # A team roster only ever reaches its own region (only its devices hold the key).
        region_params = [viewer.region, 1 if viewer.region is None else 0]
        if viewer.role not in ORG_WIDE_ROLES:
            sql += (
                " AND ((c.kind NOT IN ('record', 'roster') AND (c.region IS NULL OR c.region = ?))"
                " OR (c.kind = 'record' AND EXISTS (SELECT 1 FROM change_audience a"
                " WHERE a.device_id = ? AND a.seq = c.seq))"
                " OR (c.kind = 'roster' AND (c.region = ? OR (c.region IS NULL AND ? = 1))))"
            )
            params += [viewer.region, viewer.id, *region_params]
        else:
            sql += " AND (c.kind <> 'roster' OR c.region = ? OR (c.region IS NULL AND ? = 1))"
            params += region_params
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY c.seq LIMIT ?", [*params, limit + 1])
        has_more = len(rows) > limit
        changes = [
            Change(
                seq=int(row["seq"]),
                kind=row["kind"],
                key=row["key"],
                deleted=bool(row["deleted"]),
                data=json.loads(row["data"]),
            )
            for row in rows[:limit]
        ]
        next_cursor = changes[-1].seq if changes else cursor
        return ChangesPage(changes=changes, next_cursor=next_cursor, has_more=has_more)

    # -- audit and stats -------------------------------------------------------------------

    def append_audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        now: datetime,
        *,
        org_id: str | None = None,
        device_id: str | None = None,
        record_id: str | None = None,
    ) -> None:
        with self._write() as tx:
            tx.run(
                "INSERT INTO audit (at, actor, action, outcome, org_id, device_id, record_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._ts(now), actor, action, outcome, org_id, device_id, record_id),
            )

    def list_audit(
        self, org_id: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        sql = "SELECT * FROM audit WHERE id > ?"
        params: list[Any] = [after_id]
        if org_id is not None:
            sql += " AND org_id = ?"
            params.append(org_id)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY id LIMIT ?", [*params, limit])
        return [
            AuditEntry(
                id=int(row["id"]),
                at=self._dt(row["at"]),
                actor=row["actor"],
                action=row["action"],
                outcome=row["outcome"],
                org_id=row["org_id"],
                device_id=row["device_id"],
                record_id=row["record_id"],
            )
            for row in rows
        ]

    def stats(self) -> list[StatsRow]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT org_id, form_id, CASE WHEN in_conflict THEN 'conflict'"
                " WHEN deleted THEN 'deleted' ELSE 'current' END AS status, COUNT(*) AS n"
                " FROM record_heads GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            )
        return [
            StatsRow(row["org_id"], row["form_id"], row["status"], int(row["n"])) for row in rows
        ]


def _withdrawn(row: Any) -> bool:
    """A row's consent withdrawal mark (False where migration 4 has not run: none there)."""
    columns = row.keys()  # `in` on an sqlite3.Row itself would look at its values
    return "consent_withdrawn" in columns and bool(row["consent_withdrawn"])


def _error(code: str) -> WireFieldError:
    """A refusal decided here, naming the envelope field it is about."""
    field, message = {
        "revision_reused": ("revision", "this revision was already stored with different content"),
        "record_id_taken": ("revision", "this record id belongs to another organisation"),
        "consent_withdrawn": (
            "sealed",
            "consent was withdrawn for this record: the server erased its personal details"
            " and stores no new version of them",
        ),
    }[code]
    return WireFieldError(field=field, path=field, code=code, message=message)


def _not_owner(envelope: RecordEnvelope) -> WireFieldError:
    """The refusal of a record the device may not write (`auth.may_write`), naming what it
    asked and who may do it."""
    what = "withdraw its consent" if envelope.consent_withdrawn else "store a version of it"
    return WireFieldError(
        field="id",
        path="id",
        code="not_record_owner",
        message=f"this record belongs to the device that created it: only that device, or an"
        f" admin or case manager of the record's region, may {what}",
    )


def _audit_outcome(pending: _Pending) -> str:
    """A refusal of who the device is reads as the app's refusals do; a stored outcome, or a
    rejection of what was sent, by its status."""
    if pending.error is not None and pending.error.code == "not_record_owner":
        return f"refused:{pending.error.code}"
    return pending.status


def _result(pending: _Pending) -> PushResult:
    env, revision = pending.envelope, pending.revision
    if revision is None:
        return PushResult(
            record_id=env.id,
            revision=env.revision,
            status="rejected",
            errors=[pending.error] if pending.error else [],
        )
    return PushResult(
        record_id=env.id,
        revision=env.revision,
        status=cast(Any, pending.status),
        seq=revision.final_seq(),
        received_at=revision.received_at,
        content_digest=revision.content_digest,
        current_revision=pending.current_revision,
    )
