"""The change log: appending changes in seq order, and the page of them a device may see.

Seq numbers come from a single counter row, updated inside the writing transaction once all
its decisions are made and held locked until commit, so changes become visible in seq order:
a reader that has seen seq N never later finds a change with a seq below N. Who sees what is
the rule in base.py's docstring, applied here in SQL for both backends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sync.protocol import PROTOCOL_VERSION, ChangeKind, ChangesPage
from sync.server.storage.models import ORG_WIDE_ROLES, Device
from sync.server.storage.tx import Tx, json_text

__all__ = ["NewChange", "append", "since", "since_json"]


@dataclass(slots=True)
class NewChange:
    """A change to append: `data` is the kind's data model (a shared item's own JSON for
    `reference` and `event`); `audience` the devices a `record` change reaches beyond the
    organisation-wide roles; `author` the device that wrote a `roster` entry (a relay
    forwards those of its own devices: migration 16); `seq` is set by `append`."""

    org_id: str | None
    region: str | None
    kind: ChangeKind
    key: str
    deleted: bool
    data: BaseModel | Mapping[str, Any]
    audience: set[str] | frozenset[str] = field(default_factory=set)
    author: str | None = None
    seq: int = 0

    def data_text(self) -> str:
        """The data as the change log keeps it (sorted keys, as devices have always got it)."""
        data = self.data.model_dump(mode="json") if isinstance(self.data, BaseModel) else self.data
        return json_text(data)


def append(tx: Tx, changes: list[NewChange]) -> None:
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
    # A change without an author is written as before migration 16 (an older schema takes it).
    tx.many(
        "INSERT INTO changes (seq, org_id, region, kind, key, deleted, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (c.seq, c.org_id, c.region, c.kind, c.key, c.deleted, c.data_text())
            for c in changes
            if c.author is None
        ],
    )
    tx.many(
        "INSERT INTO changes (seq, org_id, region, kind, key, deleted, data, author)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (c.seq, c.org_id, c.region, c.kind, c.key, c.deleted, c.data_text(), c.author)
            for c in changes
            if c.author is not None
        ],
    )
    audience = [(device_id, c.seq) for c in changes for device_id in sorted(c.audience)]
    if audience:
        tx.many("INSERT INTO change_audience (device_id, seq) VALUES (?, ?)", audience)


def since(tx: Tx, viewer: Device, cursor: int, limit: int) -> ChangesPage:
    """Changes visible to `viewer` with seq > cursor, ascending, at most `limit`; ValueError
    if `limit` is below 1."""
    return ChangesPage.model_validate_json(since_json(tx, viewer, cursor, limit))


def since_json(tx: Tx, viewer: Device, cursor: int, limit: int) -> bytes:
    """`since` as the JSON of its `ChangesPage`, spliced from the JSON text the change log
    keeps (written from the kinds' models): one query, no model per change on the way out."""
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
            " AND ((c.kind NOT IN ('record', 'review', 'roster')"
            " AND (c.region IS NULL OR c.region = ?))"
            " OR (c.kind IN ('record', 'review') AND EXISTS (SELECT 1 FROM change_audience a"
            " WHERE a.device_id = ? AND a.seq = c.seq))"
            " OR (c.kind = 'roster' AND (c.region = ? OR (c.region IS NULL AND ? = 1))))"
        )
        params += [viewer.region, viewer.id, *region_params]
    else:
        # The office of one region reads other regions' record changes (their statistics), but
        # not their reviews: a review's comment is free text about one record.
        sql += (
            " AND (c.kind <> 'roster' OR c.region = ? OR (c.region IS NULL AND ? = 1))"
            " AND (c.kind <> 'review' OR c.region = ? OR ? = 1"
            " OR EXISTS (SELECT 1 FROM change_audience a WHERE a.device_id = ? AND a.seq = c.seq))"
        )
        params += [*region_params, *region_params, viewer.id]
    rows = tx.all(sql + " ORDER BY c.seq LIMIT ?", [*params, limit + 1])
    page = rows[:limit]
    next_cursor = int(page[-1]["seq"]) if page else cursor
    has_more = "true" if len(rows) > limit else "false"
    return (
        f'{{"protocol":{PROTOCOL_VERSION},"changes":[{",".join(map(_change_json, page))}],'
        f'"next_cursor":{next_cursor},"has_more":{has_more}}}'
    ).encode()


def _change_json(row: Any) -> str:
    """A stored change as JSON: its data is the JSON text the change log keeps."""
    deleted = "true" if row["deleted"] else "false"
    return (
        f'{{"seq":{int(row["seq"])},"kind":{json.dumps(row["kind"])},'
        f'"key":{json.dumps(row["key"])},"deleted":{deleted},"data":{row["data"]}}}'
    )
