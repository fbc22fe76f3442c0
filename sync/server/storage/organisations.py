"""Organisations: the tenants of a server, each with the recipient keys its records are
sealed to."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sync.server.storage.errors import AlreadyExists, NotFound
from sync.server.storage.models import Organisation
from sync.server.storage.tx import Tx, json_text

__all__ = ["by_id", "by_name", "create", "list_all", "require", "set_recipients"]


def _organisation(tx: Tx, row: Any) -> Organisation:
    return Organisation(
        id=row["id"],
        name=row["name"],
        created_at=tx.dt(row["created_at"]),
        recipients=json.loads(row["recipients"]),
    )


def create(tx: Tx, name: str, now: datetime, org_id: str | None = None) -> Organisation:
    """A new organisation with a fresh id (or `org_id`: a relay takes its upstream's) and no
    recipient keys; AlreadyExists if the name or the id is taken."""
    org_id = org_id or str(uuid.uuid4())
    try:
        tx.run(
            "INSERT INTO organisations (id, name, created_at, recipients) VALUES (?, ?, ?, ?)",
            (org_id, name, tx.ts(now), "[]"),
        )
    except tx.integrity_errors as exc:
        raise AlreadyExists(f"an organisation named {name!r} exists") from exc
    return by_id(tx, org_id)


def _where(tx: Tx, column: str, value: str) -> Organisation:
    row = tx.one(f"SELECT * FROM organisations WHERE {column} = ?", (value,))  # noqa: S608
    if row is None:
        raise NotFound(f"no organisation with {column} {value!r}")
    return _organisation(tx, row)


def by_id(tx: Tx, org_id: str) -> Organisation:
    """Raises NotFound."""
    return _where(tx, "id", org_id)


def by_name(tx: Tx, name: str) -> Organisation:
    """Raises NotFound."""
    return _where(tx, "name", name)


def list_all(tx: Tx) -> list[Organisation]:
    """Every organisation, by name."""
    return [_organisation(tx, row) for row in tx.all("SELECT * FROM organisations ORDER BY name")]


def set_recipients(tx: Tx, org_id: str, recipients: list[dict[str, Any]]) -> Organisation:
    """Replace the organisation's recipient keys; NotFound if there is no such organisation."""
    require(tx, org_id)
    tx.run("UPDATE organisations SET recipients = ? WHERE id = ?", (json_text(recipients), org_id))
    return by_id(tx, org_id)


def require(tx: Tx, org_id: str) -> None:
    """Raises NotFound unless the organisation exists."""
    if tx.one("SELECT 1 AS present FROM organisations WHERE id = ?", (org_id,)) is None:
        raise NotFound(f"no organisation with id {org_id!r}")
