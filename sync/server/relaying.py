"""What the server does for a relay that pushes: whose key verifies each envelope it
forwards, and the relays each came through. Every other rule of a push applies unchanged
(see docs/sync-protocol.md, *Relays*)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta

from fieldapp.crypto import enrol_code_secret
from sync.protocol import EnrolRequest, EnrolResponse, PushRequest
from sync.server.auth import enrol_code_hash, new_token, token_hash
from sync.server.routes.common import ServerContext, actor
from sync.server.storage import AlreadyExists, Device, NotFound, Storage

__all__ = ["redeem", "relayed_hops", "relayed_signers"]

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
    found: dict[str, Device] = {}
    for device_id in {envelope.device_id for envelope in body.records}:
        try:
            device = storage.get_device(device_id)
        except NotFound:
            continue
        if (
            device.org_id == pusher.org_id
            and device.revoked_at is None
            and pusher.region in (None, device.region)
        ):
            found[device_id] = device
    return lambda device_id: found.get(device_id, pusher)


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


def redeem(context: ServerContext, body: EnrolRequest) -> EnrolResponse:
    """Redeem the code for the device of `body` here, and first at the upstream on a relay
    (which then learns the code's organisation, role, region and wrapped team key from its
    upstream's answer and keeps the code, already used, under the same hash). Raises the
    storage's refusals, or ApiError from the upstream."""
    storage, now = context.storage, context.now()
    secret = enrol_code_secret(body.code)
    code_hash = enrol_code_hash(secret)
    if context.upstream_enrol is not None:
        upstream = context.upstream_enrol(body)
        with contextlib.suppress(AlreadyExists):  # a retry: the code is here already
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
    )
    storage.append_audit(
        actor(device), "enrol", "ok", now, org_id=device.org_id, device_id=device.id
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
        sealing_epochs=True,
    )
