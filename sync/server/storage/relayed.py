"""Revisions read in the order they were stored, for relays: what a relay forwards upstream
(after its cursor), and at the centre which revisions came through relays (with each hop)."""

from __future__ import annotations

from sync.server.storage.models import StoredRecord
from sync.server.storage.records import stored_record
from sync.server.storage.tx import Tx

__all__ = ["after", "newest"]


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
