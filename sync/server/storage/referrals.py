"""Referrals between organisations: the directory of services, referrals sent, listed by
both sides and answered by the receiver, and erased when the survivor withdraws consent.

Every rule that needs the database is checked here, in the writing transaction: the
survivor's recorded consent to refer (`consent_refer` = 'yes' on the record's head, and no
withdrawal since), the receiver's place in the directory with that service, and that the
sealed part is sealed to the receiver's keys only. The server never opens `sealed`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fieldapp.crypto import IntegrityError, envelope_key_ids
from sync.server.auth import OFFICE_ROLES, may_write
from sync.server.storage.errors import NotFound, ReferralRefused
from sync.server.storage.models import Device, DirectoryListing, Owner, ReferralRow
from sync.server.storage.tx import Tx, chunks, marks, withdrawn

__all__ = [
    "CONSENT_FIELD",
    "answer",
    "create",
    "directory",
    "listing",
    "put_services",
    "withdraw",
]

# The screening form's statistical answer recording the survivor's consent to be referred.
CONSENT_FIELD = "consent_refer"
# Which answer may follow which; the same answer again is harmless.
_FROM: dict[str, tuple[str, ...]] = {
    "accepted": ("sent",),
    "declined": ("sent",),
    "delivered": ("accepted",),
}
_WITHDRAW = (
    "UPDATE referrals SET sealed = NULL, status = 'withdrawn', reason = NULL, updated_at = ?"
    " WHERE from_org = ?"
)
_SELECT = (
    "SELECT r.*, f.name AS from_org_name, t.name AS to_org_name, (SELECT h.owner_region"
    " FROM record_heads h WHERE h.id = r.record_id AND h.org_id = r.from_org) AS from_region"
    " FROM referrals r"
    " JOIN organisations f ON f.id = r.from_org JOIN organisations t ON t.id = r.to_org"
)


def put_services(tx: Tx, org_id: str, services: Sequence[tuple[str, str]], now: datetime) -> None:
    """Replace the organisation's services in the directory (none: it leaves it)."""
    tx.run("DELETE FROM directory_services WHERE org_id = ?", (org_id,))
    tx.many(
        "INSERT INTO directory_services (org_id, service, label, updated_at) VALUES (?, ?, ?, ?)",
        [(org_id, code, label, tx.ts(now)) for code, label in services],
    )


def directory(tx: Tx) -> list[DirectoryListing]:
    """Every organisation with at least one service, by name, its services by code."""
    rows = tx.all(
        "SELECT o.id, o.name, o.recipients, s.service, s.label, s.updated_at"
        " FROM directory_services s JOIN organisations o ON o.id = s.org_id"
        " ORDER BY o.name, s.service"
    )
    listed: dict[str, DirectoryListing] = {}
    for row in rows:
        entry = listed.get(row["id"])
        at = tx.dt(row["updated_at"])
        if entry is None:
            entry = listed[row["id"]] = DirectoryListing(
                row["id"], row["name"], json.loads(row["recipients"]), [], at
            )
        entry.services.append((row["service"], row["label"]))
    return list(listed.values())


def _row(tx: Tx, row: Any) -> ReferralRow:
    return ReferralRow(
        id=row["id"],
        from_org=row["from_org"],
        from_org_name=row["from_org_name"],
        to_org=row["to_org"],
        to_org_name=row["to_org_name"],
        service=row["service"],
        record_id=row["record_id"],
        sent_by=row["sent_by"],
        sealed=None if row["sealed"] is None else bytes(row["sealed"]),
        digest=row["digest"],
        status=row["status"],
        reason=row["reason"],
        sent_at=tx.dt(row["sent_at"]),
        updated_at=tx.dt(row["updated_at"]),
        from_region=row["from_region"],
    )


def _get(tx: Tx, referral_id: str) -> ReferralRow | None:
    row = tx.one(_SELECT + " WHERE r.id = ?", (referral_id,), lock=True)
    return None if row is None else _row(tx, row)


def request_digest(record_id: str, to_org: str, service: str, sealed: bytes) -> str:
    """What makes a referral the same one sent again."""
    text = json.dumps([record_id, to_org, service, hashlib.sha256(sealed).hexdigest()])
    return hashlib.sha256(text.encode()).hexdigest()


