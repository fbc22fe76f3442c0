"""What every HTTP area shares: the server's context, the device a request authenticates,
the refusal every handler raises (`ApiError`), role checks, and the OpenAPI helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fieldapp.crypto import SigningKey
from fieldapp.errors import FieldappError
from sync.protocol import (
    APP_VERSION_HEADER,
    BATCH_SIGNATURES_HEADER,
    MAX_APP_VERSION,
    MAX_RECORDS_WAITING,
    SEALING_EPOCHS_HEADER,
    WAITING_HEADER,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
)
from sync.protocol.hub import HubInfo
from sync.server.auth import bearer_token, can_manage_region, token_hash
from sync.server.checks import FormRules, RefusedForm
from sync.server.ingest import device_actor, published_rules
from sync.server.limits import DeviceTokens, EnrolGuard, RefusalTally
from sync.server.settings import ServerSettings
from sync.server.storage import Device, NotFound, Storage

__all__ = [
    "PUSH_CAPABILITIES",
    "ApiError",
    "Context",
    "CurrentDevice",
    "DeviceSays",
    "SelfReport",
    "ServerContext",
    "actor",
    "audit",
    "links",
    "require_role",
    "v1_router",
]


class ApiError(FieldappError):
    """A refusal with its HTTP status and stable error code, rendered as an ErrorBody."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class ServerContext:
    """One app's state, kept on `app.state.fieldapp`: no globals."""

    settings: ServerSettings
    storage: Storage
    signing_key: SigningKey
    key_id: str
    clock: Callable[[], datetime]
    # Tokens that authenticated a device: only they get a rate-limit bucket of their own.
    device_tokens: DeviceTokens
    enrol_guard: EnrolGuard
    # Refused enrolments, audited as one counted entry per client address and window.
    enrol_refusals: RefusalTally
    # Parsed form versions by their publication seq: published versions never change.
    form_rules: dict[int, FormRules | RefusedForm] = field(default_factory=dict)
    # At a relay: redeems an enrolment at the upstream first (raises ApiError saying why
    # not), so the centre knows every device key; None at the centre.
    upstream_enrol: Callable[[EnrolRequest], EnrolResponse] | None = None
    # A data collaborative hub's public keys (`serve --hub`); None on other servers.
    hub: HubInfo | None = None
    # At a relay: what its upstream said it takes (a subset of PUSH_CAPABILITIES, the relay
    # forwards envelopes unchanged); None at the centre, which takes all of them.
    upstream_capabilities: Callable[[], Mapping[str, str]] | None = None

    def now(self) -> datetime:
        return self.clock()

    def push_capabilities(self) -> Mapping[str, str]:
        """The headers by which a push answer says what this server takes: epoch envelopes,
        batch signatures (docs/sync-protocol.md, *Fewer bytes on slow links*)."""
        if self.upstream_capabilities is None:
            return PUSH_CAPABILITIES
        said = self.upstream_capabilities()
        return {name: value for name, value in PUSH_CAPABILITIES.items() if said.get(name) == value}

    def published_rules(
        self, org_id: str, form_id: str, version: str
    ) -> FormRules | RefusedForm | None:
        """The form version as the organisation sees it, parsed once per process; None if it
        is not published; refused if it no longer passes the form checks. Looked up every
        time: an organisation's own version may come to shadow a global one."""
        return published_rules(self.storage, self.form_rules, org_id, form_id, version)

    def audit_refusals(self, *, everything: bool = False) -> None:
        """Write the refused enrolments of every window that is over (all of them at
        shutdown), one entry per client address and outcome: actor `address:<ip>`
        (`address:others` for the addresses past the most frequent few), outcome
        `refused:<error> x<count>`, time the window's start."""
        for tally in self.enrol_refusals.due(None if everything else self.now()):
            self.storage.append_audit(
                f"address:{tally.who}", "enrol", f"{tally.outcome} x{tally.count}", tally.window
            )


# What this version of the server takes beyond version 1's first envelopes.
PUSH_CAPABILITIES: Mapping[str, str] = MappingProxyType(
    {SEALING_EPOCHS_HEADER: "epochs", BATCH_SIGNATURES_HEADER: "batch"}
)

_bearer = HTTPBearer(auto_error=False, description="the device token returned by /v1/enrol")


