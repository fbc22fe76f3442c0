"""What a hostile or broken request cannot do: pure ASGI middleware, independent of FastAPI.

- `BodyLimitMiddleware`: a body over the limit gets 413 before it is read whole (refused on
  its Content-Length before a byte is read, or as soon as the streamed bytes pass the limit);
  a gzip body is decompressed incrementally under the same cap, so a zip bomb gets 413 too.
- `RateLimitMiddleware`: a token bucket per bearer token (per client address without one);
  429 with Retry-After when empty, and a `Backoff` hint when it runs low.
- `InternalErrorMiddleware`: an unexpected exception becomes a 500 ErrorBody that leaks
  nothing, and is logged by type and place only (never its message: it may quote data).

Every refusal carries a `sync.protocol.ErrorBody`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import traceback
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sync.protocol import ErrorBody

__all__ = [
    "BodyLimitMiddleware",
    "InternalErrorMiddleware",
    "RateLimitMiddleware",
    "send_error",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(__name__)

_GZIP = frozenset({"gzip", "x-gzip"})
_IDENTITY = frozenset({"", "identity"})
_GZIP_WBITS = 16 + zlib.MAX_WBITS


async def send_error(
    send: Send,
    status: int,
    error: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete JSON ErrorBody response."""
    body = ErrorBody(error=error, message=message).model_dump_json().encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name]


class _Refused(Exception):
    """A request body the middleware will not pass on; carries the response to send."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message


class _GzipReader:
    """Incremental gzip decompression that stops as soon as the output passes `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        self._inflater = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, data: bytes) -> None:
        while data:
            try:
                out = self._inflater.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                raise _Refused(400, "bad_gzip", "the body is not valid gzip data") from None
            self.size += len(out)
            if self.size > self.limit:
                raise _Refused(
                    413,
                    "payload_too_large",
                    f"the decompressed body exceeds {self.limit} bytes",
                )
            self.parts.append(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:  # a gzip stream may hold several members
                data = self._inflater.unused_data + data
                self._inflater = zlib.decompressobj(_GZIP_WBITS) if data else self._inflater

    def finish(self) -> bytes:
        if not self._inflater.eof:
            raise _Refused(400, "bad_gzip", "the gzip body is truncated")
        return b"".join(self.parts)


class BodyLimitMiddleware:
    """Read each request body under a byte limit, decompress gzip, then hand it on whole.

    The body is collected before the application runs (it parses JSON whole anyway), so a
    refusal is always a clean response: 413 (`payload_too_large`), 400 (`bad_content_length`,
    `bad_gzip`) or 415 (`unsupported_encoding`). A refused request's connection is closed,
    since the rest of its body is never read.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            gzip = self._check_headers(scope)
            body = await self._read_body(receive, gzip)
        except _Refused as refused:
            await send_error(
                send,
                refused.status,
                refused.error,
                refused.message,
                [(b"connection", b"close")],
            )
            return
        if body is None:  # the client went away mid-body: nobody to answer
            return
        if gzip:
            scope = dict(scope)
            scope["headers"] = [
                (key, value)
                for key, value in scope["headers"]
                if key.lower() not in (b"content-encoding", b"content-length")
            ] + [(b"content-length", str(len(body)).encode("ascii"))]
        await self.app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope) -> bool:
        """Refuse what the headers alone condemn; True when the body is gzip."""
        for value in _header(scope, b"content-length"):
            if not value.strip().isdigit():
                raise _Refused(400, "bad_content_length", "Content-Length is not a number")
            if int(value) > self.max_body_bytes:
                raise _Refused(
                    413,
                    "payload_too_large",
                    f"the body ({int(value)} bytes) exceeds the limit of "
                    f"{self.max_body_bytes} bytes",
                )
        encodings = [
            e.strip().lower() for v in _header(scope, b"content-encoding") for e in v.split(",")
        ]
        encodings = [e for e in encodings if e not in _IDENTITY]
        if not encodings:
            return False
        if len(encodings) == 1 and encodings[0] in _GZIP:
            return True
        raise _Refused(
            415,
            "unsupported_encoding",
            "only gzip request bodies are accepted (Content-Encoding: gzip)",
        )

    async def _read_body(self, receive: Receive, gzip: bool) -> bytes | None:
        raw: list[bytes] = []
        size = 0
        reader = _GzipReader(self.max_body_bytes) if gzip else None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refused(
                    413,
                    "payload_too_large",
                    f"the body exceeds the limit of {self.max_body_bytes} bytes",
                )
            if reader is not None:
                reader.feed(chunk)
            else:
                raw.append(chunk)
            if not message.get("more_body", False):
                return reader.finish() if reader is not None else b"".join(raw)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields the collected body once, then defers to the server."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


class RateLimitMiddleware:
    """A token bucket per bearer token (per client address without one), in memory.

    Each request takes one token; the bucket refills at `per_minute` / 60 per second up to
    `burst`. An empty bucket gets 429 with Retry-After (whole seconds until a token is back).
    Below a fifth of the burst, responses carry `Backoff: <seconds>` so well-behaved clients
    slow down before they are refused. Buckets are keyed by a hash (never the token itself)
    and at most `max_clients` are kept, the least recently seen dropped first.
    """

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _client_key(self, scope: Scope) -> str:
        for value in _header(scope, b"authorization"):
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                digest = hashlib.sha256(credential.strip().encode("utf-8")).hexdigest()
                return "token:" + digest[:32]
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown")

    def _take(self, key: str) -> float:
        """Take one token from the key's bucket; the tokens left (negative: refused)."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            tokens -= 1
            left = tokens
        else:
            left = tokens - 1
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return left

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        left = self._take(self._client_key(scope))
        if left < 0:
            wait = max(1, math.ceil(-left / self.rate))
            await send_error(
                send,
                429,
                "rate_limited",
                f"too many requests: retry in {wait} s",
                [(b"retry-after", str(wait).encode("ascii"))],
            )
            return
        if left >= self.burst / 5:
            await self.app(scope, receive, send)
            return
        backoff = str(max(1, math.ceil((self.burst / 2 - left) / self.rate))).encode("ascii")

        async def send_with_backoff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"backoff", backoff)]
            await send(message)

        await self.app(scope, receive, send_with_backoff)


class InternalErrorMiddleware:
    """Turn an unexpected exception into a 500 ErrorBody; log only its type and place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1:]
            place = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
            _log.error(
                "unhandled %s at %s during %s %s",
                type(exc).__name__,
                place,
                scope.get("method"),
                scope.get("path"),
            )
            if not started:
                await send_error(
                    send, 500, "internal_error", "the server failed to handle this request"
                )
