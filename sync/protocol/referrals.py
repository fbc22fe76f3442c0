"""Referrals between organisations on one server: the directory of participating
organisations and their services (`GET /v1/directory`, `PUT /v1/directory/services`), and a
referral of a survivor's record to another organisation's service (`POST /v1/referrals`),
listed by both sides (`GET /v1/referrals`) and answered by the receiver
(`POST /v1/referrals/{id}:accept` | `:decline` | `:delivered`).

The fields a referral shares travel only HPKE-sealed to the receiving organisation's keys
(`sealed`): the server keeps the envelope and its status, never what is inside. A decline
says why with a coded reason, so nothing personal is ever written in clear.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from sync.protocol.wire import B64Bytes, Timestamp, WireModel

__all__ = [
    "DECLINE_REASONS",
    "MAX_REFERRAL_SEALED",
    "SERVICE_PATTERN",
    "DeclineReason",
    "Directory",
    "DirectoryEntry",
    "DirectoryService",
    "DirectoryServices",
    "Referral",
    "ReferralDecline",
    "ReferralDirection",
    "ReferralRequest",
    "ReferralStatus",
    "ReferralsPage",
]

# A service's code: the screening form's service types (shelter, medical, psychosocial,
# legal, repatriation, reintegration) or another lower-case code an organisation offers.
SERVICE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_REFERRAL_SEALED = 256 * 1024
ReferralStatus = Literal["sent", "accepted", "declined", "delivered", "withdrawn"]
ReferralDirection = Literal["outgoing", "incoming"]
DeclineReason = Literal[
    "no_capacity", "not_eligible", "out_of_area", "survivor_unreachable", "other"
]
DECLINE_REASONS: tuple[DeclineReason, ...] = (
    "no_capacity", "not_eligible", "out_of_area", "survivor_unreachable", "other"
)  # fmt: skip


class DirectoryService(WireModel):
    """One service an organisation takes referrals for; `label` is its public name."""

    service: str = Field(pattern=SERVICE_PATTERN)
    label: str = Field(min_length=1, max_length=200)


class DirectoryServices(WireModel):
    """An admin's list of the organisation's services (replaces the previous list; empty:
    the organisation leaves the directory)."""

    services: list[DirectoryService] = Field(max_length=50)


class DirectoryEntry(WireModel):
    """A participating organisation: its services and the public keys a referral to it is
    sealed to (`fieldapp.crypto.RecipientKey` dumps: safe to publish)."""

    org_id: str
    org_name: str
    services: list[DirectoryService]
    recipients: list[dict[str, Any]]
    updated_at: Timestamp


class Directory(WireModel):
    organisations: list[DirectoryEntry]


class ReferralRequest(WireModel):
    """A referral of the sender's record `record_id` to `to_org`'s `service`. The id is the
    client's (sending it again is harmless); `sealed` holds the referral form's fields only,
    sealed to `to_org`'s directory keys."""

    id: UUID
    record_id: UUID
    to_org: str = Field(min_length=1, max_length=64)
    service: str = Field(pattern=SERVICE_PATTERN)
    sealed: B64Bytes = Field(max_length=MAX_REFERRAL_SEALED)


class ReferralDecline(WireModel):
    reason: DeclineReason


class Referral(WireModel):
    """A referral as one side sees it. The sender (`outgoing`) sees its record id and the
    status, never the sealed part back; the receiver (`incoming`) gets the sealed part (None
    once consent was withdrawn and it was erased), never the sender's record id."""

    id: UUID
    direction: ReferralDirection
    from_org: str
    from_org_name: str
    to_org: str
    to_org_name: str
    service: str
    status: ReferralStatus
    reason: DeclineReason | None = None
    sent_at: Timestamp
    updated_at: Timestamp
    record_id: UUID | None = None
    sealed: B64Bytes | None = None
    from_region: str | None = None  # the sender's only: the referred record's region


class ReferralsPage(WireModel):
    referrals: list[Referral]