def _context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.fieldapp
    return context


def _device(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Device:
    """The enrolled, non-revoked device presenting the bearer token, else 401."""
    token = bearer_token(f"Bearer {credentials.credentials}") if credentials else None
    context = _context(request)
    device = context.storage.device_by_token(token_hash(token)) if token else None
    if token is None or device is None:
        raise ApiError(
            401,
            "unauthenticated",
            "a valid device token is required (enrol the device, or it was revoked)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    context.device_tokens.vouch(token)
    return device


Context = Annotated[ServerContext, Depends(_context)]
CurrentDevice = Annotated[Device, Depends(_device)]


def require_role(device: Device, roles: frozenset[str], what: str) -> None:
    """Raises ApiError 403 unless the device's role is one of `roles`."""
    if device.role not in roles:
        raise ApiError(403, "forbidden", f"a {device.role} device may not {what}")


def actor(device: Device) -> str:
    """Who the audit log says acted: the device."""
    return device_actor(device)


def audit(
    context: ServerContext,
    device: Device,
    action: str,
    outcome: str,
    *,
    now: datetime | None = None,
    record_id: str | None = None,
) -> None:
    """One line of the audit log: `device` did `action` in its organisation, with `outcome`
    (`now`: the request's time, when the handler already read the clock)."""
    context.storage.append_audit(
        actor(device),
        action,
        outcome,
        context.now() if now is None else now,
        org_id=device.org_id,
        device_id=device.id,
        record_id=record_id,
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 415, 422, 429)
}


def v1_router() -> APIRouter:
    """The router of one HTTP area: its paths under /v1, every refusal an ErrorBody."""
    return APIRouter(prefix="/v1", responses=_ERRORS)


def links(**targets: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """OpenAPI links from an endpoint's 200 answer to the calls it enables (`name=(target
    operation as "METHOD /path", {"parameters"/"requestBody": ...})`): they document the flow
    and let stateful API testing (schemathesis) chain the calls."""
    rendered = {}
    for name, (target, fields) in targets.items():
        method, path = target.split(" ")
        ref = "#/paths/" + ("/v1" + path).replace("~", "~0").replace("/", "~1")
        rendered[name] = {"operationRef": f"{ref}/{method.lower()}", **fields}
    return {"responses": {"200": {"links": rendered}}}


@dataclass(frozen=True)
class SelfReport:
    """What a device's sync request said of the device (optional headers; None: not said)."""

    waiting: int | None = None
    app_version: str | None = None


def _self_report(request: Request) -> SelfReport:
    """The optional headers a device's sync sends about itself, checked: a bad one is a 422
    naming it; an older app sends none. Read from the request rather than declared in the
    OpenAPI schema: they are hints for the office, never part of an operation's contract."""
    waiting = request.headers.get(WAITING_HEADER)
    app_version = request.headers.get(APP_VERSION_HEADER)
    count: int | None = None
    if waiting is not None:
        text = waiting.strip()
        if not text.isdigit() or int(text) > MAX_RECORDS_WAITING:
            raise ApiError(
                422,
                "invalid_request",
                f"{WAITING_HEADER}: a whole number from 0 to {MAX_RECORDS_WAITING}",
            )
        count = int(text)
    version: str | None = None
    if app_version is not None:
        version = app_version.strip()
        if not version or len(version) > MAX_APP_VERSION or not version.isprintable():
            raise ApiError(
                422,
                "invalid_request",
                f"{APP_VERSION_HEADER}: 1 to {MAX_APP_VERSION} printable characters",
            )
    return SelfReport(count, version)


DeviceSays = Annotated[SelfReport, Depends(_self_report)]


def managed_device(context: ServerContext, manager: Device, device_id: str, who: str) -> Device:
    """The device `device_id` that `manager` may act on: of its organisation (else 404, as a
    device that does not exist) and, for a regional `manager` (`who` names it), of its region
    (else 403)."""
    try:
        target = context.storage.get_device(device_id)
    except NotFound:
        target = None
    if target is None or target.org_id != manager.org_id:
        raise ApiError(404, "device_not_found", "no such device")
    if not can_manage_region(manager, target.region):
        raise ApiError(403, "region_forbidden", f"a regional {who} revokes only its region")
    return target
