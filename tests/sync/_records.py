"""Records on a device for the sync client tests: made, their receipts read, the store copied
as a backup would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fieldapp.store import Store
from sync.protocol import Receipt
from tests.conftest import PASSPHRASE, attendance_values, screening_values


def make_records(store: Store, count: int) -> list[str]:
    ids = []
    for index in range(count):
        if index % 3 == 2:
            record = store.records.create_final(
                "training_attendance", attendance_values(participants=2)
            )
        else:
            record = store.records.create_final("victim_screening", screening_values())
        ids.append(record.id)
    return ids


def receipts(store: Store) -> dict[str, Receipt]:
    rows = store.core.db.execute("SELECT id, receipt FROM records WHERE receipt IS NOT NULL")
    return {row[0]: Receipt.model_validate_json(row[1]) for row in rows.fetchall()}


def copy_store(store: Store, path: Path) -> Store:
    """A byte-for-byte backup of the store (SQLite's online backup), opened and unlocked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(path)
    store.core.db.conn.backup(target)
    target.close()
    copy = Store(path)
    copy.keyring.unlock(PASSPHRASE)
    return copy
