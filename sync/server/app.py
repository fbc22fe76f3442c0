"""The central server's HTTP layer: `create_app(settings)` builds a FastAPI app, no globals.

Every endpoint but `/v1/health` and `/v1/enrol` authenticates a device by its bearer token
and checks organisation, region and role server-side: another organisation's data is always
404 (never 403, which would confirm it exists). Every read or write of a record is audited.
Every refusal is a `sync.protocol.ErrorBody`. Logs never carry bodies, tokens or stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn
from uuid import UUID

from anyio import to_thread
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldapp.crypto import SigningKey, enrol_code_secret
from fieldapp.errors import FieldappError
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FormSpec
from sync.protocol import (
    MAX_FIELD_ERRORS,
    PROTOCOL_VERSION,
    ChangesPage,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    Health,
    PublishedForm,
    PushRequest,
    PushResponse,
    Receipt,
    ReceiptCheck,
    ReceiptCheckResponse,
    ReceiptMode,
    ReceiptProof,
    RecordOutcome,
    RecordView,
    RosterOutcome,
    RosterPush,
    RosterPushResponse,
    WireFieldError,
    batch_receipt_signing_bytes,
    capped_field_errors,
    receipt_tree,
)
from sync.server import admin
from sync.server.auth import (
    ADMIN_ROLES,
    OFFICE_ROLES,
    ROSTER_ROLES,
    STATS_ROLES,
    bearer_token,
    can_manage_region,
    can_read_record,
    enrol_code_hash,
    new_token,
    token_hash,
)
from sync.server.checks import FormRules, RefusedForm, envelope_errors, recipient_key_ids
from sync.server.keys import load_server_key, server_key_id
from sync.server.limits import (
    ASGIApp,
    BodyLimitMiddleware,
    DeviceTokens,
    EnrolGuard,
    InternalErrorMiddleware,
    Message,
    RateLimitMiddleware,
    Receive,
    RefusalTally,
    Scope,
    Send,
    TokenBuckets,
)
from sync.server.settings import ServerSettings
from sync.server.storage import (
    AlreadyExists,
    AuditEntry,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    Device,
    NotFound,
    NotRecordOwner,
    PushResult,
    Storage,
    StorageUnwritable,
    open_storage,
)

__all__ = ["ApiError", "create_app"]

_log = logging.getLogger(__name__)


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
class _Context:
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

    def now(self) -> datetime:
        return self.clock()

    def published_rules(
        self, org_id: str, form_id: str, version: str
    ) -> FormRules | RefusedForm | None:
        """The form version as the organisation sees it, parsed once per process; None if it
        is not published; refused if it no longer passes the form checks. Looked up every
        time: an organisation's own version may come to shadow a global one."""
        seq = self.storage.published_form_seq(org_id, form_id, version)
        if seq is None:
            return None
        rules = self.form_rules.get(seq)
        if rules is None:
            try:
                published = self.storage.get_form(org_id, form_id, version)
            except NotFound:
                return None
            try:
                rules = FormRules(FormSpec.model_validate(published.spec))
            except ValidationError as exc:
                reasons = (str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
                rules = RefusedForm("; ".join(reasons))
            self.form_rules[published.seq] = rules
        return rules


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ServerSettings,
    *,
    storage: Storage | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """The server app. It opens and migrates `settings.database_url` unless given `storage`
    (then the caller closes it); storage it opened is closed when the app shuts down."""
    owned = storage is None
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_storage(settings.database_url) if storage is None else storage
    store.migrate()
    _publish_builtin_forms(store, clock())
    key = load_server_key(settings, store, clock())
    context = _Context(
        settings,
        store,
        key,
        server_key_id(key.public_key),
        clock,
        DeviceTokens(),
        _enrol_guard(settings, clock),
        RefusalTally(timedelta(seconds=settings.enrol_audit_window_seconds)),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_audit_refusals_periodically(context))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            _audit_refusals(context, everything=True)
            if owned:
                store.close()

    app = FastAPI(
        title="fieldapp sync server",
        version=f"{PROTOCOL_VERSION}",
        description="Offline-first sync for field data collection: see docs/sync-protocol.md.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.fieldapp = context
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StorageUnwritable, _storage_unwritable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for method, path, endpoint, options in _ROUTES:
        app.add_api_route(path, endpoint, methods=[method], responses=_ERRORS, **options)
    # Added innermost first: errors guard everything, the rate limit runs before any body
    # byte is read, the body limit before the application sees the request.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        devices=context.device_tokens,
    )
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(_DateHeader, clock=clock)
    return app


def _enrol_guard(settings: ServerSettings, clock: Callable[[], datetime]) -> EnrolGuard:
    """Enrolment buckets on the app's clock (like the audit windows), refilled per hour."""

    def seconds() -> float:
        return clock().timestamp()

    return EnrolGuard(
        per_address=TokenBuckets(
            settings.enrol_address_per_hour / 60, settings.enrol_address_burst, clock=seconds
        ),
        per_prefix=TokenBuckets(
            settings.enrol_prefix_per_hour / 60, settings.enrol_prefix_burst, clock=seconds
        ),
    )


def _audit_refusals(context: _Context, *, everything: bool = False) -> None:
    """Write the refused enrolments of every window that is over (all of them at shutdown),
    one entry per client address and outcome: actor `address:<ip>` (`address:others` for
    the addresses past the most frequent few), outcome `refused:<error> x<count>`, time the
    window's start."""
    for tally in context.enrol_refusals.due(None if everything else context.now()):
        context.storage.append_audit(
            f"address:{tally.who}", "enrol", f"{tally.outcome} x{tally.count}", tally.window
        )


async def _audit_refusals_periodically(context: _Context) -> None:
    """Audit counted refusals once their window is over, even if no enrolment comes next."""
    while True:
        await asyncio.sleep(context.settings.enrol_audit_window_seconds)
        try:
            await to_thread.run_sync(_audit_refusals, context)
        except Exception as exc:  # the database may be away: the server goes on regardless
            _log.error("refused enrolments could not be audited: %s", type(exc).__name__)


class _DateHeader:
    """Stamps every answer's `Date` with the app's clock, the one its receipts carry: devices
    measure their own clock against it (the servers in serve.py leave Date to the app)."""

    def __init__(self, app: ASGIApp, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = email.utils.format_datetime(self.clock().astimezone(UTC), usegmt=True)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date.encode("ascii"))]}
            await send(message)

        await self.app(scope, receive, stamped)


