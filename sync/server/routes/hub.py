"""`/v1/hub/...`: the data collaborative's hub, served by `fieldapp serve --hub KEYFILE`.

A request is signed by a key (see sync/protocol/hub.py): the steward's (the hub was started
with its public part), or an admitted member organisation's. The steward admits members,
reads the sealed contributions of a period and publishes releases it signed; a member
records its consent, contributes while it shares, and reads releases; anyone else is refused
without learning whether a key is a member. The hub holds no private key and opens nothing.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from fieldapp.crypto import verify
from fieldapp.crypto.errors import SignatureError
from sync.protocol.hub import (
    HUB_KEY_HEADER,
    HUB_SIGNATURE_HEADER,
    HUB_TIME_HEADER,
    HubConsent,
    HubInfo,
    HubMember,
    HubMemberRequest,
    HubRelease,
    HubReleases,
    HubReleaseUpload,
    HubSealedContribution,
    HubSealedContributions,
    Period,
    consent_signed_bytes,
    hub_request_bytes,
    release_signed_bytes,
)
from sync.server.routes.common import ApiError, Context, ServerContext, v1_router
from sync.server.storage import AlreadyExists, NotFound
from sync.server.storage.hub import NotSharing

__all__ = ["CLOCK_SKEW", "router"]

router = v1_router()

# How far a signed request's time may be from the hub's clock (it bounds replays).
CLOCK_SKEW = timedelta(minutes=5)


def _hub(context: ServerContext) -> HubInfo:
    if context.hub is None:
        raise ApiError(404, "not_found", "this server is not a data collaborative hub")
    return context.hub


async def _signer(request: Request, context: Context) -> bytes:
    """The key that signed this request (401 unless the signature and time check out)."""
    _hub(context)
    headers = request.headers
    try:
        key = base64.b64decode(headers.get(HUB_KEY_HEADER, ""), validate=True)
        signature = base64.b64decode(headers.get(HUB_SIGNATURE_HEADER, ""), validate=True)
        sent = headers.get(HUB_TIME_HEADER, "")
        when = datetime.fromisoformat(sent)
    except ValueError:
        raise ApiError(401, "unauthenticated", f"sign the request ({HUB_KEY_HEADER}, "
                       f"{HUB_TIME_HEADER}, {HUB_SIGNATURE_HEADER})") from None  # fmt: skip
    if when.tzinfo is None or abs(context.now() - when) > CLOCK_SKEW:
        raise ApiError(401, "unauthenticated", f"{HUB_TIME_HEADER}: not within 5 minutes of now")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        verify(key, signature, hub_request_bytes(request.method, path, sent, await request.body()))
    except SignatureError:
        raise ApiError(401, "unauthenticated", "the request's signature does not match") from None
    return key


Signer = Annotated[bytes, Depends(_signer)]


def _is_steward(context: ServerContext, key: bytes) -> bool:
    return key == _hub(context).steward_key


def _require_steward(context: ServerContext, key: bytes) -> None:
    if not _is_steward(context, key):
        raise ApiError(403, "forbidden", "only the hub's steward may do this")


def _require_member(context: ServerContext, key: bytes) -> HubMember:
    try:
        return context.storage.hub_member(key)
    except NotFound:
        raise ApiError(403, "forbidden", "this key is not a member of the hub") from None


@router.get("/hub", response_model=HubInfo)
def hub_info(context: Context) -> HubInfo:
    """The steward's public keys: contributions are sealed to one, releases signed by the other."""
    return _hub(context)


@router.post("/hub/members", response_model=HubMember, status_code=status.HTTP_201_CREATED)
def admit_member(body: HubMemberRequest, key: Signer, context: Context) -> HubMember:
    _require_steward(context, key)
    try:
        return context.storage.hub_admit(body.org_key, body.name, context.now())
    except AlreadyExists as exc:
        raise ApiError(409, "member_exists", str(exc)) from None


@router.get("/hub/members", response_model=list[HubMember])
def list_members(key: Signer, context: Context) -> list[HubMember]:
    if not _is_steward(context, key):
        _require_member(context, key)
    return context.storage.hub_members()


@router.post("/hub/consent", response_model=HubMember)
def record_consent(body: HubConsent, key: Signer, context: Context) -> HubMember:
    """A member's signed consent to share, or its withdrawal (which drops its contributions
    and marks the releases that counted it)."""
    statement = body.statement
    if statement.org_key != key:
        raise ApiError(403, "forbidden", "statement.org_key: not the key that signed the request")
    _require_member(context, key)
    if statement.hub_steward_key != _hub(context).steward_key:
        raise ApiError(422, "invalid_request", "statement.hub_steward_key: not this hub's steward")
    if statement.at > context.now() + CLOCK_SKEW:
        raise ApiError(422, "invalid_request", "statement.at: in the future")
    try:
        verify(key, body.signature, consent_signed_bytes(statement))
    except SignatureError:
        raise ApiError(422, "invalid_request", "signature: does not match the statement") from None
    try:
        return context.storage.hub_record_consent(body)
    except AlreadyExists as exc:
        raise ApiError(409, "consent_outdated", str(exc)) from None


@router.post("/hub/contributions", status_code=status.HTTP_204_NO_CONTENT)
def contribute(body: HubSealedContribution, key: Signer, context: Context) -> Response:
    """A sharing member's sealed counts for a period (a later one replaces an earlier)."""
    _require_member(context, key)
    try:
        context.storage.hub_put_contribution(key, body.period, body.sealed, context.now())
    except NotSharing as exc:
        raise ApiError(409, "not_sharing", str(exc)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/hub/contributions", response_model=HubSealedContributions)
def sealed_contributions(
    period: Annotated[Period, Query()], key: Signer, context: Context
) -> HubSealedContributions:
    _require_steward(context, key)
    return HubSealedContributions(contributions=context.storage.hub_contributions(period))


@router.post("/hub/releases", response_model=HubRelease, status_code=status.HTTP_201_CREATED)
def publish_release(body: HubReleaseUpload, key: Signer, context: Context) -> HubRelease:
    _require_steward(context, key)
    try:
        verify(key, body.signature, release_signed_bytes(body.period, body.version, body.tables))
    except SignatureError:
        raise ApiError(422, "invalid_request", "signature: does not match the tables") from None
    try:
        return context.storage.hub_put_release(body, context.now())
    except AlreadyExists as exc:
        raise ApiError(409, "release_exists", str(exc)) from None


@router.get("/hub/releases", response_model=HubReleases)
def list_releases(
    key: Signer, context: Context, period: Annotated[Period | None, Query()] = None
) -> HubReleases:
    """Every release (of one period), oldest first; true counts sealed, for the steward."""
    steward = _is_steward(context, key)
    if not steward:
        _require_member(context, key)
    return HubReleases(releases=context.storage.hub_releases(period, sealed=steward))
