"""Records: every revision a device pushed, each record's head, conflicts and their
settlement, consent withdrawals, and which receipted revisions are still held.

A push loads what the batch's records hold (`RecordState`), asks the push rule
(`sync.server.push_rules.decide_push`) about each envelope in order, an envelope seeing those
before it, and writes what the decisions say: revisions, heads, changes, erasures, audit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from sync.protocol import RecordChangeData, RecordEnvelope
from sync.server.auth import OFFICE_ROLES, may_write
from sync.server.push_rules import PushDecision, RecordState, decide_push
from sync.server.storage import attachments, audit, changes, matching, office, referrals
from sync.server.storage.errors import NotFound, NotRecordOwner, NotResolvable
from sync.server.storage.models import (
    ORG_WIDE_ROLES,
    Device,
    Owner,
    PushResult,
    RecordHead,
    SealedRecord,
    StoredRecord,
)
from sync.server.storage.tx import Tx, chunks, json_text, marks, withdrawn

__all__ = [
    "erase_withdrawn",
    "head",
    "held",
    "office_sealed",
    "push",
    "resolve",
    "revisions",
    "stored_record",
]

_DATETIME = TypeAdapter(datetime)


@dataclass(slots=True)
class _Receipt:
    """What a stored revision's receipt says; for one stored by this batch, the seq is
    its change's, known once `changes.append` has allocated it."""

    content_digest: str
    received_at: datetime
    seq: int = 0
    change: changes.NewChange | None = None

    def final_seq(self) -> int:
        return self.change.seq if self.change is not None else self.seq


def push(
    tx: Tx,
    device: Device,
    envelopes: Sequence[RecordEnvelope],
    digests: Sequence[str],
    stats_texts: Sequence[str],
    now: datetime,
    hops: Sequence[Sequence[dict[str, str]]] | None = None,
) -> tuple[list[PushResult], bool]:
    """Store a batch (see `Storage.push_records`; `stats_texts`: each envelope's stats as
    `json_text` writes them): one result per envelope, in order, and
    whether sealed bytes were erased (the backend then scrubs what it keeps of old pages)."""
    now = now.astimezone(UTC)
    record_ids = sorted({str(env.id) for env in envelopes})
    tx.lock_keys(record_ids)
    states, receipts = _load(tx, record_ids)
    decided: list[tuple[RecordEnvelope, PushDecision, _Receipt | None]] = []
    new_changes: list[changes.NewChange] = []
    new_rows: list[tuple[RecordEnvelope, _Receipt, str, str | None, str]] = []
    written: set[str] = set()  # records whose head is written
    erased: list[str] = []  # records whose every revision's sealed part goes
    paths = [None] * len(envelopes) if hops is None else [json_text(list(p)) for p in hops]
    for env, digest, path, text in zip(envelopes, digests, paths, stats_texts, strict=True):
        record_id = str(env.id)
        decision = decide_push(device, env, digest, states.get(record_id))
        receipt = receipts.get((record_id, env.revision))
        if decision.stores:
            assert decision.record is not None and decision.change is not None
            states[record_id] = decision.record
            change = changes.NewChange(
                device.org_id, device.region, "record", record_id, decision.record.deleted,
                decision.change, decision.audience,
            )  # fmt: skip
            new_changes.append(change)
            receipt = receipts[(record_id, env.revision)] = _Receipt(digest, now, change=change)
            status = "current" if decision.verdict == "accepted" else "conflict"
            new_rows.append((env, receipt, status, path, text))
            written.add(record_id)
            if decision.erases:
                erased.append(record_id)
        decided.append((env, decision, receipt))

    accepted = {
        str(env.id): states[str(env.id)].head_revision
        for env, decision, _ in decided
        if decision.stores and decision.verdict == "accepted"
    }
    audiences = {record_id: states[record_id].participants for record_id in accepted}
    new_changes += office.after_push(tx, accepted, audiences, device.org_id, now)
    changes.append(tx, new_changes)
    _insert_revisions(tx, device, new_rows, now)
    attachments.note_manifests(tx, device.org_id, [row[0] for row in new_rows])
    matching.store(tx, device.org_id, [row[0] for row in new_rows])
    heads = {record_id: states[record_id] for record_id in sorted(written)}
    # A head stored by this batch: its seq and receipt time are known here; any other (a
    # conflict leaves the head as it was) is copied from its revision, as a resolution does.
    new_heads = {
        record_id: receipt
        for record_id, state in heads.items()
        if (receipt := receipts.get((record_id, state.head_revision))) is not None
        and receipt.change is not None
    }
    _write_heads(tx, heads, new_heads)
    office.refresh_heads(tx, [record_id for record_id in heads if record_id not in new_heads])
    # After the inserts, so a sealed revision stored earlier in this batch goes too.
    erase_withdrawn(tx, device.org_id, erased, now)
    at, actor = tx.ts(now), f"device:{device.id}"
    audit.append_many(
        tx,
        [
            (at, actor, "push", decision.audit_outcome, device.org_id, device.id, str(env.id))
            for env, decision, _ in decided
        ]
        + [
            (at, actor, "withdraw_consent", "erased", device.org_id, device.id, record_id)
            for record_id in erased
        ],
    )
    return [_result(*entry) for entry in decided], bool(erased)


