"""The server's receipt-signing key, kept (wrapped) in the database so that every server
process behind a load balancer signs with the same one: the first to start wins."""

from __future__ import annotations

from datetime import datetime

from sync.server.storage.tx import Tx

__all__ = ["ensure"]


def ensure(tx: Tx, key_id: str, blob: bytes, now: datetime) -> tuple[str, bytes]:
    """Store the (wrapped) key unless one is stored; the stored one's id and blob."""
    tx.run(
        "INSERT INTO server_keys (id, key_id, blob, created_at) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (key_id, blob, tx.ts(now)),
    )
    row = tx.one("SELECT key_id, blob FROM server_keys WHERE id = 1")
    return row["key_id"], bytes(row["blob"])
