"""What a hostile or broken request cannot do: pure ASGI middleware, independent of FastAPI.

- `BodyLimitMiddleware`: a body over the limit gets 413 before it is read whole (refused on
  its Content-Length before a byte is read, or as soon as the streamed bytes pass the limit);
  a gzip body is decompressed incrementally under the same cap, so a zip bomb gets 413 too.
- `RateLimitMiddleware`: a token bucket per enrolled device's bearer token (per client
  address for any other request, whatever bearer header it carries); 429 with Retry-After
  when empty, and a `Backoff` hint when it runs low.
- `EnrolGuard` and `RefusalTally`: what the enrolment endpoint applies on top, a bucket per
  client address and per code prefix used up by failed attempts, and failed attempts counted
  into one audit entry per address and window instead of one each.
- `InternalErrorMiddleware`: an unexpected exception becomes a 500 ErrorBody that leaks
  nothing, and is logged by type and place only (never its message: it may quote data).

Every refusal carries a `sync.protocol.ErrorBody`.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import math
import threading
import time
import traceback
import zlib
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sync.protocol import ErrorBody

__all__ = [
    "BodyLimitMiddleware",
    "DeviceTokens",
    "EnrolGuard",
    "InternalErrorMiddleware",
    "PathLimit",
    "RateLimitMiddleware",
    "RefusalTally",
    "TalliedRefusal",
    "TokenBuckets",
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
_XZ = "xz"  # RFC 7694: a push answer says `Accept-Encoding: gzip, xz`
_XZ_MEMORY_LIMIT = 64 * 1024 * 1024  # xz -9 needs 65 MiB to decode; the app uses -6 (9 MiB)


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


class _XzReader:
    """Incremental xz decompression that stops as soon as the output passes `limit`, with
    the decoder's memory bounded too (a header may ask for a huge dictionary)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        self._decoder = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=_XZ_MEMORY_LIMIT)

    def feed(self, data: bytes) -> None:
        while not self._decoder.eof:
            try:
                out = self._decoder.decompress(data, self.limit - self.size + 1)
            except lzma.LZMAError:
                raise _Refused(400, "bad_xz", "the body is not valid xz data") from None
            data = b""
            self.size += len(out)
            if self.size > self.limit:
                raise _Refused(
                    413, "payload_too_large", f"the decompressed body exceeds {self.limit} bytes"
                )
            self.parts.append(out)
            if self._decoder.needs_input:
                return
        if data or self._decoder.unused_data:
            raise _Refused(400, "bad_xz", "the body has bytes after its xz stream")

    def finish(self) -> bytes:
        if not self._decoder.eof:
            raise _Refused(400, "bad_xz", "the xz body is truncated")
        return b"".join(self.parts)


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


@dataclass(frozen=True, slots=True)
class PathLimit:
    """A tighter body limit for the paths under `prefix`, refused with its own `error`."""

    prefix: str
    max_bytes: int
    error: str