def erase_withdrawn(tx: Tx, org_id: str, record_ids: Sequence[str], now: datetime) -> None:
    """Consent to these records was withdrawn: the sealed part of every stored revision goes,
    conflicting siblings become superseded, the head is marked withdrawn (one-way: no other
    statement writes the mark), and their match digests, chunks and referrals' sealed parts
    go too. The caller scrubs old pages once committed (`_after_erasure`)."""
    gone = [(record_id,) for record_id in sorted(set(record_ids))]
    tx.many(
        "UPDATE records SET sealed = NULL, status = CASE WHEN status = 'conflict'"
        " THEN 'superseded' ELSE status END WHERE id = ?",
        gone,
    )
    tx.many("UPDATE record_heads SET consent_withdrawn = TRUE WHERE id = ?", gone)
    matching.erase(tx, [record_id for (record_id,) in gone])
    attachments.erase(tx, [record_id for (record_id,) in gone])
    referrals.withdraw(tx, org_id, [record_id for (record_id,) in gone], now)


def _load(
    tx: Tx, record_ids: list[str]
) -> tuple[dict[str, RecordState], dict[tuple[str, str], _Receipt]]:
    """The records' states and their stored revisions' receipts, locked by the caller."""
    receipts: dict[tuple[str, str], _Receipt] = {}
    digests: dict[str, dict[str, str]] = {}
    participants: dict[str, set[str]] = {}
    siblings: dict[str, list[str]] = {}
    heads: dict[str, Any] = {}
    for chunk in chunks(record_ids):
        for row in tx.all(
            "SELECT id, revision, content_digest, received_at, seq, status,"  # noqa: S608
            f" device_id, pushed_by FROM records WHERE id IN ({marks(len(chunk))}) ORDER BY seq",
            chunk,
        ):
            record_id = row["id"]
            receipts[(record_id, row["revision"])] = _Receipt(
                row["content_digest"], tx.dt(row["received_at"]), int(row["seq"])
            )
            digests.setdefault(record_id, {})[row["revision"]] = row["content_digest"]
            participants.setdefault(record_id, set()).update((row["device_id"], row["pushed_by"]))
            if row["status"] == "conflict":
                siblings.setdefault(record_id, []).append(row["revision"])
        for row in tx.all(
            f"SELECT * FROM record_heads WHERE id IN ({marks(len(chunk))})",  # noqa: S608
            chunk,
        ):
            heads[row["id"]] = row
    states = {
        record_id: _state(
            heads.get(record_id),
            tuple(siblings.get(record_id, ())),
            frozenset(participants.get(record_id, ())),
            digests.get(record_id, {}),
        )
        for record_id in digests.keys() | heads.keys()
    }
    return states, receipts


def _state(
    row: Any, siblings: tuple[str, ...], participants: frozenset[str], digests: dict[str, str]
) -> RecordState:
    if row is None:  # revisions without a head (never written so): nobody may write them
        nobody = Owner("", "", None)
        return RecordState("", nobody, "", "", "", False, False, siblings, False, participants,
                           digests)  # fmt: skip
    return RecordState(
        org_id=row["org_id"],
        owner=Owner(row["org_id"], row["owner_device_id"], row["owner_region"]),
        head_revision=row["head_revision"],
        head_device_id=row["head_device_id"],
        form_id=row["form_id"],
        deleted=bool(row["deleted"]),
        in_conflict=bool(row["in_conflict"]),
        siblings=siblings,
        withdrawn=withdrawn(row),
        participants=participants,
        digests=digests,
    )


