"""Credentials and who may do what: bearer tokens, enrolment codes, role and region rules.

Tokens and codes are random and high-entropy, so a plain sha256 is what the database keeps
(a slow password hash buys nothing against 256-bit and 80-bit secrets); an enrolment code by
the hash of its secret part only (the check after it is derived from public keys). The
rules here are pure functions over `Device`, so the app applies them the same way on every
endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from fieldapp.crypto import enrol_code_secret
from sync.protocol import ENROL_CODE_ALPHABET, ENROL_SECRET_SYMBOLS, ROSTER_ROLES, Role
from sync.server.storage.models import ORG_WIDE_ROLES, Device, Owner, StoredRecord

__all__ = [
    "ADMIN_ROLES",
    "OFFICE_ROLES",
    "ROSTER_ROLES",
    "SEALED_READ_ROLES",
    "STATS_ROLES",
    "bearer_token",
    "can_manage_region",
    "can_read_record",
    "can_read_sealed",
    "enrol_code_hash",
    "enrol_proof",
    "enrol_proof_key",
    "may_write",
    "new_enrol_secret",
    "new_token",
    "token_hash",
]

ADMIN_ROLES: frozenset[Role] = frozenset({"admin"})
STATS_ROLES: frozenset[Role] = frozenset({"admin", "coordinator"})
# The office, where the organisation's key opens every version: it settles conflicts and
# may write any record of its organisation and region (see `may_write`).
OFFICE_ROLES: frozenset[Role] = frozenset({"admin", "case_manager"})
# Who gets sealed parts: those who hold the organisation's private key (not coordinators:
# they see statistical fields only), besides the devices that wrote or pushed the record.
SEALED_READ_ROLES: frozenset[Role] = OFFICE_ROLES


def new_token() -> str:
    """A device's bearer token: 32 random bytes, URL-safe; shown once, stored hashed."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(b"fieldapp-token:" + token.encode("utf-8")).hexdigest()


def new_enrol_secret() -> str:
    """The secret part of a new enrolment code: 16 random symbols of 5 bits (80 bits)."""
    return "".join(secrets.choice(ENROL_CODE_ALPHABET) for _ in range(ENROL_SECRET_SYMBOLS))


def enrol_code_hash(code: str) -> str:
    """Hash of a code's secret part, the code typed whole or only its secret: case, spaces
    and dashes do not matter."""
    secret = enrol_code_secret(code)
    return hashlib.sha256(b"fieldapp-enrol-code:" + secret.encode("utf-8")).hexdigest()


def enrol_proof_key(code: str) -> str:
    """A code's proof key (hex): the centre keeps it for a code it issues for a relay and
    never sends it; whoever has seen the code can make it, a relay that holds only the
    code's hash cannot."""
    secret = enrol_code_secret(code)
    return hashlib.sha256(b"fieldapp-enrol-proof:" + secret.encode("utf-8")).hexdigest()


def enrol_proof(proof_key: str, device_id: str, public_key: bytes) -> str:
    """That the device with this id and key gave the code (hex HMAC-SHA256): a relay makes it
    at an offline enrolment, the centre checks it when the relay passes the enrolment up."""
    message = b"fieldapp-relay-enrolment:" + device_id.encode("utf-8") + b"\0" + public_key
    return hmac.new(bytes.fromhex(proof_key), message, hashlib.sha256).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def can_manage_region(admin: Device, region: str | None) -> bool:
    """A regional admin (one enrolled with a region) manages only its own region."""
    return admin.region is None or admin.region == region


def _took_part(viewer: Device, revisions: Iterable[StoredRecord]) -> bool:
    return any(viewer.id in (rev.device_id, rev.pushed_by) for rev in revisions)


def can_read_record(viewer: Device, region: str | None, revisions: Iterable[StoredRecord]) -> bool:
    """Whether `viewer` may read a record of `region` (its owner's) whose revisions these are.

    The devices that wrote or pushed a revision of it may (to merge their own conflicts),
    whatever their role; org-wide roles read their organisation's records, a regional one
    its own region's only (as the office routes). The caller has already limited
    `revisions` to the viewer's organisation.
    """
    revisions = list(revisions)
    if _took_part(viewer, revisions):
        return True
    return viewer.role in ORG_WIDE_ROLES and can_manage_region(viewer, region)


def can_read_sealed(viewer: Device, revisions: Iterable[StoredRecord]) -> bool:
    """Whether a reader of the record (`can_read_record`) gets its sealed parts too: the
    holders of the organisation's key (`SEALED_READ_ROLES`) and the devices that wrote or
    pushed a revision of it (their own record back, for conflict merging); everyone else
    reads the statistics only."""
    return viewer.role in SEALED_READ_ROLES or _took_part(viewer, revisions)


def may_write(device: Device, owner: Owner) -> bool:
    """Whether `device` may store anything for a record (a revision, accepted or in
    conflict, a consent withdrawal, the settlement of a conflict) or a team roster entry.

    The device that created it may, and the office (`OFFICE_ROLES`) of its organisation and
    region: an office device enrolled with a region acts on that region's records only, one
    without a region on every region. Nobody else: a team mate who learnt a record id could
    otherwise take the record over, or erase it everywhere by withdrawing its consent.
    """
    if device.org_id != owner.org_id:
        return False
    if device.id == owner.device_id:
        return True
    return device.role in OFFICE_ROLES and can_manage_region(device, owner.region)