class BodyLimitMiddleware:
    """Read each request body under a byte limit, decompress gzip or xz, then hand it on whole.

    The body is collected before the application runs (it parses JSON whole anyway), so a
    refusal is always a clean response: 413 (`payload_too_large`), 400 (`bad_content_length`,
    `bad_gzip`, `bad_xz`) or 415 (`unsupported_encoding`). A refused request's connection is closed,
    since the rest of its body is never read.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        path_limits: Sequence[PathLimit] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = tuple(path_limits)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The byte limit of this request's path and the error that refuses it."""
        path = scope.get("path", "")
        for limit in self.path_limits:
            if path.startswith(limit.prefix):
                return limit.max_bytes, limit.error
        return self.max_body_bytes, "payload_too_large"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            limit = self._limit(scope)
            encoding = self._check_headers(scope, limit)
            body = await self._read_body(receive, encoding, limit)
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
        if encoding is not None:
            scope = dict(scope)
            scope["headers"] = [
                (key, value)
                for key, value in scope["headers"]
                if key.lower() not in (b"content-encoding", b"content-length")
            ] + [(b"content-length", str(len(body)).encode("ascii"))]
        await self.app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope, limit: tuple[int, str]) -> str | None:
        """Refuse what the headers alone condemn; the body's encoding (gzip, xz) or None."""
        max_bytes, error = limit
        for value in _header(scope, b"content-length"):
            if not value.strip().isdigit():
                raise _Refused(400, "bad_content_length", "Content-Length is not a number")
            if int(value) > max_bytes:
                raise _Refused(
                    413,
                    error,
                    f"the body ({int(value)} bytes) exceeds the limit of {max_bytes} bytes",
                )
        encodings = [
            e.strip().lower() for v in _header(scope, b"content-encoding") for e in v.split(",")
        ]
        encodings = [e for e in encodings if e not in _IDENTITY]
        if not encodings:
            return None
        if len(encodings) == 1 and encodings[0] in _GZIP:
            return "gzip"
        if encodings == [_XZ]:
            return _XZ
        raise _Refused(
            415,
            "unsupported_encoding",
            "only gzip or xz request bodies are accepted (Content-Encoding: gzip or xz)",
        )

    async def _read_body(
        self, receive: Receive, encoding: str | None, limit: tuple[int, str]
    ) -> bytes | None:
        max_bytes, error = limit
        raw: list[bytes] = []
        size = 0
        reader: _GzipReader | _XzReader | None = None
        if encoding is not None:
            reader = (_XzReader if encoding == _XZ else _GzipReader)(max_bytes)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise _Refused(413, error, f"the body exceeds the limit of {max_bytes} bytes")
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


class TokenBuckets:
    """Token buckets by key, in memory: each holds up to `burst` tokens and refills at
    `per_minute` / 60 per second. At most `max_keys` buckets are kept, the least recently used
    dropped first (a dropped bucket comes back full: the bound is on memory, not on fairness).
    Safe to share between the event loop and worker threads."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one token from the key's bucket; the tokens left (negative: none was there,
        nothing was taken)."""
        with self._lock:
            tokens, now = self._refilled(key)
            left = tokens - 1
            self._buckets[key] = (left if left >= 0 else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return left

    def give_back(self, key: str) -> None:
        """Return a token taken for an attempt that turned out to be legitimate."""
        with self._lock:
            tokens, now = self._refilled(key)
            self._buckets[key] = (min(self.burst, tokens + 1), now)

    def wait(self, left: float) -> int:
        """Whole seconds until a bucket `take` left at `left` has a token again."""
        return max(1, math.ceil(-left / self.rate))

    def _refilled(self, key: str) -> tuple[float, float]:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate), now


def _token_key(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


class DeviceTokens:
    """Bearer tokens the app found to belong to an enrolled device, kept as hashes (at most
    `max_tokens`, the least recently seen forgotten first). Only these get a rate-limit
    bucket of their own: any other bearer header, such as a random one sent to an endpoint
    that needs none, counts against its client address, so it cannot buy a fresh bucket."""

    def __init__(self, max_tokens: int = 100_000) -> None:
        self.max_tokens = max_tokens
        self._known: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def vouch(self, token: str) -> None:
        """`token` authenticated an enrolled device (a revoked one keeps its bucket: harmless,
        it gets 401 anyway)."""
        key = _token_key(token)
        with self._lock:
            self._known[key] = None
            self._known.move_to_end(key)
            while len(self._known) > self.max_tokens:
                self._known.popitem(last=False)

    def bucket_key(self, token: str) -> str | None:
        """The bucket of a vouched token, None for one the app never vouched for."""
        key = _token_key(token)
        with self._lock:
            return key if key in self._known else None


class RateLimitMiddleware:
    """A token bucket per enrolled device's bearer token, per client address otherwise.

    Each request takes one token; the bucket refills at `per_minute` / 60 per second up to
    `burst`. An empty bucket gets 429 with Retry-After (whole seconds until a token is back).
    Below a fifth of the burst, responses carry `Backoff: <seconds>` so well-behaved clients
    slow down before they are refused. A bearer token has its own bucket only once the app
    vouched for it (`devices`, see `DeviceTokens`). Buckets are keyed by a hash (never the
    token itself) and at most `max_clients` are kept, the least recently seen dropped first.
    """

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        burst: int,
        *,
        devices: DeviceTokens,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.devices = devices
        self._buckets = TokenBuckets(per_minute, burst, max_keys=max_clients, clock=clock)

    def _client_key(self, scope: Scope) -> str:
        for value in _header(scope, b"authorization"):
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                key = self.devices.bucket_key(credential.strip())
                if key is not None:
                    return key
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buckets = self._buckets
        left = buckets.take(self._client_key(scope))
        if left < 0:
            wait = buckets.wait(left)
            await send_error(
                send,
                429,
                "rate_limited",
                f"too many requests: retry in {wait} s",
                [(b"retry-after", str(wait).encode("ascii"))],
            )
            return
        if left >= buckets.burst / 5:
            await self.app(scope, receive, send)
            return
        backoff = str(max(1, math.ceil((buckets.burst / 2 - left) / buckets.rate)))

        async def send_with_backoff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    (b"backoff", backoff.encode("ascii")),
                ]
            await send(message)

        await self.app(scope, receive, send_with_backoff)