def _insert_revisions(
    tx: Tx,
    device: Device,
    rows: list[tuple[RecordEnvelope, _Receipt, str, str | None, str]],
    now: datetime,
) -> None:
    # A batch-signed revision's proof (migration 15) goes in with it; one signed alone is
    # written as before that migration.
    plain, proven = [], []
    for env, receipt, status, _, stats in rows:
        wire = env.model_dump(mode="json", include={"created_at", "updated_at"})
        values = (
            str(env.id), env.revision, env.base_revision, device.org_id, device.region,
            env.device_id, device.id, env.form_id, env.form_version, wire["created_at"],
            wire["updated_at"], stats, env.sealed, env.deleted, env.signature,
            receipt.content_digest, tx.ts(now), receipt.final_seq(), status,
        )  # fmt: skip
        if env.proof is None:
            plain.append(values)
        else:
            proven.append((*values, env.proof.model_dump_json()))
    columns = (
        "id, revision, base_revision, org_id, region, device_id, pushed_by, form_id,"
        " form_version, created_at, updated_at, stats, sealed, deleted, signature,"
        " content_digest, received_at, seq, status"
    )
    tx.many(f"INSERT INTO records ({columns}) VALUES ({marks(19)})", plain)  # noqa: S608
    tx.many(
        f"INSERT INTO records ({columns}, signature_proof) VALUES ({marks(20)})",  # noqa: S608
        proven,
    )
    # Apart, like the withdrawal mark: only relayed revisions have hops (migration 10).
    tx.many(
        "UPDATE records SET hops = ? WHERE id = ? AND revision = ?",
        [(path, str(env.id), env.revision) for env, _, _, path, _ in rows if path is not None],
    )
    tx.many(
        "UPDATE records SET consent_withdrawn = TRUE WHERE id = ? AND revision = ?",
        [(str(env.id), env.revision) for env, _, _, _, _ in rows if env.consent_withdrawn],
    )


def _write_heads(tx: Tx, states: dict[str, RecordState], new_heads: dict[str, _Receipt]) -> None:
    """Write the records' heads; those in `new_heads` (a head revision this batch stored)
    with its seq and receipt time (the office list's order), the others without."""
    # The owner is written once, with the record's first revision: no update changes it.
    upsert = (
        "INSERT INTO record_heads (id, org_id, form_id, head_revision, head_device_id,"
        " deleted, in_conflict, owner_device_id, owner_region{head})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?{marks}) ON CONFLICT (id) DO UPDATE SET"
        " form_id = excluded.form_id, head_revision = excluded.head_revision,"
        " head_device_id = excluded.head_device_id, deleted = excluded.deleted,"
        " in_conflict = excluded.in_conflict{update}"
    )
    rows = {
        record_id: (record_id, s.org_id, s.form_id, s.head_revision, s.head_device_id,
                    s.deleted, s.in_conflict, s.owner.device_id, s.owner.region)
        for record_id, s in states.items()
    }  # fmt: skip
    tx.many(
        upsert.format(head="", marks="", update=""),
        [row for record_id, row in rows.items() if record_id not in new_heads],
    )
    tx.many(
        upsert.format(
            head=", head_seq, head_received_at",
            marks=", ?, ?",
            update=", head_seq = excluded.head_seq, head_received_at = excluded.head_received_at",
        ),
        [
            (*row, receipt.final_seq(), tx.ts(receipt.received_at))
            for record_id, row in rows.items()
            if (receipt := new_heads.get(record_id)) is not None
        ],
    )


def _result(env: RecordEnvelope, decision: PushDecision, receipt: _Receipt | None) -> PushResult:
    if decision.status == "rejected":
        errors = [decision.error] if decision.error is not None else []
        return PushResult(env.id, env.revision, "rejected", errors=errors)
    assert receipt is not None and decision.record is not None
    return PushResult(
        record_id=env.id,
        revision=env.revision,
        status=decision.status,
        seq=receipt.final_seq(),
        received_at=receipt.received_at,
        content_digest=receipt.content_digest,
        current_revision=decision.record.head_revision,
    )


