"""Enrolment: a one-time code makes the store a device of a server's organisation. The
answer's keys are checked against the code's fingerprint (and an enrolment link's) before
anything is stored."""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from fieldapp import crypto
from fieldapp.store import Store, TeamKey
from sync.client._backoff import RetryPolicy, jitter_source
from sync.client._errors import EnrolmentNotTrusted, EnrolRefused, ServerRefused
from sync.client._exchange import Exchange, refusal
from sync.client._state import (
    SECRET_TOKEN,
    STATE_CURSOR,
    STATE_ORGANISATION,
    STATE_REGION,
    STATE_ROLE,
    STATE_SERVER_KEY_ID,
    STATE_SERVER_PUBLIC_KEY,
    STATE_SERVER_URL,
)
from sync.protocol import EnrolmentCode, EnrolRequest, EnrolResponse, parse_fingerprint

__all__ = ["EnrolResult", "enrol"]


@dataclass(frozen=True)
class EnrolResult:
    device_id: str
    organisation_id: str
    region: str | None
    role: str
    server_key_id: str
    sealed_waiting: int  # records finalised before enrolment, now sealed for the organisation
    team_search: bool  # the code brought the team key: participants are shared with the team
    team_entries: int  # participants of records finalised before, now queued for the team
    match_key: bool = False  # the code brought the match key: records carry match digests


def enrol(
    store: Store,
    base_url: str,
    code: str,
    *,
    fingerprint: str | None = None,
    transport: httpx.BaseTransport | None = None,
    label: str = "",
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 30.0,
) -> EnrolResult:
    """Enrol the (unlocked) store as a device of the server with a one-time code.

    The code ends with a check of the organisation's keys and the server's (and an
    enrolment link carries their whole `fingerprint`, 64 hex digits): an answer whose keys do
    not match is refused with EnrolmentNotTrusted before anything is stored. A code of the
    earlier kind, without that check, is refused (BadEnrolmentCode) before anything is sent.
    Raises EnrolRefused if the server refuses the code, ServerRefused if its answer is not
    understood, ServerUnreachable if it cannot be reached. `transport` moves the bytes (see
    `SyncClient`).

    Safe to retry after a cut connection: the server accepts the same code again from the
    same device key while the code is valid, and each answer replaces what was stored.
    """
    wire = Exchange(
        base_url,
        transport=transport,
        retry=retry or RetryPolicy(),
        sleep=sleep,
        rng=jitter_source(),
        timeout=timeout,
        clock=store.settings.wall_clock,
    )
    try:
        typed = EnrolmentCode.parse(code)
        expected = None if fingerprint is None else parse_fingerprint(fingerprint)
        request = EnrolRequest(
            code=typed.secret_text,
            device_id=store.device_id,
            device_public_key=store.keyring.public_key,
            device_label=label,
        )
        response = wire.request(
            "POST", "/v1/enrol", content=request.model_dump_json().encode("utf-8")
        )
        if response.status_code != 200:
            raise EnrolRefused(refusal(response))
        try:
            answer = EnrolResponse.model_validate_json(response.content)
            recipients = [crypto.RecipientKey.model_validate(r) for r in answer.recipients]
        except ValidationError:
            raise ServerRefused("the server's enrolment answer was not understood") from None
    finally:
        wire.close()
    _check_keys(typed, expected, recipients, answer)
    if answer.device_id != store.device_id:
        raise ServerRefused("the server enrolled another device id than this one")
    team = _team_key(typed.secret, answer)
    match = _match_key(typed.secret, answer)
    previous = (store.settings.get(STATE_SERVER_URL), store.settings.get(STATE_SERVER_KEY_ID))
    if previous != (wire.base_url, answer.server_key_id) or store.roster.team_key() != team:
        # Another server (its change log starts afresh), or another team (its roster must
        # be pulled from the start).
        store.settings.set(STATE_CURSOR, "0")
    store.outbox.set_match_key(match)  # before sealing: waiting records get their digests
    store.outbox.set_seals_in_epochs(answer.sealing_epochs)
    sealed = store.outbox.set_recipients(recipients)
    team_entries = store.roster.set_team_key(team)
    store.keyring.set_secret(SECRET_TOKEN, answer.token)
    store.settings.set(STATE_SERVER_URL, wire.base_url)
    store.settings.set(
        STATE_SERVER_PUBLIC_KEY, base64.b64encode(answer.server_public_key).decode("ascii")
    )
    store.settings.set(STATE_SERVER_KEY_ID, answer.server_key_id)
    store.settings.set(STATE_ORGANISATION, answer.organisation_id)
    store.settings.set(STATE_ROLE, answer.role)
    store.settings.set(STATE_REGION, answer.region or "")
    if wire.clock_offset is not None:
        store.settings.set_clock_offset(wire.clock_offset)
    return EnrolResult(
        device_id=answer.device_id,
        organisation_id=answer.organisation_id,
        region=answer.region,
        role=answer.role,
        server_key_id=answer.server_key_id,
        sealed_waiting=sealed,
        team_search=team is not None,
        team_entries=team_entries,
        match_key=match is not None,
    )


def _check_keys(
    code: EnrolmentCode,
    expected: bytes | None,
    recipients: list[crypto.RecipientKey],
    answer: EnrolResponse,
) -> None:
    """Refuse the answer unless its keys have the fingerprint the code (and the link, when
    enrolling from one) was issued with."""
    actual = crypto.enrolment_fingerprint(recipients, answer.server_public_key)
    if not code.confirms(actual):
        what = "the code"
    elif expected is not None and not hmac.compare_digest(actual, expected):
        what = "the enrolment link's fingerprint"
    else:
        return
    keys = ", ".join(r.key_id for r in recipients) or "none"
    raise EnrolmentNotTrusted(
        f"the server answered with keys that do not match {what}: organisation keys {keys}"
        f" and receipt key {answer.server_key_id} are not the ones the code was issued with."
        " Nothing was stored on this device. Someone may be intercepting the connection, or"
        " the organisation's keys changed since: tell your coordinator, ask for a new code,"
        " and enrol on another network"
    )


def _match_key(secret: str, answer: EnrolResponse) -> bytes | None:
    """The organisation's match key the code's secret unwraps; None if the code carried
    none. One that does not open with the code is refused before anything is stored."""
    if answer.wrapped_match_key is None:
        return None
    try:
        return crypto.unwrap_match_key(secret, answer.wrapped_match_key, answer.organisation_id)
    except crypto.CryptoError:
        raise ServerRefused(
            "the match key sent with this enrolment does not open with the code: nothing was "
            "changed on this device; ask the coordinator for a new code"
        ) from None


def _team_key(secret: str, answer: EnrolResponse) -> TeamKey | None:
    """The team key the code's secret unwraps, for the organisation and region enrolled into;
    None if the code carried none. A key that does not open with the code is refused before
    anything is stored: the server (or someone in between) altered it."""
    if answer.wrapped_team_key is None:
        return None
    try:
        key = crypto.unwrap_team_key(
            secret, answer.wrapped_team_key, answer.organisation_id, answer.region
        )
    except crypto.CryptoError:
        raise ServerRefused(
            "the team key sent with this enrolment does not open with the code: nothing was "
            "changed on this device; ask the coordinator for a new code"
        ) from None
    return TeamKey(key, answer.organisation_id, answer.region)
