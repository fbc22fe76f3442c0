"""The office's records list and reviews: record heads, newest received first, a keyset page
at a time; a review of a record's head; what a new revision does to a review.

Who sees what (the rule the app relies on): the office roles (`ORG_WIDE_ROLES`) of the
record's organisation, and a device enrolled with a region only that region's records.
Nothing sealed is ever read here: the list holds the head revision's statistics.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from sync.protocol import ReviewChangeData, ReviewState
from sync.server.storage import attachments, changes
from sync.server.storage.errors import NotFound
from sync.server.storage.models import Device, OfficeFilter, OfficePage, OfficeRow, ReviewStored
from sync.server.storage.tx import Tx, chunks, marks

__all__ = [
    "after_push",
    "heads_by_id",
    "list_records",
    "refresh_heads",
    "review",
]

_DATETIME = TypeAdapter(datetime)
# What a new accepted revision does to a review: the collector answered `has_issues`
# (back to `received`, as the brief asks); an approved or rejected record was edited (ODK).
_AFTER_NEW_REVISION: dict[str, ReviewState] = {
    "has_issues": "received",
    "approved": "edited",
    "rejected": "edited",
}


def list_records(
    tx: Tx, viewer: Device, query: OfficeFilter, after: int | None, limit: int
) -> OfficePage:
    """The viewer's organisation's records (its region's only, for a regional device)
    matching `query`, by head seq descending, below `after`; ValueError for a limit below 1."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    where = ["h.org_id = ?", "h.head_seq IS NOT NULL"]
    params: list[Any] = [viewer.org_id]
    if viewer.region is not None:
        where.append("h.owner_region = ?")
        params.append(viewer.region)
    for column, value in (
        ("h.form_id", query.form_id),
        ("h.owner_region", query.region),
        ("h.owner_device_id", query.device_id),
        ("h.review_state", query.review_state),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.received_from is not None:
        where.append("h.head_received_at >= ?")
        params.append(tx.ts(query.received_from))
    if query.received_to is not None:
        where.append("h.head_received_at < ?")
        params.append(tx.ts(query.received_to))
    if after is not None:
        where.append("h.head_seq < ?")
        params.append(after)
    # The page of heads first, by the office index (the LIMIT inside, so no plan can read
    # more), then each joined to its head revision by the records' primary key.
    heads = tx.all(
        "SELECT h.*, r.form_id AS revision_form_id, r.form_version, r.created_at,"  # noqa: S608
        " r.updated_at, r.stats FROM (SELECT h.id, h.head_revision, h.head_seq,"
        " h.head_received_at, h.owner_region, h.owner_device_id, h.deleted, h.in_conflict,"
        f" h.review_state, h.duplicate_of FROM record_heads h WHERE {' AND '.join(where)}"
        " ORDER BY h.head_seq DESC LIMIT ?) h"
        " JOIN records r ON r.id = h.id AND r.revision = h.head_revision"
        " ORDER BY h.head_seq DESC",
        [*params, limit + 1],
    )
    more = len(heads) > limit
    heads = heads[:limit]
    rows = _with_progress(tx, viewer.org_id, [_row(tx, head) for head in heads])
    next_after = int(heads[-1]["head_seq"]) if more and heads else None
    return OfficePage(rows, next_after)


def heads_by_id(tx: Tx, org_id: str, record_ids: Sequence[str]) -> dict[str, OfficeRow]:
    """The office's view of these records of the organisation (those that have a head)."""
    found: dict[str, OfficeRow] = {}
    for chunk in chunks(sorted(set(record_ids))):
        for head in tx.all(
            "SELECT h.id, h.head_revision, h.head_received_at, h.owner_region,"  # noqa: S608
            " h.owner_device_id, h.deleted, h.in_conflict, h.review_state, h.duplicate_of,"
            " r.form_id AS revision_form_id, r.form_version, r.created_at, r.updated_at,"
            " r.stats FROM record_heads h"
            " JOIN records r ON r.id = h.id AND r.revision = h.head_revision"
            f" WHERE h.org_id = ? AND h.head_seq IS NOT NULL AND h.id IN ({marks(len(chunk))})",
            [org_id, *chunk],
        ):
            found[head["id"]] = _row(tx, head)
    return found


def _with_progress(tx: Tx, org_id: str, rows: list[OfficeRow]) -> list[OfficeRow]:
    """The rows with their attachments' progress (for "waiting for attachments")."""
    progress = attachments.progress(tx, org_id, [str(row.id) for row in rows])
    return [dataclasses.replace(row, attachments=progress.get(str(row.id))) for row in rows]


def _row(tx: Tx, head: Any) -> OfficeRow:
    return OfficeRow(
        id=UUID(head["id"]),
        form_id=head["revision_form_id"],
        form_version=head["form_version"],
        revision=head["head_revision"],
        region=head["owner_region"],
        device_id=head["owner_device_id"],
        created_at=_DATETIME.validate_python(head["created_at"]),
        updated_at=_DATETIME.validate_python(head["updated_at"]),
        received_at=tx.dt(head["head_received_at"]),
        deleted=bool(head["deleted"]),
        in_conflict=bool(head["in_conflict"]),
        review_state=head["review_state"],
        stats=json.loads(head["stats"]),
        duplicate_of=None if head["duplicate_of"] is None else UUID(head["duplicate_of"]),
    )


def review(
    tx: Tx,
    viewer: Device,
    record_id: UUID,
    state: ReviewState,
    comment: str | None,
    now: datetime,
) -> ReviewStored:
    """Set the review state of the record's head (the viewer's organisation's, and its
    region's for a regional device; else NotFound, as for a record that does not exist),
    keep it in `record_reviews`, and append a `review` change for every device that wrote
    or pushed a revision of the record. Audited by the caller (state only, no comment)."""
    now = now.astimezone(UTC)
    key = str(record_id)
    tx.lock_keys([key])
    head = tx.one(
        "SELECT id, head_revision, owner_region FROM record_heads WHERE id = ? AND org_id = ?",
        (key, viewer.org_id),
        lock=True,
    )
    if head is None or (viewer.region is not None and head["owner_region"] != viewer.region):
        raise NotFound(f"no record {record_id}")
    revision = head["head_revision"]
    tx.run("UPDATE record_heads SET review_state = ? WHERE id = ?", (state, key))
    audience = _participants(tx, [key]).get(key, set())
    _keep(tx, [(key, viewer.org_id, revision, state, comment, f"device:{viewer.id}")], now)
    data = ReviewChangeData(comment=comment, reviewed_at=now, revision=revision, state=state)
    changes.append(
        tx,
        [changes.NewChange(viewer.org_id, head["owner_region"], "review", key, False, data,
                           audience)],
    )  # fmt: skip
    return ReviewStored(record_id, revision, state, comment, now)


def refresh_heads(tx: Tx, record_ids: Sequence[str]) -> None:
    """Copy each head revision's seq and receipt time onto its record's head (the list's
    order and keyset)."""
    tx.many(
        "UPDATE record_heads SET"
        " head_seq = (SELECT r.seq FROM records r WHERE r.id = record_heads.id"
        " AND r.revision = record_heads.head_revision),"
        " head_received_at = (SELECT r.received_at FROM records r WHERE r.id = record_heads.id"
        " AND r.revision = record_heads.head_revision) WHERE id = ?",
        [(record_id,) for record_id in record_ids],
    )


def after_push(
    tx: Tx,
    accepted: Mapping[str, str],
    audiences: Mapping[str, frozenset[str]],
    org_id: str,
    now: datetime,
) -> list[changes.NewChange]:
    """The review changes a push's new heads (`accepted`: record id -> head revision; read
    before the heads are written) make: a record under review moves on
    (`_AFTER_NEW_REVISION`), written here; the changes, for every device in the record's
    `audiences`, are for the caller to append with the rest of the push's."""
    if not accepted:
        return []
    moved: list[tuple[str, str | None, ReviewState]] = []
    for chunk in chunks(sorted(accepted)):
        for row in tx.all(
            "SELECT id, owner_region, review_state FROM record_heads"  # noqa: S608
            f" WHERE id IN ({marks(len(chunk))})",
            chunk,
        ):
            new_state = _AFTER_NEW_REVISION.get(row["review_state"])
            if new_state is not None:
                moved.append((row["id"], row["owner_region"], new_state))
    if not moved:
        return []
    now = now.astimezone(UTC)
    tx.many(
        "UPDATE record_heads SET review_state = ? WHERE id = ?",
        [(state, record_id) for record_id, _, state in moved],
    )
    actor = "server:new_revision"
    _keep(tx, [(rid, org_id, accepted[rid], state, None, actor) for rid, _, state in moved], now)
    return [
        changes.NewChange(
            org_id,
            region,
            "review",
            record_id,
            False,
            ReviewChangeData(reviewed_at=now, revision=accepted[record_id], state=state),
            set(audiences.get(record_id, frozenset())),
        )
        for record_id, region, state in moved
    ]


def _participants(tx: Tx, record_ids: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in chunks(list(record_ids)):
        for row in tx.all(
            "SELECT id, device_id, pushed_by FROM records"  # noqa: S608
            f" WHERE id IN ({marks(len(chunk))})",
            chunk,
        ):
            found.setdefault(row["id"], set()).update((row["device_id"], row["pushed_by"]))
    return found


_ReviewRow = tuple[str, str, str, str, str | None, str]


def _keep(tx: Tx, rows: Sequence[_ReviewRow], now: datetime) -> None:
    at = tx.ts(now)
    tx.many(
        "INSERT INTO record_reviews (record_id, org_id, revision, state, comment, actor, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*row, at) for row in rows],
    )