def head(tx: Tx, org_id: str, record_id: UUID) -> RecordHead:
    """The record as a whole; NotFound (also for another organisation's record)."""
    row = tx.one("SELECT * FROM record_heads WHERE id = ? AND org_id = ?", (str(record_id), org_id))
    if row is None:
        raise NotFound(f"no record {record_id}")
    siblings = tx.all(
        "SELECT revision FROM records WHERE id = ? AND status = 'conflict' ORDER BY seq",
        (str(record_id),),
    )
    return RecordHead(
        id=record_id,
        org_id=org_id,
        form_id=row["form_id"],
        head_revision=row["head_revision"],
        deleted=bool(row["deleted"]),
        in_conflict=bool(row["in_conflict"]),
        siblings=[sibling["revision"] for sibling in siblings],
        consent_withdrawn=withdrawn(row),
        region=row["owner_region"],
    )


def resolve(
    tx: Tx,
    org_id: str,
    record_id: str,
    keep: str,
    now: datetime,
    actor: str,
    by: Device | None,
    *,
    announce: bool = True,
) -> RecordHead:
    """Settle the record's conflict (see `Storage.resolve_conflict`); NotFound,
    NotRecordOwner, NotResolvable. Without `announce`, no `record` change is appended: at a
    relay, which settles as its upstream did and passes the upstream's change down."""
    tx.lock_keys([record_id])
    row = tx.one(
        "SELECT * FROM record_heads WHERE id = ? AND org_id = ?", (record_id, org_id), lock=True
    )
    if row is None:
        raise NotFound(f"no record {record_id}")
    owner = Owner(row["org_id"], row["owner_device_id"], row["owner_region"])
    if by is not None and not (by.role in OFFICE_ROLES and may_write(by, owner)):
        raise NotRecordOwner(
            f"record {record_id} is settled by an admin or case manager of its region"
            f" ({owner.region or 'none'}), not by a {by.role} of region {by.region or 'none'}"
        )
    rows = tx.all(
        "SELECT revision, base_revision, region, device_id, pushed_by, form_id, form_version,"
        " deleted, status FROM records WHERE id = ? ORDER BY seq",
        (record_id,),
    )
    kept = next((revision for revision in rows if revision["revision"] == keep), None)
    if kept is None:
        raise NotFound(f"record {record_id} has no revision {keep!r}")
    candidates = [row["head_revision"]]
    candidates += [revision["revision"] for revision in rows if revision["status"] == "conflict"]
    if keep not in candidates:
        raise NotResolvable(
            f"revision {keep!r} of record {record_id} is not in conflict: keep the head"
            " or one of its conflicting siblings"
        )
    superseded = [revision for revision in candidates if revision != keep]
    deleted = bool(kept["deleted"])
    if superseded:
        tx.run(
            "UPDATE records SET status = 'current' WHERE id = ? AND revision = ?",
            (record_id, keep),
        )
        tx.many(
            "UPDATE records SET status = 'superseded' WHERE id = ? AND revision = ?",
            [(record_id, revision) for revision in superseded],
        )
        tx.run(
            "UPDATE record_heads SET head_revision = ?, head_device_id = ?, form_id = ?,"
            " deleted = ?, in_conflict = ? WHERE id = ?",
            (keep, kept["device_id"], kept["form_id"], deleted, False, record_id),
        )
        office.refresh_heads(tx, [record_id])
        data = RecordChangeData(
            revision=keep,
            base_revision=kept["base_revision"],
            head_revision=keep,
            form_id=kept["form_id"],
            form_version=kept["form_version"],
            device_id=kept["device_id"],
            conflict=False,
            siblings=(),
            resolved=True,
            superseded=tuple(superseded),
        )
        # Every device that wrote or pushed a revision of the record holds a copy to settle.
        audience = {revision[column] for revision in rows for column in ("device_id", "pushed_by")}
        change = changes.NewChange(
            org_id, kept["region"], "record", record_id, deleted, data, audience
        )
        if announce:
            changes.append(tx, [change])
    outcome = "ok" if superseded else "unchanged"
    audit.append(tx, now, actor, "resolve_conflict", outcome, org_id, None, record_id)
    return RecordHead(
        id=UUID(record_id),
        org_id=org_id,
        form_id=kept["form_id"],
        head_revision=keep,
        deleted=deleted,
        in_conflict=False,
        siblings=[],
        consent_withdrawn=withdrawn(row),
        region=row["owner_region"],
    )


