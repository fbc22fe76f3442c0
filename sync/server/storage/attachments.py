"""Attachment chunks: the manifests of stored revisions, the ciphertext chunks they name
(content-addressed, stored once per organisation), completeness, erasure.

The rules the app relies on, decided here once for both backends:
- A chunk is accepted only if its digest is named by the manifest of a revision of a record
  of the caller's organisation whose consent was not withdrawn (else `NotFound`, as if the
  name meant nothing); the caller checked that the body's sha256 is the digest.
- Storing a chunk twice stores it once (`ON CONFLICT DO NOTHING`).
- A record is complete when every chunk named by its head revision's manifest is stored.
- A consent withdrawal erases the chunks of the record (those no other record names) and
  forgets which chunks it named, so none is accepted for it again.
- A chunk is read by the office roles of the record's region (or of none) and by the devices
  that wrote or pushed a revision naming it; to anyone else it does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync.protocol import AttachmentsStored, RecordEnvelope
from sync.server.auth import SEALED_READ_ROLES
from sync.server.storage.errors import NotFound
from sync.server.storage.models import Device
from sync.server.storage.tx import Tx, chunks, json_text, marks

__all__ = [
    "erase",
    "manifest_json",
    "manifest_of",
    "mark_forwarded",
    "missing",
    "note_manifests",
    "progress",
    "read_chunk",
    "store_chunk",
    "to_forward",
    "waiting_records",
]


def manifest_json(env: RecordEnvelope) -> str | None:
    """The manifest as the `records.attachments` column keeps it; None without attachments."""
    if not env.attachments:
        return None
    return json_text([ref.model_dump(mode="json") for ref in env.attachments])


def note_manifests(tx: Tx, org_id: str, envelopes: Sequence[RecordEnvelope]) -> None:
    """Store the manifests of newly stored revisions and the chunks each names."""
    tx.many(
        "UPDATE records SET attachments = ? WHERE id = ? AND revision = ?",
        [(manifest_json(env), str(env.id), env.revision) for env in envelopes if env.attachments],
    )
    tx.many(
        "INSERT INTO record_chunks (org_id, record_id, revision, digest) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [
            (org_id, str(env.id), env.revision, digest)
            for env in envelopes
            if not env.consent_withdrawn
            for digest in sorted({d for ref in env.attachments for d in ref.chunks})
        ],
    )


def missing(tx: Tx, org_id: str, digests: Sequence[str]) -> list[str]:
    """Of `digests`, in their order, those the organisation's store lacks."""
    held: set[str] = set()
    unique = sorted(set(digests))
    for part in chunks(unique):
        held.update(
            row["digest"]
            for row in tx.all(
                "SELECT digest FROM attachment_chunks"  # noqa: S608
                f" WHERE org_id = ? AND digest IN ({marks(len(part))})",
                [org_id, *part],
            )
        )
    seen: set[str] = set()
    answer = []
    for digest in digests:
        if digest not in held and digest not in seen:
            seen.add(digest)
            answer.append(digest)
    return answer


def store_chunk(tx: Tx, device: Device, digest: str, data: bytes, now: datetime) -> bool:
    """Store a chunk named by a live record of the device's organisation; True if it was new.
    Raises NotFound if no such record names it."""
    named = tx.one(
        "SELECT 1 FROM record_chunks c JOIN record_heads h ON h.id = c.record_id"
        " WHERE c.org_id = ? AND c.digest = ? AND h.org_id = ? AND NOT h.consent_withdrawn",
        (device.org_id, digest, device.org_id),
    )
    if named is None:
        raise NotFound(f"no record of this organisation names chunk {digest}")
    before = tx.one(
        "SELECT 1 FROM attachment_chunks WHERE org_id = ? AND digest = ?",
        (device.org_id, digest),
    )
    tx.run(
        "INSERT INTO attachment_chunks (org_id, digest, data, stored_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (device.org_id, digest, data, tx.ts(now)),
    )
    return before is None


def to_forward(tx: Tx, org_id: str, up_to_seq: int, limit: int) -> list[tuple[str, bytes]]:
    """At a relay: chunks (digest, ciphertext) not yet passed upstream that a revision of seq
    up to `up_to_seq` (one the upstream holds) names, at most `limit`, by digest."""
    rows = tx.all(
        "SELECT a.digest, a.data FROM attachment_chunks a"
        " WHERE a.org_id = ? AND a.forwarded_at IS NULL AND EXISTS (SELECT 1"
        " FROM record_chunks c JOIN records r ON r.id = c.record_id AND r.revision = c.revision"
        " WHERE c.org_id = a.org_id AND c.digest = a.digest AND r.seq <= ?)"
        " ORDER BY a.digest LIMIT ?",
        (org_id, up_to_seq, limit),
    )
    return [(row["digest"], bytes(row["data"])) for row in rows]


