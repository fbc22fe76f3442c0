"""The change log: appending changes in seq order, and the page of them a device may see.

Seq numbers come from a single counter row, updated inside the writing transaction once all
its decisions are made and held locked until commit, so changes become visible in seq order:
a reader that has seen seq N never later finds a change with a seq below N. Who sees what is
the rule in base.py's docstring, applied here in SQL for both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sync.protocol import PROTOCOL_VERSION, ChangeKind, ChangesPage
from sync.server.storage.models import ORG_WIDE_ROLES, Device
from sync.server.storage.tx import Tx, json_text

__all__ = ["NewChange", "append", "page_query", "since", "since_json"]


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
    """`since` as the JSON of its `ChangesPage`, built by the database from the JSON text the
    change log keeps (written from the kinds' models): one query, one row, no model and no
    Python per change on the way out."""
    row = tx.one(*page_query(tx, viewer, cursor, limit))
    next_cursor = cursor if row["last"] is None else int(row["last"])
    has_more = "true" if int(row["visible"]) > limit else "false"
    return (
        f'{{"protocol":{PROTOCOL_VERSION},"changes":[{row["bodies"] or ""}],'
        f'"next_cursor":{next_cursor},"has_more":{has_more}}}'
    ).encode()


def page_query(tx: Tx, viewer: Device, cursor: int, limit: int) -> tuple[str, list[Any]]:
    """The query of `since_json`'s one row (the page's change JSON joined, its last seq, and
    how many of the limit + 1 changes after the cursor `viewer` may see) and its parameters,
    with `tx` readied to run it as index walks that stop at the page; ValueError if `limit`
    is below 1."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    arms, params = _visible(viewer, cursor, limit + 1)
    change = (
        "'{\"seq\":' || c.seq || ',\"kind\":' || " + tx.json_string("c.kind")
        + " || ',\"key\":' || " + tx.json_string("c.key")
        + " || ',\"deleted\":' || CASE WHEN c.deleted THEN 'true' ELSE 'false' END"
        + " || ',\"data\":' || c.data || '}'"
    )  # fmt: skip
    union = " UNION ALL ".join(
        f"SELECT * FROM (SELECT c.seq AS seq, {change} AS body FROM {arm}"  # noqa: S608
        f" ORDER BY {order} LIMIT ?) AS arm{number}"
        for number, (arm, order) in enumerate(arms)
    )
    tx.plan_index_walks()
    # The first `limit` of the limit + 1 visible changes make the page; the one past them
    # only says there is more.
    return (
        f"SELECT {tx.joined('body', 'seq')} FILTER (WHERE n <= ?) AS bodies,"  # noqa: S608
        " MAX(seq) FILTER (WHERE n <= ?) AS last, COUNT(*) AS visible"
        " FROM (SELECT seq, body, ROW_NUMBER() OVER (ORDER BY seq) AS n"
        f" FROM ({union}) AS arms ORDER BY seq LIMIT ?) AS page",
        [limit, limit, *params, limit + 1],
    )


def _visible(viewer: Device, cursor: int, limit: int) -> tuple[list[tuple[str, str]], list[Any]]:
    """The changes `viewer` may see after `cursor` as keyset arms: each a `FROM ... WHERE ...`
    over changes `c` and the seq column of the index it walks, for the caller's `ORDER BY
    <column> LIMIT ?`; then their parameters, each arm's followed by `limit` for its LIMIT.
    The arms' union is the rule in base.py's docstring; no change is in two arms."""
    # A team roster only ever reaches its own region (only its devices hold the key).
    roster = "(c.region = ? OR (c.region IS NULL AND ? = 1))"
    region_params = [viewer.region, 1 if viewer.region is None else 0]
    if viewer.role not in ORG_WIDE_ROLES:
        # Records and reviews reach their audience: walked from the viewer's own audience
        # rows (their primary key, in seq order), each change then fetched by its seq; the
        # rest (forms, shared items, revocations, rosters) from the partial index that
        # leaves records and reviews out, the organisation's then the global ones.
        audience = (
            "change_audience a JOIN changes c ON c.seq = a.seq WHERE a.device_id = ?"
            " AND a.seq > ? AND (c.org_id = ? OR c.org_id IS NULL)"
            " AND c.kind IN ('record', 'review')"
        )
        shared = (
            " AND c.seq > ? AND c.kind NOT IN ('record', 'review')"
            " AND ((c.kind <> 'roster' AND (c.region IS NULL OR c.region = ?))"
            f" OR (c.kind = 'roster' AND {roster}))"
        )
        shared_params = [cursor, viewer.region, *region_params, limit]
        params = [viewer.id, cursor, viewer.org_id, limit, viewer.org_id, *shared_params,
                  *shared_params]  # fmt: skip
        return (
            [
                (audience, "a.seq"),
                ("changes c WHERE c.org_id = ?" + shared, "c.seq"),
                ("changes c WHERE c.org_id IS NULL" + shared, "c.seq"),
            ],
            params,
        )
    # The office of one region reads other regions' record changes (their statistics), but
    # not their reviews: a review's comment is free text about one record.
    rules = (
        f" AND c.seq > ? AND (c.kind <> 'roster' OR {roster})"  # noqa: S608
        " AND (c.kind <> 'review' OR c.region = ? OR ? = 1"
        " OR EXISTS (SELECT 1 FROM change_audience a WHERE a.device_id = ? AND a.seq = c.seq))"
    )
    rule_params = [cursor, *region_params, *region_params, viewer.id, limit]
    return (
        [
            ("changes c WHERE c.org_id = ?" + rules, "c.seq"),
            ("changes c WHERE c.org_id IS NULL" + rules, "c.seq"),
        ],
        [viewer.org_id, *rule_params, *rule_params],
    )