def revisions(tx: Tx, org_id: str, record_id: UUID) -> list[StoredRecord]:
    """Every stored revision of the record, by seq; NotFound."""
    rows = tx.all(
        "SELECT * FROM records WHERE id = ? AND org_id = ? ORDER BY seq", (str(record_id), org_id)
    )
    if not rows:
        raise NotFound(f"no record {record_id}")
    return [stored_record(tx, row) for row in rows]


def stored_record(tx: Tx, row: Any) -> StoredRecord:
    """One revision as stored, from its `records` row."""
    return StoredRecord(
        id=UUID(row["id"]),
        revision=row["revision"],
        base_revision=row["base_revision"],
        org_id=row["org_id"],
        region=row["region"],
        device_id=row["device_id"],
        pushed_by=row["pushed_by"],
        form_id=row["form_id"],
        form_version=row["form_version"],
        created_at=_DATETIME.validate_python(row["created_at"]),
        updated_at=_DATETIME.validate_python(row["updated_at"]),
        stats=json.loads(row["stats"]),
        sealed=None if row["sealed"] is None else bytes(row["sealed"]),
        deleted=bool(row["deleted"]),
        signature=bytes(row["signature"]),
        signature_proof=_column(row, "signature_proof"),
        content_digest=row["content_digest"],
        received_at=tx.dt(row["received_at"]),
        seq=int(row["seq"]),
        status=row["status"],
        consent_withdrawn=withdrawn(row),
        hops=_hops(row),
        attachments=tuple(attachments.manifest_of(_column(row, "attachments"))),
    )


def _column(row: Any, name: str) -> Any:
    """A column added by a later migration, None where it has not run."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 (sqlite3.Row)


def _hops(row: Any) -> tuple[dict[str, str], ...]:
    """A revision's relays (none where migration 10 has not run: nothing was relayed)."""
    text = _column(row, "hops")
    return tuple(json.loads(text)) if text else ()


def held(tx: Tx, viewer: Device, asked: Sequence[tuple[UUID, str]]) -> set[tuple[UUID, str]]:
    """Which of these (record id, revision) are stored among those `viewer` may read (see
    `Storage.held_revisions`): any other pair is left out, as if never stored."""
    pairs = {(str(record_id), revision) for record_id, revision in asked}
    stored: set[tuple[str, str]] = set()
    readable: set[str] = set()  # records the viewer wrote or pushed a revision of
    regions: dict[str, str | None] = {}
    for chunk in chunks(sorted({record_id for record_id, _ in pairs})):
        for row in tx.all(
            "SELECT r.id, r.revision, r.device_id, r.pushed_by, h.owner_region"  # noqa: S608
            " FROM records r JOIN record_heads h ON h.id = r.id"
            f" WHERE r.org_id = ? AND r.id IN ({marks(len(chunk))})",
            [viewer.org_id, *chunk],
        ):
            stored.add((row["id"], row["revision"]))
            regions[row["id"]] = row["owner_region"]
            if viewer.id in (row["device_id"], row["pushed_by"]):
                readable.add(row["id"])
    # The office of its region (or of none) too, as `auth.can_read_record` decides.
    office = viewer.role in ORG_WIDE_ROLES
    return {
        (UUID(record_id), revision)
        for record_id, revision in pairs & stored
        if record_id in readable or (office and viewer.region in (None, regions[record_id]))
    }


def office_sealed(tx: Tx, viewer: Device, record_id: UUID, *, history: bool) -> SealedRecord:
    """The record's head revision (every revision with `history`) for the office: the
    viewer's organisation's record, and its region's for a regional viewer; else NotFound."""
    row = tx.one(
        "SELECT owner_region FROM record_heads WHERE id = ? AND org_id = ?",
        (str(record_id), viewer.org_id),
    )
    if row is None or (viewer.region is not None and row["owner_region"] != viewer.region):
        raise NotFound(f"no record {record_id}")
    record = head(tx, viewer.org_id, record_id)
    stored = revisions(tx, viewer.org_id, record_id)
    if not history:
        stored = [rev for rev in stored if rev.revision == record.head_revision]
    return SealedRecord(record, row["owner_region"], stored)
