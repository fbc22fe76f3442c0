"""Sealing epoch headers (fieldapp.crypto.epochs), stored content-addressed per organisation:
kept as pushed, found by the sha256 the epoch envelopes name."""

from __future__ import annotations

from collections.abc import Iterable

from fieldapp.crypto import epoch_id_of
from sync.server.storage.tx import Tx

__all__ = ["get", "put"]


def put(tx: Tx, org_id: str, headers: Iterable[bytes]) -> None:
    """Keep each header under its sha256 (one already kept is not written again)."""
    for header in headers:
        tx.run(
            "INSERT INTO sealing_epochs (org_id, epoch_id, header) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (org_id, epoch_id_of(header), header),
        )


def get(tx: Tx, org_id: str, epoch_ids: Iterable[str]) -> dict[str, bytes]:
    """The organisation's headers among `epoch_ids`, by id (unknown ids are left out)."""
    found: dict[str, bytes] = {}
    for epoch_id in sorted(set(epoch_ids)):
        row = tx.one(
            "SELECT header FROM sealing_epochs WHERE org_id = ? AND epoch_id = ?",
            (org_id, epoch_id),
        )
        if row is not None:
            found[epoch_id] = bytes(row["header"])
    return found
