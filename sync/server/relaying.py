"""What the server does for a relay that pushes: whose key verifies each envelope it
forwards, and the relays each came through. Every other rule of a push applies unchanged
(see docs/sync-protocol.md, *Relays*)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta

from fieldapp.crypto import enrol_code_secret
from sync.protocol import (
    MAX_RELAY_HOPS,
    ROSTER_ROLES,
    SEALING_EPOCHS_HEADER,
    EnrolRequest,
    EnrolResponse,
    PushRequest,
    RosterPush,
)
from sync.server.auth import (
    enrol_code_hash,
    enrol_proof,
    enrol_proof_key,
    new_token,
    token_hash,
)
from sync.server.routes.common import ApiError, ServerContext, actor
from sync.server.storage import AlreadyExists, Device, EnrolCode, NotFound, Storage

__all__ = [
    "redeem",
    "refuse_code_of_another_relay",
    "relayed_hops",
    "relayed_roster_writers",
    "relayed_signers",
    "relays_below",
]

# A code a relay keeps after its upstream redeemed it: long enough for the device to retry
# its enrolment after a cut connection (the same device and key only, as any code).
_RELAYED_CODE_TTL = timedelta(hours=1)


def relayed_signers(storage: Storage, pusher: Device, body: PushRequest) -> Callable[[str], Device]:
    """The device whose enrolled key must verify an envelope signed as `device_id`.

    A device pushes only its own envelopes: always itself (any other `device_id` is then
    refused as `device_mismatch`). A relay pushes those of the devices of its organisation
    and region (any region for a relay without one) that are enrolled and not revoked: that
    device; for any other id the relay itself, so the envelope is refused the same way."""
    if pusher.role != "relay":
        return lambda _device_id: pusher
    found = _relayed_devices(storage, pusher, {envelope.device_id for envelope in body.records})
    return lambda device_id: found.get(device_id, pusher)


def relayed_roster_writers(
    storage: Storage, pusher: Device, body: RosterPush
) -> list[Device | None] | None:
    """Whose entry each roster entry of a relay's push is: the device it names, if that
    device is the relay's to speak for (as `relayed_signers`), enrolled through it, and
    shares rosters; None (the entry is refused) for any other or none. None for a device's
    own push. Through it only: an entry is not signed by its device, as a record is, so a
    relay speaks for no device of its region that enrolled elsewhere."""
    if pusher.role != "relay":
        return None
    named = {entry.device_id for entry in body.entries if entry.device_id is not None}
    found = _relayed_devices(storage, pusher, named)
    writers: list[Device | None] = []
    for entry in body.entries:
        writer = found.get(entry.device_id or "")
        if writer is None or writer.enrolled_via != pusher.id or writer.role not in ROSTER_ROLES:
            writer = None
        writers.append(writer)
    return writers


def _relayed_devices(storage: Storage, relay: Device, device_ids: set[str]) -> dict[str, Device]:
    """Of these ids, the devices the relay may speak for: of its organisation and region (any
    region for a relay without one), enrolled and not revoked."""
    found: dict[str, Device] = {}
    for device_id in device_ids:
        try:
            device = storage.get_device(device_id)
        except NotFound:
            continue
        if (
            device.org_id == relay.org_id
            and device.revoked_at is None
            and relay.region in (None, device.region)
        ):
            found[device_id] = device
    return found


def relayed_hops(
    pusher: Device, body: PushRequest, positions: Sequence[int]
) -> list[list[dict[str, str]]] | None:
    """The relays each stored envelope (at `positions` of the batch) came through, nearest
    the device first (each relay adds itself as it forwards); None for a
    device's own push (whatever hops it sent: only relays speak of relays)."""
    if pusher.role != "relay":
        return None
    given = body.hops or []
    paths = []
    for index in positions:
        path = [hop.model_dump(mode="json") for hop in given[index]] if index < len(given) else []
        paths.append(path)
    return paths


