"""`/v1/directory` and `/v1/referrals`: referrals between the organisations of this server.

The directory lists every organisation that takes referrals, its services and public keys
(every enrolled device reads it, and caches it for offline use); an admin sets its own
organisation's services. A social worker (the record's author) or the office refers a record
whose survivor consented to be referred; only the receiving organisation's office lists it
as incoming, opens its sealed part with its own key (the server cannot), and answers:
accepted or declined with a coded reason, then delivered. The sender sees the status.
Audited with ids and outcomes only.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Path, Query

from sync.protocol import (
    Directory,
    DirectoryEntry,
    DirectoryService,
    DirectoryServices,
    Referral,
    ReferralDecline,
    ReferralRequest,
    ReferralsPage,
    Role,
)
from sync.server.auth import ADMIN_ROLES, OFFICE_ROLES
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    audit,
    require_role,
    v1_router,
)
from sync.server.storage import Device, NotFound, ReferralRefused, ReferralRow

__all__ = ["REFER_ROLES", "router"]

router = v1_router()

# Who refers: the social worker who recorded the survivor (a collector's device, its own
# records only) and the office; the receiving side answers from its office.
REFER_ROLES: frozenset[Role] = frozenset({"collector", *OFFICE_ROLES})
ANSWER_ROLES = OFFICE_ROLES


def _view(row: ReferralRow, viewer: Device) -> Referral:
    outgoing = row.from_org == viewer.org_id
    return Referral(
        id=UUID(row.id),
        direction="outgoing" if outgoing else "incoming",
        from_org=row.from_org,
        from_org_name=row.from_org_name,
        to_org=row.to_org,
        to_org_name=row.to_org_name,
        service=row.service,
        status=row.status,
        reason=row.reason,
        sent_at=row.sent_at,
        updated_at=row.updated_at,
        record_id=UUID(row.record_id) if outgoing else None,
        sealed=None if outgoing else row.sealed,
        from_region=row.from_region if outgoing else None,
    )


@router.get("/directory", response_model=Directory)
def directory(device: CurrentDevice, context: Context) -> Directory:
    """The participating organisations, their services and the keys to seal referrals to."""
    return Directory(
        organisations=[
            DirectoryEntry(
                org_id=entry.org_id,
                org_name=entry.org_name,
                services=[DirectoryService(service=c, label=lab) for c, lab in entry.services],
                recipients=entry.recipients,
                updated_at=entry.updated_at,
            )
            for entry in context.storage.directory()
        ]
    )


@router.put("/directory/services", response_model=Directory)
def put_services(body: DirectoryServices, device: CurrentDevice, context: Context) -> Directory:
    """Set the services the admin's organisation takes referrals for (none: it leaves)."""
    require_role(device, ADMIN_ROLES, "set the organisation's services")
    codes = [service.service for service in body.services]
    if len(set(codes)) != len(codes):
        raise ApiError(422, "invalid_request", "services: each service code once")
    pairs = [(service.service, service.label) for service in body.services]
    context.storage.put_directory_services(device.org_id, pairs, context.now())
    audit(context, device, "directory_services", f"ok:{len(pairs)}")
    return directory(device, context)


@router.post("/referrals", response_model=Referral)
def send_referral(body: ReferralRequest, device: CurrentDevice, context: Context) -> Referral:
    """Refer the sender's record to another organisation's service. Refused, naming why,
    without the survivor's consent to refer (`no_consent_to_refer`), to an organisation or
    service not in the directory (`not_in_directory`), sealed to other keys than the
    receiver's (`not_sealed_to_receiver`). Sending the same referral again is harmless."""
    require_role(device, REFER_ROLES, "refer a survivor")
    try:
        row, new = context.storage.send_referral(
            device,
            str(body.id),
            str(body.record_id),
            body.to_org,
            body.service,
            body.sealed,
            context.now(),
        )
    except ReferralRefused as refused:
        audit(
            context,
            device,
            "referral_send",
            f"refused:{refused.error}",
            record_id=str(body.record_id),
        )
        raise ApiError(refused.status, refused.error, str(refused)) from None
    audit(
        context,
        device,
        "referral_send",
        "sent" if new else "duplicate",
        record_id=str(body.record_id),
    )
    return _view(row, device)


@router.get("/referrals", response_model=ReferralsPage)
def list_referrals(
    device: CurrentDevice,
    context: Context,
    direction: Annotated[Literal["outgoing", "incoming"], Query()] = "outgoing",
) -> ReferralsPage:
    """Outgoing referrals (the office's organisation's; a social worker's own) with their
    status, or incoming ones (the office only) with their sealed parts."""
    require_role(device, REFER_ROLES, "list referrals")
    rows = context.storage.list_referrals(device, direction)
    audit(context, device, f"referrals_{direction}", f"ok:{len(rows)}")
    return ReferralsPage(referrals=[_view(row, device) for row in rows])


def _answer(
    context: Context, device: Device, referral_id: UUID, status: str, reason: str | None
) -> Referral:
    require_role(device, ANSWER_ROLES, "answer a referral")
    try:
        row = context.storage.answer_referral(
            device, str(referral_id), status, reason, context.now()
        )
    except NotFound:
        audit(context, device, "referral_answer", "refused:referral_not_found")
        raise ApiError(404, "referral_not_found", "no such referral to this organisation") from None
    except ReferralRefused as refused:
        audit(context, device, "referral_answer", f"refused:{refused.error}")
        raise ApiError(refused.status, refused.error, str(refused)) from None
    audit(context, device, "referral_answer", status)
    return _view(row, device)


_ID = Annotated[UUID, Path()]


@router.post("/referrals/{referral_id}:accept", response_model=Referral)
def accept_referral(referral_id: _ID, device: CurrentDevice, context: Context) -> Referral:
    """The receiving organisation takes the survivor on."""
    return _answer(context, device, referral_id, "accepted", None)


@router.post("/referrals/{referral_id}:decline", response_model=Referral)
def decline_referral(
    referral_id: _ID, body: ReferralDecline, device: CurrentDevice, context: Context
) -> Referral:
    """The receiving organisation cannot take the survivor on, and says why (a code)."""
    return _answer(context, device, referral_id, "declined", body.reason)


@router.post("/referrals/{referral_id}:delivered", response_model=Referral)
def referral_delivered(referral_id: _ID, device: CurrentDevice, context: Context) -> Referral:
    """The accepted service was delivered."""
    return _answer(context, device, referral_id, "delivered", None)
