"""`/v1/office/...`: what the office (coordinators, case managers, admins) does from its own
enrolled devices: list incoming records (statistical fields only, newest first, a keyset page
at a time) and review them; case managers and admins (who hold the organisation's private
key) fetch a record's sealed part to open on their device. A regional device sees, reviews
and opens its region's records only; another organisation's record is 404, as one that does
not exist. All are audited: the list with the number of records returned only, a review with
its state only (never the comment), an opening with who, which record and when (never the
content, which the server cannot read anyway), refusals too."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Path, Query

from sync.protocol import (
    MAX_OFFICE_PAGE,
    DeviceRevoked,
    OfficeDevice,
    OfficeDevices,
    OfficeRecord,
    OfficeRecordsPage,
    ReviewRequest,
    ReviewResult,
    ReviewState,
    SealedRecordView,
)
from sync.server import admin
from sync.server.auth import SEALED_READ_ROLES
from sync.server.ingest import epoch_id_or_none
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
from sync.server.storage import ORG_WIDE_ROLES, NotFound, OfficeFilter

__all__ = [
    "OFFICE_DEVICE_ROLES",
    "OFFICE_READ_ROLES",
    "OFFICE_REVIEW_ROLES",
    "SEALED_READ_ROLES",
    "router",
]

router = v1_router()

# Who lists and reviews: the office roles. Collectors and trainers see their own records only.
OFFICE_READ_ROLES = ORG_WIDE_ROLES
OFFICE_REVIEW_ROLES = ORG_WIDE_ROLES
OFFICE_DEVICE_ROLES = ORG_WIDE_ROLES  # list the devices
# Who revokes from the office: an admin any device, a coordinator the field's (a lost phone);
# both within their region when enrolled with one.
_REVOKERS: dict[str, frozenset[str]] = {
    "admin": frozenset({"collector", "trainer", "coordinator", "case_manager", "admin"}),
    "coordinator": frozenset({"collector", "trainer"}),
}
_CURSOR_PREFIX = "o1:"
_LABEL = Annotated[str | None, Query(min_length=1, max_length=200)]


def _cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after}".encode()).decode().rstrip("=")


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        after = int(text.removeprefix(_CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        after = -1
    if not 0 < after < 2**62:
        raise ApiError(400, "bad_cursor", "cursor: not a cursor this server gave")
    return after


@router.get(
    "/office/records",
    response_model=OfficeRecordsPage,
    openapi_extra=links(
        NextOfficePage=(
            "GET /office/records",
            {"parameters": {"query.cursor": "$response.body#/next_cursor"}},
        ),
        ReviewFirstRecord=(
            "POST /office/records/{record_id}:review",
            {"parameters": {"path.record_id": "$response.body#/records/0/id"}},
        ),
    ),
)
def office_records(
    device: CurrentDevice,
    context: Context,
    form: _LABEL = None,
    region: _LABEL = None,
    device_id: Annotated[str | None, Query(alias="device", min_length=1, max_length=64)] = None,
    status: ReviewState | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_OFFICE_PAGE)] = 100,
) -> OfficeRecordsPage:
    """The organisation's records (the device's region's only, for a regional device),
    newest received first: filters by form, region, sending device, review status and
    receipt time (`received_from` inclusive, `received_to` exclusive, ISO 8601 with an
    offset); `next_cursor` gives the next page. Statistical fields only."""
    require_role(device, OFFICE_READ_ROLES, "list the organisation's records")
    for name, value in (("received_from", received_from), ("received_to", received_to)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, "invalid_request", f"{name}: give a time with its UTC offset")
    query = OfficeFilter(form, region, device_id, status, received_from, received_to)
    page = context.storage.office_records(device, query, _after(cursor), limit)
    audit(context, device, "office_list", f"ok:{len(page.rows)}")
    return OfficeRecordsPage(
        records=[OfficeRecord.model_validate(row, from_attributes=True) for row in page.rows],
        next_cursor=None if page.next_after is None else _cursor(page.next_after),
    )


@router.post("/office/records/{record_id}:review", response_model=ReviewResult)
def review_record(
    record_id: UUID, body: ReviewRequest, device: CurrentDevice, context: Context
) -> ReviewResult:
    """Review the record's head: approved, has_issues or rejected (a comment, at most
    500 characters, required for the last two). The devices that wrote the record get it as
    a `review` change on their next pull; a new revision moves has_issues back to received
    (approved and rejected to edited)."""
    require_role(device, OFFICE_REVIEW_ROLES, "review records")
    now = context.now()
    try:
        stored = context.storage.review_record(device, record_id, body.state, body.comment, now)
    except NotFound:
        audit(
            context,
            device,
            "review",
            "refused:record_not_found",
            now=now,
            record_id=str(record_id),
        )
        raise ApiError(404, "record_not_found", "no such record") from None
    audit(
        context,
        device,
        "review",
        stored.state,
        now=now,
        record_id=str(record_id),
    )
    return ReviewResult.model_validate(stored, from_attributes=True)


@router.get("/office/records/{record_id}/sealed", response_model=SealedRecordView)
def sealed_record(
    record_id: UUID,
    device: CurrentDevice,
    context: Context,
    history: Annotated[
        bool, Query(description="every stored revision, oldest first (default: the head only)")
    ] = False,
) -> SealedRecordView:
    """The record's head revision with its sealed part, as the device signed it, for a case
    manager's or admin's device to open with the organisation's private key (every revision
    with `history`). Coordinators and field roles get 403; another organisation's record, or
    another region's for a regional device, 404. Audited, refusals too: who, which record,
    when, how many revisions; never any content."""
    now = context.now()

    def audited(outcome: str) -> None:
        audit(
            context,
            device,
            "open_sealed",
            outcome,
            now=now,
            record_id=str(record_id),
        )

    if device.role not in SEALED_READ_ROLES:
        audited("refused:forbidden")
        raise ApiError(
            403,
            "forbidden",
            f"a {device.role} device may not open sealed records: only case managers and"
            " admins, who hold the organisation's key, may",
        )
    try:
        found = context.storage.office_sealed(device, record_id, history=history)
    except NotFound:
        audited("refused:record_not_found")
        raise ApiError(404, "record_not_found", "no such record") from None
    audited(f"ok:{len(found.revisions)}")
    head = found.head
    envelopes = [revision.to_envelope() for revision in found.revisions]
    named = {epoch_id_or_none(envelope.sealed) for envelope in envelopes} - {None}
    return SealedRecordView(
        id=head.id,
        form_id=head.form_id,
        region=found.region,
        head_revision=head.head_revision,
        deleted=head.deleted,
        in_conflict=head.in_conflict,
        consent_withdrawn=head.consent_withdrawn,
        revisions=envelopes,
        epochs=context.storage.epoch_headers(device.org_id, (key for key in named if key)),
    )


@router.get("/office/devices", response_model=OfficeDevices)
def office_devices(device: CurrentDevice, context: Context) -> OfficeDevices:
    """The organisation's devices (the viewer's region's only, for a regional device), revoked
    ones included, by enrolment time: last seen, last sync, records waiting and app version as
    their last sync said. Audited with the number of devices listed."""
    require_role(device, OFFICE_DEVICE_ROLES, "list the organisation's devices")
    listed = [
        OfficeDevice.model_validate(d, from_attributes=True)
        for d in context.storage.list_devices(device.org_id)
        if device.region is None or d.region == device.region
    ]
    audit(context, device, "office_devices", f"ok:{len(listed)}")
    return OfficeDevices(devices=listed)


@router.post("/office/devices/{device_id}:revoke", response_model=DeviceRevoked)
def office_revoke(
    device_id: Annotated[str, Path(min_length=1, max_length=64)],
    device: CurrentDevice,
    context: Context,
) -> DeviceRevoked:
    """Revoke a device of the organisation (its token stops working; it wipes itself at its
    next contact): an admin any, a coordinator a collector's or trainer's; within the region
    of a regional one. The admin library's revocation, audited there."""
    require_role(device, frozenset(_REVOKERS), "revoke devices")
    target = managed_device(context, device, device_id, "office")
    if target.role not in _REVOKERS[device.role]:
        raise ApiError(403, "forbidden", f"a {device.role} device may not revoke a {target.role}")
    revoked = admin.revoke(context.storage, device_id, now=context.now(), actor=actor(device))
    assert revoked.revoked_at is not None
    return DeviceRevoked(device_id=revoked.id, revoked_at=revoked.revoked_at)
