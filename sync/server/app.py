"""The central server's HTTP layer: `create_app(settings)` builds a FastAPI app, no globals.

The app is the factory, the middleware and the error handlers; the endpoints are the HTTP
areas in sync/server/routes/, one `APIRouter` each. Every endpoint but `/v1/health` and
`/v1/enrol` authenticates a device by its bearer token and checks organisation, region and
role server-side: another organisation's data is always 404 (never 403, which would confirm
it exists). Every read or write of a record is audited. Every refusal is a
`sync.protocol.ErrorBody`. Logs never carry bodies, tokens or stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from fieldapp.forms.builtin import load_archived_forms, load_builtin_forms
from sync.protocol import (
    MAX_FIELD_ERRORS,
    PROTOCOL_VERSION,
    SERVER_TIMING_HEADER,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    WireFieldError,
    capped_field_errors,
    ingest_timing,
)
from sync.protocol.hub import HubInfo
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
from sync.server.routes import ROUTERS, hub
from sync.server.routes.attachments import CHUNK_LIMIT
from sync.server.routes.common import ApiError, ServerContext
from sync.server.settings import ServerSettings
from sync.server.storage import Storage, StorageUnwritable, open_storage

__all__ = ["ApiError", "create_app"]

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ServerSettings,
    *,
    storage: Storage | None = None,
    clock: Callable[[], datetime] = _utc_now,
    upstream_enrol: Callable[[EnrolRequest], EnrolResponse] | None = None,
    background: Callable[[], Coroutine[Any, Any, None]] | None = None,
    upstream_capabilities: Callable[[], Mapping[str, str]] | None = None,
) -> FastAPI:
    """The server app. It opens and migrates `settings.database_url` unless given `storage`
    (then the caller closes it); storage it opened is closed when the app shuts down.

    A relay (sync/relay) passes `upstream_enrol`, which redeems each enrolment at its
    upstream first, `background`, its forwarding loop, run while the app serves, and
    `upstream_capabilities`, what its upstream said it takes (its push answers say no more)."""
    owned = storage is None
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_storage(settings.database_url) if storage is None else storage
    store.migrate()
    _publish_builtin_forms(store, clock())
    key = load_server_key(settings, store, clock())
    context = ServerContext(
        settings,
        store,
        key,
        server_key_id(key.public_key),
        clock,
        DeviceTokens(),
        _enrol_guard(settings, clock),
        RefusalTally(timedelta(seconds=settings.enrol_audit_window_seconds)),
        upstream_enrol=upstream_enrol,
        hub=_hub_keys(settings),
        upstream_capabilities=upstream_capabilities,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_audit_refusals_periodically(context))]
        if background is not None:
            tasks.append(asyncio.create_task(background()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            context.audit_refusals(everything=True)
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
    for router in ROUTERS:
        app.include_router(router)
    if context.hub is not None:
        app.include_router(hub.router)
    # Added innermost first: errors guard everything, the rate limit runs before any body
    # byte is read, the body limit before the application sees the request.
    app.add_middleware(CompressedAnswers)
    app.add_middleware(_IngestTiming)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, path_limits=[CHUNK_LIMIT]
    )
    app.add_middleware(
        RateLimitMiddleware,
        per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        devices=context.device_tokens,
    )
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(_DateHeader, clock=clock)
    return app


def _hub_keys(settings: ServerSettings) -> HubInfo | None:
    """The steward's public keys a hub serves with (`serve --hub FILE`), None otherwise."""
    if settings.hub_keys is None:
        return None
    try:
        return HubInfo.model_validate_json(settings.hub_keys.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"--hub: {settings.hub_keys} is not a hub key file ({exc})") from None


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


async def _audit_refusals_periodically(context: ServerContext) -> None:
    """Audit counted refusals once their window is over, even if no enrolment comes next."""
    while True:
        await asyncio.sleep(context.settings.enrol_audit_window_seconds)
        try:
            await to_thread.run_sync(context.audit_refusals)
        except Exception as exc:  # the database may be away: the server goes on regardless
            _log.error("refused enrolments could not be audited: %s", type(exc).__name__)


# The answers that grow with the records: push outcomes with their receipts, change pages.
_PUSH_PATH = "/v1/records:push"
_SERVER_TIMING = SERVER_TIMING_HEADER.lower().encode("ascii")
_COMPRESSED_PATHS = frozenset({_PUSH_PATH, "/v1/changes", "/v1/receipts:check"})


class CompressedAnswers(GZipMiddleware):
    """Gzips the answers that grow with the records, for a client that accepts gzip (httpx
    does by default): on a slow link they are most of the bytes that come down. Only those:
    an answer that carries a secret (an enrolment's token) is never compressed beside data a
    client chose (BREACH)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, minimum_size=512, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in _COMPRESSED_PATHS:
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _IngestTiming:
    """Says on each push answer how long the server worked on it (`Server-Timing:
    ingest;dur=<ms>`): from the body's last byte in to the answer going out, compressing it
    included. The device counts the rest of the exchange as its link's time when it chooses
    how to compress (docs/sync-protocol.md, *Fewer bytes*)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != _PUSH_PATH:
            await self.app(scope, receive, send)
            return
        body_in = time.perf_counter()

        async def timed_receive() -> Message:
            nonlocal body_in
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_in = time.perf_counter()
            return message

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                timing = ingest_timing(time.perf_counter() - body_in).encode("ascii")
                headers = [*message.get("headers", []), (_SERVER_TIMING, timing)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, timed_receive, timed_send)


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
    """Devices ship the built-in forms: the server must know them to accept their records,
    and their earlier versions too (a device not yet updated, a record made on one)."""
    for spec in [*load_archived_forms(), *load_builtin_forms().values()]:
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
