"""Enrolment codes and the devices that redeem them: a device exists only through a code,
takes the code's organisation, role and region, and is revoked for good."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sync.protocol import RevocationChangeData, Role
from sync.server.storage import changes, organisations
from sync.server.storage.errors import AlreadyExists, CodeExpired, CodeInvalid, CodeUsed, NotFound
from sync.server.storage.models import Device, EnrolCode, PendingEnrolment
from sync.server.storage.tx import Tx

__all__ = [
    "by_id",
    "by_token",
    "code_by_hash",
    "codes_for_relay",
    "create_code",
    "list_for",
    "note_contact",
    "pending",
    "redeem",
    "revoke",
    "settle_pending",
]


_CONTACT = ("last_seen_at", "last_sync_at", "records_waiting", "app_version")


def create_code(
    tx: Tx,
    org_id: str,
    code_hash: str,
    role: Role,
    region: str | None,
    expires_at: datetime,
    now: datetime,
    wrapped_team_key: bytes | None,
    wrapped_match_key: bytes | None = None,
    relay_id: str | None = None,
    proof_key: str | None = None,
) -> EnrolCode:
    """Store a one-time code by its hash; NotFound (organisation), AlreadyExists (hash)."""
    organisations.require(tx, org_id)
    try:
        tx.run(
            "INSERT INTO enrol_codes (code_hash, org_id, role, region, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code_hash, org_id, role, region, tx.ts(now), tx.ts(expires_at)),
        )
    except tx.integrity_errors as exc:
        raise AlreadyExists("an enrolment code with this hash exists") from exc
    # Apart, so that a code without a team key is written exactly as before migration 3 (a
    # database made by an older schema takes it unchanged).
    if wrapped_team_key is not None:
        tx.run(
            "UPDATE enrol_codes SET wrapped_team_key = ? WHERE code_hash = ?",
            (wrapped_team_key, code_hash),
        )
    if wrapped_match_key is not None:
        tx.run(
            "UPDATE enrol_codes SET wrapped_match_key = ? WHERE code_hash = ?",
            (wrapped_match_key, code_hash),
        )
    if relay_id is not None:  # as for the keys: a code for no relay is written as before
        tx.run(
            "UPDATE enrol_codes SET relay_id = ?, proof_key = ? WHERE code_hash = ?",
            (relay_id, proof_key, code_hash),
        )
    return EnrolCode(
        code_hash=code_hash,
        org_id=org_id,
        role=role,
        region=region,
        created_at=now,
        expires_at=expires_at,
        wrapped_team_key=wrapped_team_key,
        wrapped_match_key=wrapped_match_key,
        relay_id=relay_id,
        proof_key=proof_key,
    )


def code_by_hash(tx: Tx, code_hash: str) -> EnrolCode:
    """The code with this hash, redeemed or not; NotFound."""
    row = tx.one("SELECT * FROM enrol_codes WHERE code_hash = ?", (code_hash,))
    if row is None:
        raise NotFound("no enrolment code has this hash")
    return _code(tx, row)


def codes_for_relay(tx: Tx, relay_id: str, now: datetime) -> list[EnrolCode]:
    """The codes issued for the relay that are neither used nor expired, oldest first."""
    rows = tx.all(
        "SELECT * FROM enrol_codes WHERE relay_id = ? AND device_id IS NULL"
        " AND expires_at > ? ORDER BY created_at, code_hash",
        (relay_id, tx.ts(now)),
    )
    return [_code(tx, row) for row in rows]


def _code(tx: Tx, row: Any) -> EnrolCode:
    wrapped = row["wrapped_team_key"]
    match = row["wrapped_match_key"]
    return EnrolCode(
        code_hash=row["code_hash"],
        org_id=row["org_id"],
        role=cast(Role, row["role"]),
        region=row["region"],
        created_at=tx.dt(row["created_at"]),
        expires_at=tx.dt(row["expires_at"]),
        device_id=row["device_id"],
        redeemed_at=tx.dt_or_none(row["redeemed_at"]),
        wrapped_team_key=None if wrapped is None else bytes(wrapped),
        wrapped_match_key=None if match is None else bytes(match),
        # what migration 17 added (absent on a database that has not run it yet)
        relay_id=row["relay_id"] if "relay_id" in row.keys() else None,  # noqa: SIM118
        proof_key=row["proof_key"] if "proof_key" in row.keys() else None,  # noqa: SIM118
    )


def _device(tx: Tx, row: Any) -> Device:
    # what migration 9 added (None on a database that has not run it yet)
    contact = {k: row[k] for k in _CONTACT if k in row.keys()}  # noqa: SIM118 (sqlite3.Row)
    return Device(
        id=row["id"],
        org_id=row["org_id"],
        role=cast(Role, row["role"]),
        region=row["region"],
        public_key=bytes(row["public_key"]),
        label=row["label"],
        enrolled_at=tx.dt(row["enrolled_at"]),
        revoked_at=tx.dt_or_none(row["revoked_at"]),
        last_seen_at=tx.dt_or_none(contact.get("last_seen_at")),
        last_sync_at=tx.dt_or_none(contact.get("last_sync_at")),
        records_waiting=contact.get("records_waiting"),
        app_version=contact.get("app_version"),
        enrolled_via=row["enrolled_via"] if "enrolled_via" in row.keys() else None,  # noqa: SIM118
    )


def redeem(
    tx: Tx,
    code_hash: str,
    device_id: str,
    public_key: bytes,
    label: str,
    token_hash: str,
    now: datetime,
    pending_proof: str | None = None,
    enrolled_via: str | None = None,
) -> Device:
    """Use the code and create the device (again, with a new token, for the same device and
    key), and with `pending_proof` note the enrolment for the upstream (at a relay whose
    upstream is away); CodeInvalid, CodeExpired, CodeUsed, AlreadyExists as
    `Storage.redeem_enrol_code`."""
    code = tx.one("SELECT * FROM enrol_codes WHERE code_hash = ?", (code_hash,), lock=True)
    if code is None:
        raise CodeInvalid("unknown enrolment code")
    if now >= tx.dt(code["expires_at"]):
        raise CodeExpired("the enrolment code has expired")
    try:
        if code["device_id"] is None:
            if tx.one("SELECT 1 AS present FROM devices WHERE id = ?", (device_id,)):
                raise AlreadyExists(f"device {device_id!r} is already enrolled")
            tx.run(
                "INSERT INTO devices (id, org_id, role, region, public_key, label, token_hash,"
                " enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, code["org_id"], code["role"], code["region"], public_key, label,
                 token_hash, tx.ts(now)),
            )  # fmt: skip
            tx.run(
                "UPDATE enrol_codes SET device_id = ?, redeemed_at = ? WHERE code_hash = ?",
                (device_id, tx.ts(now), code_hash),
            )
            if enrolled_via is not None:  # apart: a direct enrolment is written as before
                tx.run(
                    "UPDATE devices SET enrolled_via = ? WHERE id = ?", (enrolled_via, device_id)
                )
        elif code["device_id"] == device_id:
            device = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
            if bytes(device["public_key"]) != public_key or device["revoked_at"]:
                raise CodeUsed("the enrolment code has been used")
            tx.run(
                "UPDATE devices SET token_hash = ?, label = ? WHERE id = ?",
                (token_hash, label, device_id),
            )
        else:
            raise CodeUsed("the enrolment code has been used")
    except tx.integrity_errors as exc:
        raise AlreadyExists(f"device {device_id!r} is already enrolled") from exc
    if pending_proof is not None:
        tx.run(
            "INSERT INTO relay_pending_enrolments (device_id, code_hash, proof, enrolled_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING",
            (device_id, code_hash, pending_proof, tx.ts(now)),
        )
    return by_id(tx, device_id)


def pending(tx: Tx, limit: int) -> list[PendingEnrolment]:
    """The enrolments a relay has still to pass up, oldest first."""
    rows = tx.all(
        "SELECT * FROM relay_pending_enrolments ORDER BY enrolled_at, device_id LIMIT ?",
        (limit,),
    )
    return [
        PendingEnrolment(
            device_id=row["device_id"],
            code_hash=row["code_hash"],
            proof=row["proof"],
            enrolled_at=tx.dt(row["enrolled_at"]),
        )
        for row in rows
    ]


def settle_pending(tx: Tx, device_id: str) -> None:
    """The upstream took or refused the enrolment: it is no longer pending."""
    tx.run("DELETE FROM relay_pending_enrolments WHERE device_id = ?", (device_id,))


def by_token(tx: Tx, token_hash: str) -> Device | None:
    """The non-revoked device holding this token hash, else None."""
    row = tx.one("SELECT * FROM devices WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,))
    return None if row is None else _device(tx, row)


def by_id(tx: Tx, device_id: str) -> Device:
    """Any device, revoked or not; NotFound."""
    row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,))
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    return _device(tx, row)


def list_for(tx: Tx, org_id: str) -> list[Device]:
    """The organisation's devices, revoked ones included, by enrolment time."""
    rows = tx.all("SELECT * FROM devices WHERE org_id = ? ORDER BY enrolled_at, id", (org_id,))
    return [_device(tx, row) for row in rows]