def redeem(
    context: ServerContext, body: EnrolRequest, via_relay: Device | None = None
) -> EnrolResponse:
    """Redeem the code for the device of `body` here (`via_relay`: the relay that passed it
    up), and first at the upstream on a relay (which then learns the code's organisation,
    role, region and wrapped team key from its upstream's answer and keeps the code, already
    used, under the same hash). While that upstream cannot be reached, a relay redeems a code
    the centre pre-issued for it (`GET /v1/relay/codes`) and notes the enrolment to pass up.
    Raises the storage's refusals, or ApiError (the upstream's, or a code for a relay)."""
    storage, now = context.storage, context.now()
    secret = enrol_code_secret(body.code)
    code_hash = enrol_code_hash(secret)
    pending_proof = None
    if context.upstream_enrol is None:
        refuse_code_of_another_relay(storage, code_hash, body.device_id, via_relay)
    else:
        with contextlib.suppress(NotFound):  # a code held here for a relay below is its own
            _held_for_relay_below(storage, storage.get_enrol_code(code_hash), via_relay)
        try:
            upstream = context.upstream_enrol(body)
        except ApiError as refused:
            pending_proof = _offline_proof(storage, code_hash, body, refused, via_relay)
        else:
            with contextlib.suppress(AlreadyExists):  # a retry, or a code pre-issued here
                storage.create_enrol_code(
                    upstream.organisation_id,
                    code_hash,
                    upstream.role,
                    upstream.region,
                    now + _RELAYED_CODE_TTL,
                    now,
                    wrapped_team_key=upstream.wrapped_team_key,
                    wrapped_match_key=upstream.wrapped_match_key,
                )
    token = new_token()
    device = storage.redeem_enrol_code(
        code_hash,
        body.device_id,
        body.device_public_key,
        body.device_label,
        token_hash(token),
        now,
        pending_proof=pending_proof,
        enrolled_via=None if via_relay is None else via_relay.id,
    )
    outcome = "ok" if pending_proof is None else "ok:pending_upstream"
    storage.append_audit(
        actor(device), "enrol", outcome, now, org_id=device.org_id, device_id=device.id
    )
    organisation = storage.get_organisation(device.org_id)
    code = storage.get_enrol_code(code_hash)
    return EnrolResponse(
        device_id=device.id,
        token=token,
        organisation_id=device.org_id,
        region=device.region,
        role=device.role,
        server_public_key=context.signing_key.public_key,
        server_key_id=context.key_id,
        recipients=organisation.recipients,
        wrapped_team_key=code.wrapped_team_key,
        wrapped_match_key=code.wrapped_match_key,
        sealing_epochs=context.push_capabilities().get(SEALING_EPOCHS_HEADER) == "epochs",
    )


def refuse_code_of_another_relay(
    storage: Storage, code_hash: str, device_id: str, via_relay: Device | None
) -> None:
    """At the centre: a code issued for a relay is not redeemed here directly (`via_relay`
    None), nor through another relay than its own or one its own enrolled through (a
    district relay's codes pass its regional relay). An unknown code, or one already used by
    another device, is left to the redemption to refuse (`enrol_code_invalid`,
    `enrol_code_used`)."""
    try:
        code = storage.get_enrol_code(code_hash)
    except NotFound:
        return
    if code.relay_id is None or (
        via_relay is not None and via_relay.id in _relay_path(storage, code.relay_id)
    ):
        return
    if code.device_id is not None and code.device_id != device_id:
        return
    if via_relay is None:
        raise ApiError(
            403,
            "enrol_code_for_relay",
            "this enrolment code was issued for a regional office: enrol at that office",
        )
    raise _other_relay()


def relays_below(storage: Storage, relay: Device) -> list[str]:
    """The relays enrolled through `relay` (a regional relay's district relays), and those
    enrolled through them in turn, nearest first, up to the hops a record may take
    (`MAX_RELAY_HOPS`); revoked ones left out."""
    relays = [
        device for device in storage.list_devices(relay.org_id)
        if device.role == "relay" and device.revoked_at is None
    ]  # fmt: skip
    below: list[str] = []
    level = [relay.id]
    for _ in range(MAX_RELAY_HOPS - 1):
        level = [r.id for r in relays if r.enrolled_via in level and r.id not in below]
        if not level:
            break
        below += level
    return below


def _relay_path(storage: Storage, relay_id: str) -> list[str]:
    """The relay and those it enrolled through, nearest first, up to the hops a record may
    take (`MAX_RELAY_HOPS`)."""
    path: list[str] = []
    next_id: str | None = relay_id
    while next_id is not None and next_id not in path and len(path) < MAX_RELAY_HOPS:
        path.append(next_id)
        try:
            next_id = storage.get_device(next_id).enrolled_via
        except NotFound:
            break
    return path


def _offline_proof(
    storage: Storage,
    code_hash: str,
    body: EnrolRequest,
    refused: ApiError,
    via_relay: Device | None,
) -> str:
    """At a relay whose upstream is away: the proof to pass the enrolment up with, if the
    code is one the centre pre-issued for this relay; else the upstream's refusal again (for
    a code this relay holds for a relay below it, passed up by that relay: it checks the
    code itself)."""
    if refused.error != "upstream_unreachable":
        raise refused
    try:
        code = storage.get_enrol_code(code_hash)
    except NotFound:
        raise refused from None
    # A code kept after an online enrolment (no relay named) is not one to check here.
    if code.relay_id is None or _held_for_relay_below(storage, code, via_relay):
        raise refused
    return enrol_proof(enrol_proof_key(body.code), body.device_id, body.device_public_key)


def _held_for_relay_below(storage: Storage, code: EnrolCode, via_relay: Device | None) -> bool:
    """At a relay: whether the code is one it holds to hand on to a relay enrolled here (its
    own id is no device in its own database), passed up by that relay or one below it, which
    checks it itself. Typed here by a device (or passed up by another relay), it is another
    office's code: ApiError `enrol_code_other_relay`, before anything is asked upstream."""
    if code.relay_id is None:
        return False
    try:
        storage.get_device(code.relay_id)
    except NotFound:
        return False
    if via_relay is not None and via_relay.id in _relay_path(storage, code.relay_id):
        return True
    raise _other_relay()


def _other_relay() -> ApiError:
    return ApiError(
        403,
        "enrol_code_other_relay",
        "this enrolment code was issued for another regional office: enrol there",
    )