def mark_forwarded(tx: Tx, org_id: str, digests: Sequence[str], now: datetime) -> None:
    """At a relay: these chunks are upstream now (or refused there): not sent again."""
    tx.many(
        "UPDATE attachment_chunks SET forwarded_at = ? WHERE org_id = ? AND digest = ?",
        [(tx.ts(now), org_id, digest) for digest in digests],
    )


def read_chunk(tx: Tx, viewer: Device, digest: str) -> bytes:
    """The chunk's ciphertext, for a viewer who may read a record naming it; else NotFound."""
    rows = tx.all(
        "SELECT r.device_id, r.pushed_by, h.owner_region FROM record_chunks c"
        " JOIN records r ON r.id = c.record_id AND r.revision = c.revision"
        " JOIN record_heads h ON h.id = c.record_id"
        " WHERE c.org_id = ? AND c.digest = ?",
        (viewer.org_id, digest),
    )
    if not any(_may_read(viewer, row) for row in rows):
        raise NotFound(f"no chunk {digest}")
    row = tx.one(
        "SELECT data FROM attachment_chunks WHERE org_id = ? AND digest = ?",
        (viewer.org_id, digest),
    )
    if row is None:
        raise NotFound(f"chunk {digest} is not stored yet")
    return bytes(row["data"])


def _may_read(viewer: Device, row: Any) -> bool:
    if viewer.id in (row["device_id"], row["pushed_by"]):
        return True
    return viewer.role in SEALED_READ_ROLES and viewer.region in (None, row["owner_region"])


def progress(tx: Tx, org_id: str, record_ids: Sequence[str]) -> dict[str, AttachmentsStored]:
    """Chunks stored and needed by each record's head revision (records with attachments)."""
    found: dict[str, AttachmentsStored] = {}
    for part in chunks(sorted(set(record_ids))):
        for row in tx.all(
            "SELECT c.record_id, COUNT(*) AS needed, COUNT(a.digest) AS stored"  # noqa: S608
            " FROM record_chunks c"
            " JOIN record_heads h ON h.id = c.record_id AND h.head_revision = c.revision"
            " LEFT JOIN attachment_chunks a ON a.org_id = c.org_id AND a.digest = c.digest"
            f" WHERE c.org_id = ? AND c.record_id IN ({marks(len(part))})"
            " GROUP BY c.record_id",
            [org_id, *part],
        ):
            found[row["record_id"]] = AttachmentsStored(
                stored=int(row["stored"]), needed=int(row["needed"])
            )
    return found


def waiting_records(tx: Tx) -> dict[str, int]:
    """Per organisation, how many records' head revisions still wait for chunks."""
    rows = tx.all(
        "SELECT org_id, COUNT(*) AS n FROM (SELECT c.org_id, c.record_id FROM record_chunks c"
        " JOIN record_heads h ON h.id = c.record_id AND h.head_revision = c.revision"
        " LEFT JOIN attachment_chunks a ON a.org_id = c.org_id AND a.digest = c.digest"
        " WHERE a.digest IS NULL GROUP BY c.org_id, c.record_id) waiting GROUP BY org_id"
    )
    return {row["org_id"]: int(row["n"]) for row in rows}


def erase(tx: Tx, record_ids: Sequence[str]) -> None:
    """Erase the chunks of these records that no other record names, and forget what they
    named (so no chunk is accepted for them again)."""
    for part in chunks(sorted(set(record_ids))):
        where = f"record_id IN ({marks(len(part))})"
        tx.run(
            "DELETE FROM attachment_chunks WHERE EXISTS (SELECT 1 FROM record_chunks c"  # noqa: S608
            f" WHERE c.org_id = attachment_chunks.org_id AND c.digest = attachment_chunks.digest"
            f" AND c.{where}) AND NOT EXISTS (SELECT 1 FROM record_chunks o"
            " WHERE o.org_id = attachment_chunks.org_id AND o.digest = attachment_chunks.digest"
            f" AND o.record_id NOT IN ({marks(len(part))}))",
            [*part, *part],
        )
        tx.run(f"DELETE FROM record_chunks WHERE {where}", list(part))  # noqa: S608


def manifest_of(text: str | None) -> list[dict[str, Any]]:
    """A stored manifest column back as JSON objects ([] for none)."""
    return json.loads(text) if text else []
