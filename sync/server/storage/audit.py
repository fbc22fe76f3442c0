"""The audit log (append-only: the database refuses UPDATE and DELETE) and record counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync.server.storage.models import AuditEntry, StatsRow
from sync.server.storage.tx import Tx

__all__ = ["append", "append_many", "entries", "stats"]

_INSERT = (
    "INSERT INTO audit (at, actor, action, outcome, org_id, device_id, record_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def append(
    tx: Tx,
    now: datetime,
    actor: str,
    action: str,
    outcome: str,
    org_id: str | None = None,
    device_id: str | None = None,
    record_id: str | None = None,
) -> None:
    """Append one entry."""
    tx.run(_INSERT, (tx.ts(now), actor, action, outcome, org_id, device_id, record_id))


def append_many(tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
    """Append entries given as (at, actor, action, outcome, org_id, device_id, record_id),
    `at` already as `tx.ts` makes it."""
    tx.many(_INSERT, rows)


def entries(tx: Tx, org_id: str | None, after_id: int, limit: int) -> list[AuditEntry]:
    """Entries with id > after_id (of one organisation, or all), ascending."""
    sql = "SELECT * FROM audit WHERE id > ?"
    params: list[Any] = [after_id]
    if org_id is not None:
        sql += " AND org_id = ?"
        params.append(org_id)
    return [
        AuditEntry(
            id=int(row["id"]),
            at=tx.dt(row["at"]),
            actor=row["actor"],
            action=row["action"],
            outcome=row["outcome"],
            org_id=row["org_id"],
            device_id=row["device_id"],
            record_id=row["record_id"],
        )
        for row in tx.all(sql + " ORDER BY id LIMIT ?", [*params, limit])
    ]


def stats(tx: Tx) -> list[StatsRow]:
    """Records (not revisions) by organisation, form and head status."""
    rows = tx.all(
        "SELECT org_id, form_id, CASE WHEN in_conflict THEN 'conflict'"
        " WHEN deleted THEN 'deleted' ELSE 'current' END AS status, COUNT(*) AS n"
        " FROM record_heads GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    return [StatsRow(row["org_id"], row["form_id"], row["status"], int(row["n"])) for row in rows]
