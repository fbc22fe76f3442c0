"""Enrolment at a relay while its upstream is away (docs/sync-protocol.md, *Relays*): the
relay takes, while online, the hashes of the codes the centre issued for it (and for the
relays enrolled through it, which it hands down to them), enrols a device with one of them
when the centre cannot be reached (`sync.server.relaying.redeem`), and passes the enrolment
up once the line is back, with the proof that the device gave the code. The centre decides:
a device it refuses is revoked here, so the relay never vouches for a device on its own
authority."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

import httpx
from pydantic import ValidationError

from sync.client import Exchange, ServerRefused, answer, refusal
from sync.protocol import ErrorBody, RelayCodes, RelayEnrolled, RelayEnrolment
from sync.relay.identity import RelayIdentity
from sync.server.storage import AlreadyExists, Storage

__all__ = ["pass_enrolments_up", "take_codes"]

_log = logging.getLogger(__name__)
_PAGE = 100
# The upstream's refusals of an enrolment: final, whoever asks again.
_REFUSED = frozenset({403, 409, 422})


def take_codes(exchange: Exchange, storage: Storage, identity: RelayIdentity, now: datetime) -> int:
    """Keep the codes the upstream issued for this relay and for the relays enrolled through
    it (by hash, with their role, region, expiry and wrapped keys, and the relay each is
    bound to, to hand on to it): new ones stored, known ones left. An upstream that does not
    know the endpoint (an older centre) has none. The number of new codes."""
    response = exchange.request(
        "GET", "/v1/relay/codes", token=identity.token, params={"below": "true"}
    )
    if response.status_code in (404, 405):
        return 0
    if response.status_code != 200:
        raise ServerRefused(f"the upstream refused the relay's codes: {refusal(response)}")
    stored = 0
    for code in answer(response, RelayCodes, "relay codes").codes:
        with contextlib.suppress(AlreadyExists):
            storage.create_enrol_code(
                identity.org_id, code.code_hash, code.role, code.region, code.expires_at, now,
                wrapped_team_key=code.wrapped_team_key,
                wrapped_match_key=code.wrapped_match_key,
                relay_id=code.relay_id or identity.device_id,
            )  # fmt: skip
            stored += 1
    return stored


def pass_enrolments_up(
    exchange: Exchange, storage: Storage, identity: RelayIdentity, now: datetime
) -> int:
    """Pass up each enrolment made offline (`POST /v1/relay/enrolments`), oldest first. One
    the upstream takes is settled; one it refuses (a code used elsewhere, of another relay,
    expired, a proof that fails) is settled too and its device revoked here, its records
    kept here and not accepted upstream. Any other answer stops the round (ServerRefused;
    a revoked relay's token is refused: its enrolments stay pending). Enrolments taken."""
    taken = 0
    while pending := storage.pending_enrolments(_PAGE):
        for enrolment in pending:
            device = storage.get_device(enrolment.device_id)
            body = RelayEnrolment(
                device_id=device.id,
                device_public_key=device.public_key,
                device_label=device.label,
                code_hash=enrolment.code_hash,
                proof=enrolment.proof,
                enrolled_at=enrolment.enrolled_at,
            )
            response = exchange.request(
                "POST", "/v1/relay/enrolments", token=identity.token,
                content=body.model_dump_json().encode("utf-8"),
            )  # fmt: skip
            if response.status_code == 200:
                answer(response, RelayEnrolled, "enrolment answer")
                outcome = "ok:passed_up"
                taken += 1
            elif response.status_code in _REFUSED:
                outcome = f"refused:{_error_code(response)}"
                _log.error("relay: the upstream refused device %s: %s", device.id, outcome)
                storage.revoke_device(device.id, now)
            else:
                raise ServerRefused(f"the upstream refused an enrolment: {refusal(response)}")
            storage.append_audit(
                f"relay:{identity.device_id}", "relay_enrol", outcome, now,
                org_id=identity.org_id, device_id=device.id,
            )  # fmt: skip
            storage.settle_pending_enrolment(device.id)
    return taken


def _error_code(response: httpx.Response) -> str:
    try:
        return ErrorBody.model_validate_json(response.content).error
    except ValidationError:
        return "unknown"