def note_contact(
    tx: Tx,
    device_id: str,
    now: datetime,
    *,
    synced: bool,
    waiting: int | None,
    app_version: str | None,
) -> None:
    """The device was heard from at `now` (a pull when `synced`); what it said of itself
    replaces what it said before, what it did not say is kept."""
    tx.run(
        "UPDATE devices SET last_seen_at = ?, records_waiting = COALESCE(?, records_waiting),"
        " app_version = COALESCE(?, app_version) WHERE id = ?",
        (tx.ts(now), waiting, app_version, device_id),
    )
    if synced:
        tx.run("UPDATE devices SET last_sync_at = ? WHERE id = ?", (tx.ts(now), device_id))


def revoke(tx: Tx, device_id: str, now: datetime) -> Device:
    """Revoke the device once, with an organisation-wide `revocation` change; NotFound."""
    row = tx.one("SELECT * FROM devices WHERE id = ?", (device_id,), lock=True)
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    if row["revoked_at"] is None:
        tx.run("UPDATE devices SET revoked_at = ? WHERE id = ?", (tx.ts(now), device_id))
        data = RevocationChangeData(device_id=device_id, revoked_at=now.astimezone(UTC))
        change = changes.NewChange(row["org_id"], None, "revocation", device_id, False, data)
        changes.append(tx, [change])
    return by_id(tx, device_id)
