"""`POST /v1/relay/enrol`: a relay (a regional office's node, see sync/relay) passes up the
enrolment of a device that enrolled at it, so every server on the way, and the centre, know
the device's key and verify its signatures themselves. A relay under another relay passes
it on up in turn (`redeem` does, on a relay)."""

from __future__ import annotations

from fastapi import status

from fieldapp.crypto import enrol_code_secret
from sync.protocol import EnrolRequest, EnrolResponse
from sync.server.auth import enrol_code_hash
from sync.server.relaying import redeem
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    actor,
    require_role,
    v1_router,
)
from sync.server.storage import AlreadyExists, CodeExpired, CodeInvalid, CodeUsed, NotFound

__all__ = ["RELAY_ROLES", "router"]

RELAY_ROLES = frozenset({"relay"})

router = v1_router()

_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    CodeInvalid: (403, "enrol_code_invalid", "this enrolment code is not valid"),
    CodeExpired: (403, "enrol_code_expired", "this enrolment code has expired: ask for a new one"),
    CodeUsed: (409, "enrol_code_used", "this enrolment code was used by another device"),
    AlreadyExists: (409, "device_exists", "a device with this id is already enrolled"),
}


@router.post("/relay/enrol", response_model=EnrolResponse, status_code=status.HTTP_200_OK)
def relay_enrol(body: EnrolRequest, relay: CurrentDevice, context: Context) -> EnrolResponse:
    """Redeem a code for a device enrolling at the calling relay: only a code of the relay's
    organisation and region (any region for a relay without one); idempotent as `/v1/enrol`
    for the same device and key. The answer's token is never used (the device holds the
    relay's): the relay keeps only the code's organisation, role, region and team key."""
    require_role(relay, RELAY_ROLES, "enrol devices for others")
    storage = context.storage
    if context.upstream_enrol is None:  # the centre: the code must be here
        try:
            code = storage.get_enrol_code(enrol_code_hash(enrol_code_secret(body.code)))
        except NotFound:
            raise ApiError(*_REFUSALS[CodeInvalid]) from None
        if code.org_id != relay.org_id or (relay.region not in (None, code.region)):
            storage.append_audit(
                actor(relay), "relay_enrol", "refused:other_region", context.now(),
                org_id=relay.org_id, device_id=relay.id,
            )  # fmt: skip
            raise ApiError(*_REFUSALS[CodeInvalid])
    try:
        answer = redeem(context, body)
    except (CodeInvalid, CodeExpired, CodeUsed, AlreadyExists) as refused:
        raise ApiError(*_REFUSALS[type(refused)]) from None
    if answer.organisation_id != relay.org_id or relay.region not in (None, answer.region):
        raise ApiError(*_REFUSALS[CodeInvalid])
    return answer
