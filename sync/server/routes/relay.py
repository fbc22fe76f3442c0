"""What a relay (a regional office's node, see sync/relay) asks of its upstream about
enrolment. `POST /v1/relay/enrol`: it passes up the enrolment of a device that enrolled at
it, so every server on the way, and the centre, know the device's key and verify its
signatures themselves (a relay under another relay passes it on up in turn: `redeem` does,
on a relay). For the time the line is down: `GET /v1/relay/codes`, the codes the centre
issued for the relay, by hash; `POST /v1/relay/enrolments`, an enrolment the relay made
with one of them meanwhile, proved by the code the device typed."""

from __future__ import annotations

import hmac

from fastapi import status

from fieldapp.crypto import enrol_code_secret
from sync.protocol import (
    MAX_RELAY_CODES,
    EnrolRequest,
    EnrolResponse,
    RelayCode,
    RelayCodes,
    RelayEnrolled,
    RelayEnrolment,
)
from sync.server.auth import enrol_code_hash, enrol_proof, new_token, token_hash
from sync.server.relaying import redeem, refuse_code_of_another_relay, relays_below
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    actor,
    require_role,
    v1_router,
)
from sync.server.storage import (
    AlreadyExists,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    NotFound,
)

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
        answer = redeem(context, body, relay)
    except (CodeInvalid, CodeExpired, CodeUsed, AlreadyExists) as refused:
        raise ApiError(*_REFUSALS[type(refused)]) from None
    if answer.organisation_id != relay.org_id or relay.region not in (None, answer.region):
        raise ApiError(*_REFUSALS[CodeInvalid])
    return answer


@router.get("/relay/codes", response_model=RelayCodes)
def relay_codes(relay: CurrentDevice, context: Context, below: bool = False) -> RelayCodes:
    """The codes the centre issued for the calling relay, neither used nor expired, by hash
    (never the code, never its proof key): what it checks while the centre is away. With
    `below`, those of the relays enrolled through it too, each naming its relay, for it to
    hand on (a regional relay to its district relays). A relay answers with the codes it
    took so from its own upstream."""
    require_role(relay, RELAY_ROLES, "hold enrolment codes")
    storage, now = context.storage, context.now()
    bound: list[tuple[str | None, str]] = [(None, relay.id)]
    if below:
        bound += [(relay_id, relay_id) for relay_id in relays_below(storage, relay)]
    codes = [
        RelayCode(
            code_hash=code.code_hash,
            role=code.role,
            region=code.region,
            expires_at=code.expires_at,
            wrapped_team_key=code.wrapped_team_key,
            wrapped_match_key=code.wrapped_match_key,
            relay_id=named,
        )
        for named, relay_id in bound
        for code in storage.relay_codes(relay_id, now)
    ]
    return RelayCodes(codes=codes[:MAX_RELAY_CODES])


@router.post("/relay/enrolments", response_model=RelayEnrolled)
def relay_enrolment(body: RelayEnrolment, relay: CurrentDevice, context: Context) -> RelayEnrolled:
    """Take an enrolment the calling relay made while it could not reach the centre: only with
    a code issued for that relay (`enrol_code_other_relay`, `enrol_code_for_relay` else),
    once (`enrol_code_used`; the same device and key again is a retry), valid when the relay
    enrolled the device (`enrol_code_expired`), with the proof that the device gave the code
    (`enrol_proof_invalid`). A revoked relay is refused before (401).

    At a relay (a district relay's enrolment at its regional relay): taken on the rules it
    can check (a code the centre bound to the caller, or a relay enrolled through it, and
    handed on from here; once; valid when it was made) and kept, with the proof unchanged,
    to pass up in this relay's own rounds: only the centre holds the proof key and decides.
    A device the centre refuses is revoked here, and the revocation comes down below."""
    require_role(relay, RELAY_ROLES, "enrol devices for others")
    storage, now = context.storage, context.now()
    refuse_code_of_another_relay(storage, body.code_hash, body.device_id, relay)
    try:
        code = storage.get_enrol_code(body.code_hash)
    except NotFound:
        raise ApiError(*_REFUSALS[CodeInvalid]) from None
    at_centre = context.upstream_enrol is None
    if at_centre:
        expected = (
            None
            if code.proof_key is None
            else enrol_proof(code.proof_key, body.device_id, body.device_public_key)
        )
        if expected is None or not hmac.compare_digest(expected, body.proof):
            storage.append_audit(
                actor(relay), "relay_enrol", "refused:enrol_proof_invalid", now,
                org_id=relay.org_id, device_id=relay.id,
            )  # fmt: skip
            raise ApiError(
                403,
                "enrol_proof_invalid",
                "this enrolment does not prove the device gave the code: it is refused",
            )
    elif code.relay_id is None:  # at a relay: not a code it handed on to a relay below
        raise ApiError(*_REFUSALS[CodeInvalid])
    # The relay's clock, kept within what this server knows: after the code was issued (or
    # taken here), not in the future. The code's expiry is checked at that time.
    enrolled_at = max(min(body.enrolled_at, now), code.created_at)
    try:
        device = storage.redeem_enrol_code(
            body.code_hash, body.device_id, body.device_public_key, body.device_label,
            token_hash(new_token()), enrolled_at, enrolled_via=relay.id,
            pending_proof=None if at_centre else body.proof,
        )  # fmt: skip
    except (CodeInvalid, CodeExpired, CodeUsed, AlreadyExists) as refused:
        storage.append_audit(
            actor(relay), "relay_enrol", f"refused:{_REFUSALS[type(refused)][1]}", now,
            org_id=relay.org_id, device_id=relay.id,
        )  # fmt: skip
        raise ApiError(*_REFUSALS[type(refused)]) from None
    outcome = "ok:offline" if at_centre else "ok:pending_upstream"
    storage.append_audit(
        actor(relay), "relay_enrol", outcome, now, org_id=device.org_id, device_id=device.id
    )
    return RelayEnrolled(device_id=device.id, enrolled_at=device.enrolled_at)
