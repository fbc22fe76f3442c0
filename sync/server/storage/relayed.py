"""Revisions read in the order they were stored, for relays: what a relay forwards upstream
(after its cursor), and at the centre which revisions came through relays (with each hop);
and at a relay, the upstream's record changes passed down to its own devices."""

from __future__ import annotations

import contextlib
from datetime import datetime

from sync.protocol import RecordChangeData
from sync.server.storage import audit, changes
from sync.server.storage.errors import NotFound, NotResolvable
from sync.server.storage.models import StoredRecord
from sync.server.storage.records import erase_withdrawn, resolve, stored_record
from sync.server.storage.tx import Tx, withdrawn

__all__ = ["after", "newest", "record_change_down"]


def after(tx: Tx, org_id: str, cursor: int, limit: int) -> list[StoredRecord]:
    """The organisation's revisions with seq > cursor, by seq, at most `limit`."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    rows = tx.all(
        "SELECT * FROM records WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (org_id, cursor, limit),
    )
    return [stored_record(tx, row) for row in rows]


def newest(tx: Tx, org_id: str | None, limit: int) -> list[StoredRecord]:
    """Revisions stored with the relays they came through, newest first, at most `limit`."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    where = "hops IS NOT NULL" + ("" if org_id is None else " AND org_id = ?")
    params = () if org_id is None else (org_id,)
    rows = tx.all(
        f"SELECT * FROM records WHERE {where} ORDER BY seq DESC LIMIT ?",  # noqa: S608
        (*params, limit),
    )
    return [stored_record(tx, row) for row in rows]


def record_change_down(
    tx: Tx,
    org_id: str,
    upstream_seq: int,
    record_id: str,
    deleted: bool,
    data: RecordChangeData,
    now: datetime,
    actor: str,
) -> tuple[bool, bool]:
    """Pass the upstream's `record` change (its seq `upstream_seq`) of a record held here on,
    unchanged, to every device that wrote or pushed a revision of it here; a consent
    withdrawal also erases the record's sealed parts here (as a withdrawal pushed here does),
    and a resolution settles the record here too when the kept version is one held here (so
    an edit built on it is not a new conflict here). Whether a change was written, and
    whether sealed bytes were erased: neither for a record not held here, or a change passed
    down before (a page pulled again)."""
    tx.lock_keys([record_id])
    head = tx.one(
        "SELECT * FROM record_heads WHERE id = ? AND org_id = ?", (record_id, org_id), lock=True
    )
    if head is None:
        return False, False
    if tx.one("SELECT 1 AS seen FROM relay_changes_passed_down WHERE upstream_seq = ?",
              (upstream_seq,)):  # fmt: skip
        return False, False
    tx.run("INSERT INTO relay_changes_passed_down (upstream_seq) VALUES (?)", (upstream_seq,))
    writers = tx.all("SELECT device_id, pushed_by FROM records WHERE id = ?", (record_id,))
    audience = {row[column] for row in writers for column in ("device_id", "pushed_by")}
    if data.resolved:  # settled here too, as upstream, if this relay holds the kept version
        with contextlib.suppress(NotFound, NotResolvable):
            resolve(tx, org_id, record_id, data.head_revision, now, actor, None, announce=False)
    erases = data.consent_withdrawn and not withdrawn(head)
    if erases:
        erase_withdrawn(tx, org_id, [record_id], now)
        audit.append(tx, now, actor, "withdraw_consent", "erased:upstream", org_id, None, record_id)
    change = changes.NewChange(
        org_id, head["owner_region"], "record", record_id, deleted, data, audience - {None}
    )
    changes.append(tx, [change])
    return True, erases
