"""`/v1/admin/...`: what an organisation's admins and office do from their own devices:
issue enrolment codes, revoke devices, settle conflicts, read statistics and the audit log.
The work itself is `sync.server.admin`'s, shared with the `fieldapp admin` CLI."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path, Query

from sync.server import admin
from sync.server.auth import ADMIN_ROLES, OFFICE_ROLES, STATS_ROLES, can_manage_region
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    actor,
    audit,
    links,
    managed_device,
    require_role,
    v1_router,
)
from sync.server.storage import AuditEntry, NotFound, NotRecordOwner

__all__ = ["router"]

router = v1_router()


@router.post(
    "/admin/enrol-codes",
    response_model=admin.IssuedCode,
    openapi_extra=links(
        EnrolWithCode=("POST /enrol", {"requestBody": {"code": "$response.body#/code"}})
    ),
)
def issue_enrol_code(
    body: admin.EnrolCodeRequest, device: CurrentDevice, context: Context
) -> admin.IssuedCode:
    """Issue a one-time code for a new device of the admin's organisation."""
    require_role(device, ADMIN_ROLES, "issue enrolment codes")
    if not can_manage_region(device, body.region):
        raise ApiError(403, "region_forbidden", "a regional admin issues codes for its region")
    return admin.enrol_code(
        context.storage,
        device.org_id,
        body.role,
        body.region,
        body.ttl_hours,
        server_key=context.signing_key.public_key,
        now=context.now(),
        actor=actor(device),
    )


@router.post("/admin/devices/{device_id}:revoke", response_model=admin.RevokedDevice)
def revoke_device(
    device_id: Annotated[str, Path(min_length=1, max_length=64)],
    device: CurrentDevice,
    context: Context,
) -> admin.RevokedDevice:
    """Revoke a device of the admin's organisation (and region, for a regional admin)."""
    require_role(device, ADMIN_ROLES, "revoke devices")
    managed_device(context, device, device_id, "admin")
    revoked = admin.revoke(context.storage, device_id, now=context.now(), actor=actor(device))
    assert revoked.revoked_at is not None
    return admin.RevokedDevice(device_id=revoked.id, revoked_at=revoked.revoked_at)


@router.post("/admin/records/{record_id}:resolve", response_model=admin.ResolvedRecord)
def resolve_conflict(
    record_id: UUID, body: admin.ResolveRequest, device: CurrentDevice, context: Context
) -> admin.ResolvedRecord:
    """Settle a conflict of the organisation's record (of the device's region, for a regional
    office device): `keep_revision` becomes the head, the other versions are kept as
    superseded, and the devices involved learn it by pull."""
    require_role(device, OFFICE_ROLES, "resolve conflicts")
    storage, now = context.storage, context.now()
    refusal: ApiError | None = None
    try:
        storage.get_record(device.org_id, record_id)
    except NotFound:
        refusal = ApiError(404, "record_not_found", "no such record")
    else:
        try:
            head = admin.resolve_conflict(
                storage,
                device.org_id,
                record_id,
                body.keep_revision,
                now=now,
                actor=actor(device),
                by=device,
            )
        except NotRecordOwner:
            refusal = ApiError(
                403,
                "not_record_owner",
                "only an admin or case manager of the record's region settles its conflicts",
            )
        except admin.AdminError:
            refusal = ApiError(
                409,
                "not_resolvable",
                "keep_revision must be the record's head or a version in conflict with it",
            )
    if refusal is not None:
        audit(
            context,
            device,
            "resolve_conflict",
            f"refused:{refusal.error}",
            now=now,
            record_id=str(record_id),
        )
        raise refusal
    return admin.ResolvedRecord.of(head)


@router.get("/admin/stats")
def stats(device: CurrentDevice, context: Context) -> dict[str, Any]:
    """Record counts of the device's organisation by form and status (no record content)."""
    require_role(device, STATS_ROLES, "read statistics")
    return admin.stats(context.storage, org_id=device.org_id)


@router.get("/admin/audit", response_model=list[AuditEntry])
def audit_log(
    device: CurrentDevice,
    context: Context,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """The organisation's audit log after entry `after`, oldest first."""
    require_role(device, ADMIN_ROLES, "read the audit log")
    return context.storage.list_audit(org_id=device.org_id, after_id=after, limit=limit)