def _check_record(tx: Tx, sender: Device, record_id: str) -> None:
    row = tx.one(
        "SELECT h.org_id, h.owner_device_id, h.owner_region, h.consent_withdrawn, r.stats"
        " FROM record_heads h JOIN records r ON r.id = h.id AND r.revision = h.head_revision"
        " WHERE h.id = ? AND h.org_id = ?",
        (record_id, sender.org_id),
    )
    if row is None:
        raise ReferralRefused(404, "record_not_found", "no such record")
    if not may_write(sender, Owner(row["org_id"], row["owner_device_id"], row["owner_region"])):
        raise ReferralRefused(
            403, "not_record_owner", "only the record's author or its office may refer it"
        )
    consent = json.loads(row["stats"]).get(CONSENT_FIELD)
    if withdrawn(row) or consent != "yes":
        raise ReferralRefused(
            422,
            "no_consent_to_refer",
            f"{CONSENT_FIELD}: the survivor's consent to be referred is not recorded",
        )


def _check_receiver(tx: Tx, sender: Device, to_org: str, service: str, sealed: bytes) -> None:
    if to_org == sender.org_id:
        raise ReferralRefused(422, "referral_to_self", "to_org: refer to another organisation")
    listed = next((entry for entry in directory(tx) if entry.org_id == to_org), None)
    if listed is None or service not in {code for code, _ in listed.services}:
        raise ReferralRefused(
            422, "not_in_directory", f"to_org, service: {service!r} of that organisation is not"
            " in the directory"
        )  # fmt: skip
    try:
        sealed_to = set(envelope_key_ids(sealed))
    except IntegrityError:
        sealed_to = set()
    if not sealed_to or not sealed_to <= {key["key_id"] for key in listed.recipients}:
        raise ReferralRefused(
            422, "not_sealed_to_receiver", "sealed: not sealed to the receiver's directory keys"
        )


def create(
    tx: Tx,
    sender: Device,
    referral_id: str,
    record_id: str,
    to_org: str,
    service: str,
    sealed: bytes,
    now: datetime,
) -> tuple[ReferralRow, bool]:
    """Store a referral (True), or find the same one sent before (False)."""
    digest = request_digest(record_id, to_org, service, sealed)
    existing = _get(tx, referral_id)
    if existing is not None:
        if existing.from_org == sender.org_id and existing.digest == digest:
            return existing, False
        raise ReferralRefused(409, "referral_id_taken", "id: another referral has this id")
    _check_record(tx, sender, record_id)
    _check_receiver(tx, sender, to_org, service, sealed)
    at = tx.ts(now)
    row = (referral_id, sender.org_id, to_org, service, record_id, sender.id, sealed, digest)
    tx.run(
        "INSERT INTO referrals (id, from_org, to_org, service, record_id, sent_by, sealed,"
        " digest, status, reason, sent_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sent', NULL, ?, ?)",
        (*row, at, at),
    )
    stored = _get(tx, referral_id)
    assert stored is not None
    return stored, True


def listing(tx: Tx, viewer: Device, direction: str) -> list[ReferralRow]:
    """Outgoing: the organisation's referrals for its office, a device's own for the device.
    Incoming: the referrals to the organisation, for its office only. Newest first."""
    if direction == "incoming":
        if viewer.role not in OFFICE_ROLES:
            return []
        where, params = "r.to_org = ?", [viewer.org_id]
    elif viewer.role in OFFICE_ROLES:
        where, params = "r.from_org = ?", [viewer.org_id]
    else:
        where, params = "r.from_org = ? AND r.sent_by = ?", [viewer.org_id, viewer.id]
    rows = tx.all(f"{_SELECT} WHERE {where} ORDER BY r.sent_at DESC, r.id", params)
    return [_row(tx, row) for row in rows]


def answer(
    tx: Tx, receiver: Device, referral_id: str, status: str, reason: str | None, now: datetime
) -> ReferralRow:
    """The receiver's answer: accepted or declined (with its reason), then delivered."""
    found = _get(tx, referral_id)
    if found is None or found.to_org != receiver.org_id:
        raise NotFound(f"no referral {referral_id!r} to this organisation")
    if found.status == status and found.reason == reason:
        return found
    if found.status == "withdrawn":
        raise ReferralRefused(409, "referral_withdrawn", "the survivor withdrew consent")
    if found.status not in _FROM[status]:
        raise ReferralRefused(
            409, "referral_state", f"a referral {found.status} cannot become {status}"
        )
    tx.run(
        "UPDATE referrals SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
        (status, reason, tx.ts(now), referral_id),
    )
    answered = _get(tx, referral_id)
    assert answered is not None
    return answered


def withdraw(tx: Tx, org_id: str, record_ids: Sequence[str], now: datetime) -> None:
    """The survivor withdrew consent to these records: every referral of them loses its
    sealed part, for good, and says so to both sides."""
    for chunk in chunks(record_ids):
        sql = f"{_WITHDRAW} AND record_id IN ({marks(len(chunk))})"
        tx.run(sql, [tx.ts(now), org_id, *chunk])
