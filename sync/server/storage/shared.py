"""What an organisation shares with its teams: reference lists and training events (written
by the office), and team rosters (written by the devices of a region, sealed with its team
key). Each is a row of `shared_items`, and each write a change devices pull."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sync.protocol import RosterChangeData, RosterStatus
from sync.server.auth import may_write
from sync.server.storage import changes, organisations
from sync.server.storage.errors import NotFound
from sync.server.storage.models import Device, Owner, RosterWrite, SharedKind
from sync.server.storage.tx import Tx, chunks, json_text, marks

__all__ = ["delete", "put", "put_roster", "roster_writes_after"]


def put(
    tx: Tx,
    org_id: str,
    kind: SharedKind,
    key: str,
    data: Mapping[str, Any],
    region: str | None,
    now: datetime,
) -> int:
    """Create or replace the item with a change of its kind (and a tombstone for the region
    it leaves); the change's seq. NotFound (organisation)."""
    organisations.require(tx, org_id)
    old = tx.one(
        "SELECT region FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?",
        (org_id, kind, key),
        lock=True,
    )
    new = []
    if old is not None and old["region"] != region:
        new.append(changes.NewChange(org_id, old["region"], kind, key, True, {}))
    new.append(changes.NewChange(org_id, region, kind, key, False, data))
    tx.run(
        "INSERT INTO shared_items (org_id, kind, key, region, data, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, kind, key) DO UPDATE SET"
        " region = excluded.region, data = excluded.data, updated_at = excluded.updated_at",
        (org_id, kind, key, region, json_text(data), tx.ts(now)),
    )
    changes.append(tx, new)
    return new[-1].seq


def delete(tx: Tx, org_id: str, kind: SharedKind, key: str) -> int:
    """Delete the item with a tombstone change; the tombstone's seq. NotFound."""
    old = tx.one(
        "SELECT region FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?",
        (org_id, kind, key),
        lock=True,
    )
    if old is None:
        raise NotFound(f"no {kind} {key!r}")
    tx.run(
        "DELETE FROM shared_items WHERE org_id = ? AND kind = ? AND key = ?", (org_id, kind, key)
    )
    change = changes.NewChange(org_id, old["region"], kind, key, True, {})
    changes.append(tx, [change])
    return change.seq


def put_roster(
    tx: Tx,
    device: Device,
    entries: Sequence[tuple[str, bytes | None]],
    now: datetime,
    writers: Sequence[Device | None] | None = None,
) -> list[RosterStatus]:
    """Store the roster entries `device` pushed, one status per entry, in order (see
    `Storage.put_roster`): each as its writer's (`writers`, default `device` itself), in the
    writer's organisation and region; a None writer is refused."""
    writers = [device] * len(entries) if writers is None else writers
    keys = sorted({key for key, _ in entries})
    # Per-key locks, as for records: two batches naming one key never decide on the same
    # stale row (on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
    tx.lock_keys([f"roster/{key}" for key in keys])
    current: dict[str, str | None] = {}  # key -> stored data (None: absent)
    owners: dict[str, str] = {}  # key -> the device whose entry it is
    regions: dict[str, str | None] = {}  # key -> the region of its stored entry
    for chunk in chunks(keys):
        for row in tx.all(
            "SELECT key, region, data, owner_device_id FROM shared_items"  # noqa: S608
            f" WHERE org_id = ? AND kind = 'roster' AND key IN ({marks(len(chunk))})",
            [device.org_id, *chunk],
        ):
            regions[row["key"]] = row["region"]
            current[row["key"]] = row["data"]
            if row["owner_device_id"] is not None:  # else stored before migration 5
                owners[row["key"]] = row["owner_device_id"]
    statuses: list[RosterStatus] = []
    new: list[changes.NewChange] = []
    touched: set[str] = set()
    for (key, sealed), writer in zip(entries, writers, strict=True):
        # In order: a key named again sees the earlier entry.
        data = RosterChangeData(sealed=sealed)
        text = None if sealed is None else json_text(data.model_dump(mode="json"))
        if writer is None or writer.org_id != device.org_id:
            statuses.append("refused")
            continue
        region = regions.setdefault(key, writer.region)
        owner = Owner(device.org_id, owners.setdefault(key, writer.id), region)
        if region != writer.region or not may_write(writer, owner):
            statuses.append("refused")
        elif current.get(key) == text:
            statuses.append("unchanged")
        else:
            current[key] = text
            touched.add(key)
            deleted = sealed is None
            if deleted:  # a withdrawn key is free again
                del owners[key], regions[key]
            new.append(
                changes.NewChange(
                    device.org_id, region, "roster", key, deleted, data, author=writer.id
                )
            )
            statuses.append("withdrawn" if deleted else "stored")
    tx.many(
        "INSERT INTO shared_items (org_id, kind, key, region, data, updated_at,"
        " owner_device_id) VALUES (?, 'roster', ?, ?, ?, ?, ?)"
        " ON CONFLICT (org_id, kind, key) DO UPDATE SET data = excluded.data,"
        " updated_at = excluded.updated_at, owner_device_id = excluded.owner_device_id",
        [
            (device.org_id, key, regions[key], current[key], tx.ts(now), owners[key])
            for key in sorted(touched)
            if current[key] is not None
        ],
    )
    tx.many(
        "DELETE FROM shared_items WHERE org_id = ? AND kind = 'roster' AND key = ?",
        [(device.org_id, key) for key in sorted(touched) if current[key] is None],
    )
    changes.append(tx, new)
    return statuses


def roster_writes_after(tx: Tx, org_id: str, cursor: int, limit: int) -> list[RosterWrite]:
    """The organisation's roster changes with seq > cursor that a device wrote (not those
    written before migration 16), ascending, at most `limit`."""
    rows = tx.all(
        "SELECT seq, key, deleted, data, author FROM changes WHERE org_id = ?"
        " AND kind = 'roster' AND seq > ? AND author IS NOT NULL ORDER BY seq LIMIT ?",
        (org_id, cursor, limit),
    )
    return [
        RosterWrite(
            seq=int(row["seq"]),
            key=row["key"],
            sealed=None
            if row["deleted"]
            else RosterChangeData.model_validate_json(row["data"]).sealed,
            author=row["author"],
        )
        for row in rows
    ]