def _publish_builtin_forms(storage: Storage, now: datetime) -> None:
    """Devices ship the built-in forms: the server must know them to accept their records."""
    for spec in load_builtin_forms().values():
        storage.publish_form(None, spec.id, spec.version, spec.model_dump(mode="json"), now)


# --- errors -----------------------------------------------------------------------------------

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def _error_response(
    status: int,
    error: str,
    message: str,
    fields: list[WireFieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    left_out: int = 0,
) -> JSONResponse:
    """An ErrorBody; `fields` capped, counting those past the cap and `left_out` (not built)."""
    fields = capped_field_errors(fields or [], left_out)
    body = ErrorBody(error=error, message=message, fields=fields)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error_response(exc.status, exc.error, exc.message, headers=exc.headers)


async def _storage_unwritable(_: Request, exc: Exception) -> JSONResponse:
    """503: the database cannot store anything now; nothing of the request was kept, and the
    device keeps its records until `GET /v1/health` says ok again."""
    assert isinstance(exc, StorageUnwritable)
    message = f"{exc}: nothing was stored; keep the data and try again later"
    return _error_response(503, "storage_unavailable", message)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = _STATUS_CODES.get(exc.status_code, "http_error")
    return _error_response(exc.status_code, error, str(exc.detail), headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 naming the bad fields, at most MAX_FIELD_ERRORS then a count (400 for a body that
    is not JSON); never echoes input."""
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return _error_response(400, "malformed_json", "the request body is not valid JSON")
    fields = []
    for problem in problems[:MAX_FIELD_ERRORS]:
        location = [str(part) for part in problem.get("loc", ())]
        fields.append(
            WireFieldError(
                field=location[-1] if location else "",
                path=".".join(location),
                code=str(problem.get("type", "invalid")),
                message=str(problem.get("msg", "invalid")),
            )
        )
    summary = "; ".join(f"{f.path}: {f.message}" for f in fields[:3])
    return _error_response(
        422,
        "invalid_request",
        f"the request is invalid: {summary}",
        fields,
        left_out=len(problems) - len(fields),
    )


# --- dependencies -----------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="the device token returned by /v1/enrol")


def _context(request: Request) -> _Context:
    context: _Context = request.app.state.fieldapp
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


Context = Annotated[_Context, Depends(_context)]
CurrentDevice = Annotated[Device, Depends(_device)]


def _require_role(device: Device, roles: frozenset[str], what: str) -> None:
    if device.role not in roles:
        raise ApiError(403, "forbidden", f"a {device.role} device may not {what}")


def _actor(device: Device) -> str:
    return f"device:{device.id}"


# --- routes -----------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 415, 422, 429)
}
_ROUTES: list[tuple[str, str, Callable[..., Any], dict[str, Any]]] = []


def _links(**links: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """OpenAPI links from an endpoint's 200 answer to the calls it enables (`name=(target
    operation as "METHOD /path", {"parameters"/"requestBody": ...})`): they document the flow
    and let stateful API testing (schemathesis) chain the calls."""
    rendered = {}
    for name, (target, fields) in links.items():
        method, path = target.split(" ")
        ref = "#/paths/" + ("/v1" + path).replace("~", "~0").replace("/", "~1")
        rendered[name] = {"operationRef": f"{ref}/{method.lower()}", **fields}
    return {"responses": {"200": {"links": rendered}}}


def _route(
    method: str, path: str, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an endpoint under /v1; `create_app` adds them all to each app it builds."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        _ROUTES.append((method, "/v1" + path, endpoint, options))
        return endpoint

    return register


@_route("GET", "/health", response_model=Health, response_model_exclude_none=True)
def health(context: Context) -> Health:
    """Cheap and unauthenticated: what the client's connectivity monitor probes. `degraded`,
    with the reason, while the database cannot store anything (devices then keep their
    records instead of pushing them into failures)."""
    problem = context.storage.write_problem()
    if problem is not None:
        return Health(status="degraded", protocol=PROTOCOL_VERSION, reason=problem)
    return Health(status="ok", protocol=PROTOCOL_VERSION)


# The first group of a code's secret: a flood spread over many addresses against one code
# (or one guessed group) meets its bucket; 20 bits, so real codes rarely share one.
_ENROL_PREFIX_SYMBOLS = 4
_ENROL_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    CodeInvalid: (403, "enrol_code_invalid", "this enrolment code is not valid"),
    CodeExpired: (403, "enrol_code_expired", "this enrolment code has expired: ask for a new one"),
    CodeUsed: (409, "enrol_code_used", "this enrolment code was used by another device"),
    AlreadyExists: (409, "device_exists", "a device with this id is already enrolled"),
}


@_route(
    "POST",
    "/enrol",
    response_model=EnrolResponse,
    openapi_extra=_links(
        RevokeEnrolledDevice=(
            "POST /admin/devices/{device_id}:revoke",
            {"parameters": {"path.device_id": "$response.body#/device_id"}},
        )
    ),
)
def enrol(body: EnrolRequest, request: Request, context: Context) -> EnrolResponse:
    """Redeem a one-time enrolment code; idempotent for the same device and key.

    Limited per client address and per code prefix whatever headers are sent (failed
    attempts use the limit up); refusals are audited as counted entries (see `EnrolGuard`,
    `RefusalTally`)."""
    storage, now = context.storage, context.now()
    _audit_refusals(context)
    address = request.client.host if request.client else "unknown"
    secret = enrol_code_secret(body.code)
    prefix = secret[:_ENROL_PREFIX_SYMBOLS]
    wait = context.enrol_guard.admit(address, prefix)
    if wait is not None:
        _refuse_enrolment(
            context,
            address,
            ApiError(
                429,
                "rate_limited",
                f"too many failed enrolment attempts: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            ),
        )
    token = new_token()
    try:
        device = storage.redeem_enrol_code(
            enrol_code_hash(secret),
            body.device_id,
            body.device_public_key,
            body.device_label,
            token_hash(token),
            now,
        )
    except (CodeInvalid, CodeExpired, CodeUsed, AlreadyExists) as refused:
        _refuse_enrolment(context, address, ApiError(*_ENROL_REFUSALS[type(refused)]))
    context.enrol_guard.succeeded(address, prefix)
    context.device_tokens.vouch(token)
    storage.append_audit(
        _actor(device), "enrol", "ok", now, org_id=device.org_id, device_id=device.id
    )
    organisation = storage.get_organisation(device.org_id)
    code = storage.get_enrol_code(enrol_code_hash(secret))
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
    )


def _refuse_enrolment(context: _Context, address: str, refusal: ApiError) -> NoReturn:
    """Count the refusal for the audit log (one entry per address, outcome and window)."""
    context.enrol_refusals.count(address, f"refused:{refusal.error}", context.now())
    raise refusal


@_route(
    "POST",
    "/records:push",
    response_model=PushResponse,
    openapi_extra=_links(
        ReadPushedRecord=(
            "GET /records/{record_id}",
            {"parameters": {"path.record_id": "$response.body#/outcomes/0/id"}},
        )
    ),
)
def push(
    body: PushRequest,
    device: CurrentDevice,
    context: Context,
    receipts: Annotated[
        ReceiptMode,
        Query(
            description="`batch`: one server signature per batch, each receipt carrying its "
            "Merkle proof (see docs/sync-protocol.md); `record`: one signature per receipt"
        ),
    ] = "record",
) -> Response:
    """Store a batch: one outcome per record, in order; the batch is one transaction."""
    storage, now = context.storage, context.now()
    outcomes: list[RecordOutcome | PushResult | None] = [None] * len(body.records)
    forms: dict[tuple[str, str], FormRules | RefusedForm | None] = {}
    recipients = recipient_key_ids(storage.get_organisation(device.org_id).recipients)
    checked, digests, positions = [], [], []
    for index, envelope in enumerate(body.records):
        form_key = (envelope.form_id, envelope.form_version)
        if form_key not in forms:
            forms[form_key] = context.published_rules(device.org_id, *form_key)
        signed = envelope.signing_bytes()
        errors = envelope_errors(
            envelope, device.id, device.public_key, forms[form_key], recipients, signed=signed
        )
        if errors:
            outcomes[index] = RecordOutcome(
                id=envelope.id, revision=envelope.revision, status="rejected", errors=errors
            )
            storage.append_audit(
                _actor(device),
                "push",
                f"rejected:{errors[0].code}",
                now,
                org_id=device.org_id,
                device_id=device.id,
                record_id=str(envelope.id),
            )
        else:
            checked.append(envelope)
            digests.append(hashlib.sha256(signed).hexdigest())
            positions.append(index)
    if checked:
        results = storage.push_records(device, checked, now, content_digests=digests)
        for index, result in zip(positions, results, strict=True):
            outcomes[index] = result
    answer = PushResponse(outcomes=_signed_outcomes(context, outcomes, receipts))
    return Response(answer.model_dump_json(), media_type="application/json")


def _signed_outcomes(
    context: _Context, results: list[RecordOutcome | PushResult | None], mode: ReceiptMode
) -> list[RecordOutcome]:
    """Outcomes in order, stored ones with a receipt: each signed alone (`record`), or all
    of them signed once as the leaves of a Merkle tree, each with its proof (`batch`)."""
    receipts = [
        _unsigned_receipt(context, result)
        for result in results
        if isinstance(result, PushResult) and result.status != "rejected"
    ]
    if mode == "batch" and receipts:
        root, paths = receipt_tree([receipt.entry_bytes() for receipt in receipts])
        size = len(receipts)
        signature = context.signing_key.sign(
            batch_receipt_signing_bytes(root, size, context.key_id)
        )
        for index, (receipt, path) in enumerate(zip(receipts, paths, strict=True)):
            receipt.proof = ReceiptProof(index=index, size=size, path=path)
            receipt.signature = signature
    else:
        for receipt in receipts:
            receipt.signature = context.signing_key.sign(receipt.signing_bytes())
    signed = iter(receipts)
    outcomes = []
    for result in results:
        if isinstance(result, RecordOutcome):
            outcomes.append(result)
        elif isinstance(result, PushResult) and result.status == "rejected":
            outcomes.append(
                RecordOutcome(
                    id=result.record_id,
                    revision=result.revision,
                    status="rejected",
                    errors=result.errors,
                )
            )
        elif isinstance(result, PushResult):
            outcomes.append(
                RecordOutcome(
                    id=result.record_id,
                    revision=result.revision,
                    status=result.status,
                    receipt=next(signed),
                    current_revision=result.current_revision,
                )
            )
    return outcomes


def _unsigned_receipt(context: _Context, result: PushResult) -> Receipt:
    if result.seq is None or result.received_at is None or result.content_digest is None:
        raise RuntimeError("storage returned a stored outcome without its receipt data")
    return Receipt(
        record_id=result.record_id,
        revision=result.revision,
        content_digest=result.content_digest,
        seq=result.seq,
        received_at=result.received_at,
        server_key_id=context.key_id,
        signature=b"",
    )


@_route("POST", "/receipts:check", response_model=ReceiptCheckResponse)
def check_receipts(
    body: ReceiptCheck, device: CurrentDevice, context: Context
) -> ReceiptCheckResponse:
    """Which of these revisions the server still holds: the device sends again any it left
    out. Only records the device may read count (as for `GET /v1/records/{id}`); audited
    once per request, with counts only."""
    storage = context.storage
    held = storage.held_revisions(device, [(ref.id, ref.revision) for ref in body.revisions])
    answer = [ref for ref in body.revisions if (ref.id, ref.revision) in held]
    storage.append_audit(
        _actor(device),
        "check_receipts",
        f"held:{len(answer)},missing:{len(body.revisions) - len(answer)}",
        context.now(),
        org_id=device.org_id,
        device_id=device.id,
    )
    return ReceiptCheckResponse(held=answer)


@_route(
    "GET",
    "/changes",
    response_model=ChangesPage,
    openapi_extra=_links(
        NextPage=("GET /changes", {"parameters": {"query.cursor": "$response.body#/next_cursor"}}),
        FirstChangedForm=(
            "GET /forms/{form_id}/{version}",
            {
                "parameters": {
                    "path.form_id": "$response.body#/changes/0/data/form_id",
                    "path.version": "$response.body#/changes/0/data/version",
                }
            },
        ),
    ),
)
def changes(
    device: CurrentDevice,
    context: Context,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> ChangesPage:
    """Changes after `cursor` that this device may see, oldest first, one page at a time."""
    page_limit = context.settings.changes_page_limit
    return context.storage.changes_since(device, cursor, min(limit or page_limit, page_limit))


@_route("PUT", "/team/roster", response_model=RosterPushResponse)
def put_roster(body: RosterPush, device: CurrentDevice, context: Context) -> RosterPushResponse:
    """Share participants with the device's team (its organisation and region), sealed with
    the team key the server does not hold; other devices of the region get them by pull.
    Idempotent: pushing the same entries again changes nothing."""
    _require_role(device, ROSTER_ROLES, "share participants with a team")
    storage, now = context.storage, context.now()
    statuses = storage.put_roster(
        device, [(str(entry.key), entry.sealed) for entry in body.entries], now
    )
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    storage.append_audit(
        _actor(device),
        "roster_push",
        ",".join(f"{status}:{count}" for status, count in counts.items()),
        now,
        org_id=device.org_id,
        device_id=device.id,
    )
    return RosterPushResponse(
        outcomes=[
            RosterOutcome(key=entry.key, status=status)
            for entry, status in zip(body.entries, statuses, strict=True)
        ]
    )


@_route("GET", "/forms/{form_id}/{version}", response_model=PublishedForm)
def form(
    form_id: Annotated[str, Path(min_length=1, max_length=64)],
    version: Annotated[str, Path(min_length=1, max_length=32)],
    device: CurrentDevice,
    context: Context,
) -> PublishedForm:
    """A form version published for the device's organisation (or for all)."""
    try:
        published = context.storage.get_form(device.org_id, form_id, version)
    except NotFound:
        raise ApiError(404, "form_not_found", "no such form version is published") from None
    return PublishedForm(form_id=published.form_id, version=published.version, spec=published.spec)


@_route("GET", "/records/{record_id}", response_model=RecordView)
def record(record_id: UUID, device: CurrentDevice, context: Context) -> RecordView:
    """Every revision of a record (sealed, as signed); audited whether found or not."""
    storage, now = context.storage, context.now()

    def audit(outcome: str) -> None:
        storage.append_audit(
            _actor(device),
            "read_record",
            outcome,
            now,
            org_id=device.org_id,
            device_id=device.id,
            record_id=str(record_id),
        )

    try:
        head = storage.get_record(device.org_id, record_id)
        revisions = storage.list_revisions(device.org_id, record_id)
    except NotFound:
        head = None
        revisions = []
    if head is None or not can_read_record(device, revisions):
        audit("refused:not_found")
        raise ApiError(404, "record_not_found", "no such record")
    audit("ok")
    return RecordView(
        id=head.id,
        form_id=head.form_id,
        head_revision=head.head_revision,
        deleted=head.deleted,
        in_conflict=head.in_conflict,
        siblings=head.siblings,
        revisions=[revision.to_envelope() for revision in revisions],
    )


@_route(
    "POST",
    "/admin/enrol-codes",
    response_model=admin.IssuedCode,
    openapi_extra=_links(
        EnrolWithCode=("POST /enrol", {"requestBody": {"code": "$response.body#/code"}})
    ),
)
def issue_enrol_code(
    body: admin.EnrolCodeRequest, device: CurrentDevice, context: Context
) -> admin.IssuedCode:
    """Issue a one-time code for a new device of the admin's organisation."""
    _require_role(device, ADMIN_ROLES, "issue enrolment codes")
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
        actor=_actor(device),
    )


@_route("POST", "/admin/devices/{device_id}:revoke", response_model=admin.RevokedDevice)
def revoke_device(
    device_id: Annotated[str, Path(min_length=1, max_length=64)],
    device: CurrentDevice,
    context: Context,
) -> admin.RevokedDevice:
    """Revoke a device of the admin's organisation (and region, for a regional admin)."""
    _require_role(device, ADMIN_ROLES, "revoke devices")
    try:
        target = context.storage.get_device(device_id)
    except NotFound:
        target = None
    if target is None or target.org_id != device.org_id:
        raise ApiError(404, "device_not_found", "no such device")
    if not can_manage_region(device, target.region):
        raise ApiError(403, "region_forbidden", "a regional admin revokes only its region")
    revoked = admin.revoke(context.storage, device_id, now=context.now(), actor=_actor(device))
    assert revoked.revoked_at is not None
    return admin.RevokedDevice(device_id=revoked.id, revoked_at=revoked.revoked_at)


@_route("POST", "/admin/records/{record_id}:resolve", response_model=admin.ResolvedRecord)
def resolve_conflict(
    record_id: UUID, body: admin.ResolveRequest, device: CurrentDevice, context: Context
) -> admin.ResolvedRecord:
    """Settle a conflict of the organisation's record (of the device's region, for a regional
    office device): `keep_revision` becomes the head, the other versions are kept as
    superseded, and the devices involved learn it by pull."""
    _require_role(device, OFFICE_ROLES, "resolve conflicts")
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
                actor=_actor(device),
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
        storage.append_audit(
            _actor(device),
            "resolve_conflict",
            f"refused:{refusal.error}",
            now,
            org_id=device.org_id,
            device_id=device.id,
            record_id=str(record_id),
        )
        raise refusal
    return admin.ResolvedRecord.of(head)


@_route("GET", "/admin/stats")
def stats(device: CurrentDevice, context: Context) -> dict[str, Any]:
    """Record counts of the device's organisation by form and status (no record content)."""
    _require_role(device, STATS_ROLES, "read statistics")
    return admin.stats(context.storage, org_id=device.org_id)


@_route("GET", "/admin/audit", response_model=list[AuditEntry])
def audit_log(
    device: CurrentDevice,
    context: Context,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """The organisation's audit log after entry `after`, oldest first."""
    _require_role(device, ADMIN_ROLES, "read the audit log")
    return context.storage.list_audit(org_id=device.org_id, after_id=after, limit=limit)
