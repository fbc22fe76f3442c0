"""People, not rows: the keyed match digests devices send with each revision, the candidate
duplicate records they reveal (two heads of one form sharing a victim's blocking key), the
office's decision on a pair (a merge marks one record the duplicate of the other, kept,
never deleted), and the people behind a training form's participant instances.

Only digests are compared: they are HMACs under the organisation's match key, which the
server never holds (fieldapp.crypto.matching). A regional viewer sees pairs whose records
are both of its region. Digests go with the sealed part when consent is withdrawn.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sync.protocol import RecordEnvelope
from sync.server.storage import office
from sync.server.storage.errors import NotFound
from sync.server.storage.models import (
    Attendance,
    Device,
    DuplicateRow,
    MatchDecisionStored,
    PeopleCount,
)
from sync.server.storage.tx import Tx, chunks, marks

__all__ = [
    "decide_duplicate",
    "decide_people",
    "duplicates",
    "erase",
    "people",
    "store",
]

_RECORD_DECISIONS = ("merged", "dismissed")
# A participant is the same person when the name and the organisation, or the name and the
# phone, agree; the same name alone is for a coordinator to confirm.
_SAME_PERSON = ("name_org", "name_phone")
_SAME_NAME = "name"


def store(tx: Tx, org_id: str, envelopes: Iterable[RecordEnvelope]) -> None:
    """Keep each stored revision's match digests."""
    tx.many(
        "INSERT INTO record_match_keys (org_id, record_id, revision, subject, kind, digest)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (org_id, str(env.id), env.revision, key.subject, key.kind, key.digest)
            for env in envelopes
            for key in env.match
        ],
    )


def erase(tx: Tx, record_ids: Sequence[str]) -> None:
    """Drop every digest of these records (their consent was withdrawn)."""
    tx.many("DELETE FROM record_match_keys WHERE record_id = ?", [(r,) for r in record_ids])


def pair_id(a: str, b: str) -> str:
    return "~".join(sorted((a, b)))


def _split(pair: str) -> tuple[str, str]:
    parts = pair.split("~")
    if len(parts) != 2 or not all(parts) or parts[0] >= parts[1]:
        raise NotFound(f"no pair {pair!r}")
    return parts[0], parts[1]


def _scope(viewer: Device, *aliases: str) -> tuple[str, list[Any]]:
    if viewer.region is None:
        return "", []
    return (
        "".join(f" AND {alias}.owner_region = ?" for alias in aliases),
        [viewer.region] * len(aliases),
    )


def _candidates(tx: Tx, viewer: Device, only: tuple[str, str] | None = None) -> dict[str, set[str]]:
    """Pairs of heads (of one form, not deleted) sharing a victim blocking key, with the
    kinds they share."""
    scope, params = _scope(viewer, "ha", "hb")
    if only is not None:
        scope += " AND a.record_id = ? AND b.record_id = ?"
        params += list(only)
    rows = tx.all(
        "SELECT a.record_id AS a_id, b.record_id AS b_id, a.kind FROM record_match_keys a"  # noqa: S608
        " JOIN record_heads ha ON ha.id = a.record_id AND ha.head_revision = a.revision"
        " JOIN record_match_keys b ON b.org_id = a.org_id AND b.kind = a.kind"
        " AND b.digest = a.digest AND b.subject = '' AND b.record_id > a.record_id"
        " JOIN record_heads hb ON hb.id = b.record_id AND hb.head_revision = b.revision"
        " WHERE a.org_id = ? AND a.subject = '' AND NOT ha.deleted AND NOT hb.deleted"
        f" AND ha.form_id = hb.form_id{scope}",
        [viewer.org_id, *params],
    )
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[pair_id(row["a_id"], row["b_id"])].add(row["kind"])
    return found