class EnrolGuard:
    """Enrolment attempts, limited per client address and per code prefix (the first group
    of the code's secret) whatever headers are sent: a flood from one address meets the first
    limit, one spread over many addresses against one code the second. An attempt takes a
    token from both buckets before the code is looked up; a successful one gives them back,
    so only failures use them up and a room of devices enrolling at once is never slowed."""

    def __init__(self, per_address: TokenBuckets, per_prefix: TokenBuckets) -> None:
        self.per_address = per_address
        self.per_prefix = per_prefix

    def admit(self, address: str, prefix: str) -> int | None:
        """None: go on with the attempt; else it is refused, retry after that many seconds."""
        left = self.per_address.take("address:" + address)
        if left < 0:
            return self.per_address.wait(left)
        left = self.per_prefix.take("prefix:" + prefix)
        if left < 0:
            return self.per_prefix.wait(left)
        return None

    def succeeded(self, address: str, prefix: str) -> None:
        self.per_address.give_back("address:" + address)
        self.per_prefix.give_back("prefix:" + prefix)


@dataclass(frozen=True, slots=True)
class TalliedRefusal:
    """`count` refusals with `outcome` for `who` in the window that starts at `window`."""

    window: datetime
    who: str
    outcome: str
    count: int


class RefusalTally:
    """Refusals counted per (who, outcome) and time window, to be audited as one entry each:
    a flood of failed attempts writes a handful of rows, not one per attempt. (The audit
    table is append-only, so a count cannot grow in place: it is written once, when its
    window is over.) Each window itemises its `max_rows` most frequent `who`, the rest counted
    together as `others`; at most `max_tracked` distinct `who` are counted apart in memory."""

    OTHERS = "others"

    def __init__(self, window: timedelta, *, max_rows: int = 10, max_tracked: int = 10_000) -> None:
        self.window = window
        self.max_rows = max_rows
        self.max_tracked = max_tracked
        self._counts: dict[datetime, Counter[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def count(self, who: str, outcome: str, now: datetime) -> None:
        start = now - (now - datetime.min.replace(tzinfo=now.tzinfo)) % self.window
        with self._lock:
            counts = self._counts.setdefault(start, Counter())
            if (who, outcome) not in counts and len(counts) >= self.max_tracked:
                who = self.OTHERS
            counts[(who, outcome)] += 1

    def due(self, now: datetime | None = None) -> list[TalliedRefusal]:
        """The counts of the windows over by `now` (of every window with None: at shutdown),
        which are forgotten here: write them to the audit log."""
        with self._lock:
            over = sorted(w for w in self._counts if now is None or w + self.window <= now)
            windows = [(w, self._counts.pop(w)) for w in over]
        return [tally for window, counts in windows for tally in self._rows(window, counts)]

    def _rows(self, window: datetime, counts: Counter[tuple[str, str]]) -> list[TalliedRefusal]:
        by_who: Counter[str] = Counter()
        for (who, _), count in counts.items():
            by_who[who] += count
        itemised = {who for who, _ in by_who.most_common(self.max_rows) if who != self.OTHERS}
        rows: Counter[tuple[str, str]] = Counter()
        for (who, outcome), count in counts.items():
            rows[(who if who in itemised else self.OTHERS, outcome)] += count
        return [
            TalliedRefusal(window, who, outcome, count)
            for (who, outcome), count in sorted(rows.items())
        ]


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