def _decided(tx: Tx, org_id: str, pairs: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(sorted(pairs)):
        for row in tx.all(
            "SELECT pair, decision FROM match_decisions"  # noqa: S608
            f" WHERE org_id = ? AND pair IN ({marks(len(chunk))})",
            [org_id, *chunk],
        ):
            found[row["pair"]] = row["decision"]
    return found


def duplicates(tx: Tx, viewer: Device, limit: int) -> list[DuplicateRow]:
    """The open candidate pairs the viewer may see (no decision yet), most shared keys
    first, at most `limit`."""
    candidates = _candidates(tx, viewer)
    decided = _decided(tx, viewer.org_id, list(candidates))
    open_pairs = sorted(
        (p for p in candidates if p not in decided), key=lambda p: (-len(candidates[p]), p)
    )[:limit]
    heads = office.heads_by_id(tx, viewer.org_id, [r for p in open_pairs for r in _split(p)])
    out = []
    for pair in open_pairs:
        a, b = _split(pair)
        if a in heads and b in heads:
            out.append(DuplicateRow(pair, (heads[a], heads[b]), tuple(sorted(candidates[pair]))))
    return out


def decide_duplicate(
    tx: Tx,
    viewer: Device,
    pair: str,
    decision: str,
    keep: UUID | None,
    now: datetime,
) -> MatchDecisionStored:
    """Merge (the record kept: `keep`, else the one received first; the other marked its
    duplicate) or dismiss a candidate pair the viewer may see; NotFound for any other pair,
    ValueError for a `keep` outside the pair. A dismissal undoes an earlier merge."""
    if decision not in _RECORD_DECISIONS:
        raise ValueError(f"decision: {decision!r} is not one of {_RECORD_DECISIONS}")
    a, b = _split(pair)
    tx.lock_keys([a, b])
    if not _candidates(tx, viewer, (a, b)):
        raise NotFound(f"no pair {pair!r}")
    kept: str | None = None
    if decision == "merged":
        heads = office.heads_by_id(tx, viewer.org_id, [a, b])
        if keep is None:
            kept = min((a, b), key=lambda r: (heads[r].received_at, r))
        elif str(keep) in (a, b):
            kept = str(keep)
        else:
            raise ValueError("keep: name one of the pair's two records")
        duplicate = b if kept == a else a
        root = heads[kept].duplicate_of
        kept = kept if root is None else str(root)
        tx.run("UPDATE record_heads SET duplicate_of = ? WHERE id = ?", (kept, duplicate))
        tx.run(
            "UPDATE record_heads SET duplicate_of = ? WHERE duplicate_of = ? AND org_id = ?",
            (kept, duplicate, viewer.org_id),
        )
    else:
        tx.run(
            "UPDATE record_heads SET duplicate_of = NULL WHERE (id = ? AND duplicate_of = ?)"
            " OR (id = ? AND duplicate_of = ?)",
            (a, b, b, a),
        )
    return _keep(tx, viewer, pair, decision, kept, now)


def _keep(
    tx: Tx, viewer: Device, pair: str, decision: str, kept: str | None, now: datetime
) -> MatchDecisionStored:
    now = now.astimezone(UTC)
    tx.run(
        "INSERT INTO match_decisions (org_id, pair, decision, kept, actor, at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, pair) DO UPDATE SET"
        " decision = excluded.decision, kept = excluded.kept, actor = excluded.actor,"
        " at = excluded.at",
        (viewer.org_id, pair, decision, kept, f"device:{viewer.id}", tx.ts(now)),
    )
    return MatchDecisionStored(pair, decision, kept, now)


# -- participants --------------------------------------------------------------------------


def _attendances(
    tx: Tx, viewer: Device, form_id: str
) -> tuple[dict[str, Attendance], dict[str, dict[str, str]]]:
    """Every participant instance of the form's heads in the viewer's scope (not deleted, not
    merged away) by `record.subject`, and the digests of those that have them."""
    scope, params = _scope(viewer, "h")
    heads = tx.all(
        "SELECT h.id, r.stats FROM record_heads h"  # noqa: S608
        " JOIN records r ON r.id = h.id AND r.revision = h.head_revision"
        " WHERE h.org_id = ? AND h.form_id = ? AND NOT h.deleted"
        f" AND h.duplicate_of IS NULL AND h.head_seq IS NOT NULL{scope}",
        [viewer.org_id, form_id, *params],
    )
    found: dict[str, Attendance] = {}
    for head in heads:
        for value in json.loads(head["stats"]).values():
            if not isinstance(value, list):
                continue
            for instance in value:
                if isinstance(instance, dict) and isinstance(instance.get("_id"), str):
                    stats = {k: v for k, v in instance.items() if k != "_id"}
                    ref = f"{head['id']}.{instance['_id']}"
                    found[ref] = Attendance(UUID(head["id"]), instance["_id"], stats)
    digests: dict[str, dict[str, str]] = defaultdict(dict)
    rows = tx.all(
        "SELECT k.record_id, k.subject, k.kind, k.digest FROM record_match_keys k"  # noqa: S608
        " JOIN record_heads h ON h.id = k.record_id AND h.head_revision = k.revision"
        " WHERE k.org_id = ? AND k.subject <> '' AND h.form_id = ? AND NOT h.deleted"
        f" AND h.duplicate_of IS NULL{scope}",
        [viewer.org_id, form_id, *params],
    )
    for row in rows:
        ref = f"{row['record_id']}.{row['subject']}"
        if ref in found:
            digests[ref][row["kind"]] = row["digest"]
    return found, digests


class _Groups:
    """Union-find over attendance refs."""

    def __init__(self, refs: Iterable[str]) -> None:
        self._parent = {ref: ref for ref in refs}

    def find(self, ref: str) -> str:
        while self._parent[ref] != ref:
            self._parent[ref] = self._parent[self._parent[ref]]
            ref = self._parent[ref]
        return ref

    def join(self, a: str, b: str) -> None:
        self._parent[self.find(a)] = self.find(b)


def people(tx: Tx, viewer: Device, form_id: str) -> PeopleCount:
    """How many participant instances the form's records hold and how many people they are
    (see `sync.protocol.PeopleReport`)."""
    found, digests = _attendances(tx, viewer, form_id)
    groups = _Groups(found)
    by_digest: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ref, kinds in sorted(digests.items()):
        for kind, digest in kinds.items():
            by_digest[(kind, digest)].append(ref)
    for (kind, _), refs in by_digest.items():
        if kind in _SAME_PERSON:
            for other in refs[1:]:
                groups.join(refs[0], other)
    same_name = [
        pair_id(a, b)
        for (kind, _), refs in sorted(by_digest.items())
        if kind == _SAME_NAME
        for i, a in enumerate(refs)
        for b in refs[i + 1 :]
    ]
    decided = _decided(tx, viewer.org_id, same_name)
    for pair, decision in decided.items():
        if decision == "confirmed":
            groups.join(*_split(pair))
    to_confirm: list[tuple[str, Attendance, Attendance]] = []
    offered: set[tuple[str, str]] = set()
    for pair in same_name:
        a, b = _split(pair)
        roots = tuple(sorted((groups.find(a), groups.find(b))))
        if pair in decided or roots[0] == roots[1] or roots in offered:
            continue
        offered.add((roots[0], roots[1]))
        to_confirm.append((pair, found[a], found[b]))
    count = len({groups.find(ref) for ref in found})
    return PeopleCount(form_id, len(found), count, to_confirm)


def decide_people(
    tx: Tx, viewer: Device, pair: str, decision: str, now: datetime
) -> MatchDecisionStored:
    """Confirm (one person) or reject a same-name pair of attendances the viewer may see;
    NotFound for a pair that does not share a name digest in its scope."""
    if decision not in ("confirmed", "rejected"):
        raise ValueError(f"decision: {decision!r} is neither confirmed nor rejected")
    a, b = _split(pair)
    scope, params = _scope(viewer, "ha", "hb")
    shared = tx.one(
        "SELECT 1 AS found FROM record_match_keys ka"  # noqa: S608
        " JOIN record_heads ha ON ha.id = ka.record_id AND ha.head_revision = ka.revision"
        " JOIN record_match_keys kb ON kb.org_id = ka.org_id AND kb.kind = ka.kind"
        " AND kb.digest = ka.digest"
        " JOIN record_heads hb ON hb.id = kb.record_id AND hb.head_revision = kb.revision"
        " WHERE ka.org_id = ? AND ka.kind = ? AND ka.record_id || '.' || ka.subject = ?"
        f" AND kb.record_id || '.' || kb.subject = ?{scope}",
        [viewer.org_id, _SAME_NAME, a, b, *params],
    )
    if shared is None:
        raise NotFound(f"no pair {pair!r}")
    return _keep(tx, viewer, pair, decision, None, now)
