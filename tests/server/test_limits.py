"""Limits: body size (by Content-Length and while streaming), gzip and zip bombs, rate limit,
and the internal-error guard. First on a tiny ASGI app (to count exactly what was read), then
over real HTTP against the server on 127.0.0.1 (raw sockets, so nothing hides the timing)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import lzma
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from fieldapp import crypto
from sync.protocol import ENROL_CODE_ALPHABET
from sync.server.app import create_app
from sync.server.limits import (
    BodyLimitMiddleware,
    DeviceTokens,
    InternalErrorMiddleware,
    RateLimitMiddleware,
    RefusalTally,
)
from sync.server.settings import ServerSettings
from sync.server.storage import open_storage
from tests.server._harness import CANARY, World, push_body, running

LIMIT = 64 * 1024


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Answers 200 with the body it read and the headers it was given."""
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = json.dumps([[k.decode(), v.decode()] for k, v in scope["headers"]]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-seen", headers)]})
    await send({"type": "http.response.body", "body": body})


class Exchange:
    """One request through an ASGI app: counts the body chunks the app side pulled."""

    def __init__(self, app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> None:
        self.chunks_read = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        pending = list(chunks) or [b""]

        async def receive() -> dict[str, Any]:
            if not pending:
                return {"type": "http.disconnect"}
            self.chunks_read += 1
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            else:
                self.body += message.get("body", b"")

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
        }
        anyio.run(app, scope, receive, send)

    @property
    def error(self) -> str:
        return str(json.loads(self.body)["error"])


# --- body limit -------------------------------------------------------------------------------


def test_body_within_the_limit_reaches_the_app_whole() -> None:
    chunks = [b"a" * 1000] * 10
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), [], chunks)
    assert exchange.status == 200
    assert exchange.body == b"".join(chunks)


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    headers = [(b"content-length", str(LIMIT + 1).encode())]
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), headers, [b"x" * (LIMIT + 1)])
    assert (exchange.status, exchange.error) == (413, "payload_too_large")
    assert exchange.chunks_read == 0
    assert exchange.headers["connection"] == "close"


def test_streamed_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    chunks = [b"x" * 16 * 1024] * 100  # 1.6 MB, no Content-Length (chunked)
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), [], chunks)
    assert (exchange.status, exchange.error) == (413, "payload_too_large")
    assert exchange.chunks_read == LIMIT // (16 * 1024) + 1


def test_gzip_body_is_decompressed_for_the_app() -> None:
    payload = json.dumps({"records": ["x" * 100] * 100}).encode()
    compressed = gzip.compress(payload)
    headers = [(b"content-encoding", b"gzip"), (b"content-length", str(len(compressed)).encode())]
    exchange = Exchange(
        BodyLimitMiddleware(echo, LIMIT), headers, [compressed[:50], compressed[50:]]
    )
    assert exchange.status == 200
    assert exchange.body == payload
    seen = dict(json.loads(exchange.headers["x-seen"]))
    assert "content-encoding" not in seen
    assert seen["content-length"] == str(len(payload))


def test_several_gzip_members_are_one_body() -> None:
    members = gzip.compress(b"first,") + gzip.compress(b"second")
    exchange = Exchange(
        BodyLimitMiddleware(echo, LIMIT), [(b"content-encoding", b"gzip")], [members]
    )
    assert (exchange.status, exchange.body) == (200, b"first,second")


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < LIMIT
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), [(b"content-encoding", b"gzip")], [bomb])
    assert (exchange.status, exchange.error) == (413, "payload_too_large")


def test_xz_body_is_decompressed_for_the_app_and_an_xz_bomb_refused() -> None:
    payload = json.dumps({"records": ["x" * 100] * 100}).encode()
    compressed = lzma.compress(payload)
    exchange = Exchange(
        BodyLimitMiddleware(echo, LIMIT),
        [(b"content-encoding", b"xz")],
        [compressed[:7], compressed[7:40], compressed[40:]],
    )
    assert (exchange.status, exchange.body) == (200, payload)
    assert "content-encoding" not in dict(json.loads(exchange.headers["x-seen"]))
    bomb = lzma.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~10 KB
    assert len(bomb) < LIMIT
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), [(b"content-encoding", b"xz")], [bomb])
    assert (exchange.status, exchange.error) == (413, "payload_too_large")
    # A stream whose header asks for a dictionary beyond the decoder's memory limit.
    greedy = lzma.compress(
        b"x", filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1536 * 1024 * 1024}]
    )
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), [(b"content-encoding", b"xz")], [greedy])
    assert (exchange.status, exchange.error) == (400, "bad_xz")


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        ([(b"content-encoding", b"gzip")], b"not gzip at all", 400, "bad_gzip"),
        ([(b"content-encoding", b"xz")], b"not xz at all", 400, "bad_xz"),
        ([(b"content-encoding", b"xz")], lzma.compress(b"x" * 1000)[:-12], 400, "bad_xz"),
        ([(b"content-encoding", b"xz")], lzma.compress(b"x") + b"more", 400, "bad_xz"),
        (
            [(b"content-encoding", b"gzip")],
            gzip.compress(b"x" * 1000, mtime=0)[:-12],
            400,
            "bad_gzip",
        ),
        ([(b"content-encoding", b"br")], b"x", 415, "unsupported_encoding"),
        ([(b"content-encoding", b"gzip, gzip")], b"x", 415, "unsupported_encoding"),
        ([(b"content-length", b"12abc")], b"x", 400, "bad_content_length"),
    ],
)
def test_malformed_bodies_are_clear_4xx(
    headers: list[tuple[bytes, bytes]], body: bytes, status: int, error: str
) -> None:
    exchange = Exchange(BodyLimitMiddleware(echo, LIMIT), headers, [body])
    assert (exchange.status, exchange.error) == (status, error)


# --- rate limit -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refuses_with_retry_after_then_refills() -> None:
    clock = Clock()
    devices = DeviceTokens()
    devices.vouch("token-a")
    devices.vouch("token-b")
    limiter = RateLimitMiddleware(echo, per_minute=60, burst=3, devices=devices, clock=clock)
    auth = [(b"authorization", b"Bearer token-a")]
    assert [Exchange(limiter, auth, []).status for _ in range(3)] == [200, 200, 200]
    refused = Exchange(limiter, auth, [])
    assert (refused.status, refused.error, refused.headers["retry-after"]) == (
        429,
        "rate_limited",
        "1",
    )
    assert Exchange(limiter, [(b"authorization", b"Bearer token-b")], []).status == 200
    assert Exchange(limiter, [], []).status == 200  # by address: another bucket
    clock.now += 1.0
    assert Exchange(limiter, auth, []).status == 200
    assert Exchange(limiter, auth, []).status == 429


def test_a_bearer_token_no_device_holds_counts_against_the_address() -> None:
    """Random bearer headers buy no fresh bucket: they share the client address's."""
    limiter = RateLimitMiddleware(
        echo, per_minute=60, burst=3, devices=DeviceTokens(), clock=Clock()
    )
    statuses = [
        Exchange(limiter, [(b"authorization", f"Bearer random-{n}".encode())], []).status
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert Exchange(limiter, [], []).status == 429  # the same address, no header at all


def test_backoff_hint_before_the_bucket_runs_dry() -> None:
    limiter = RateLimitMiddleware(
        echo, per_minute=60, burst=10, devices=DeviceTokens(), clock=Clock()
    )
    hints = [Exchange(limiter, [], []).headers.get("backoff") for _ in range(10)]
    assert hints[:8] == [None] * 8
    assert all(hint is not None and int(hint) >= 1 for hint in hints[8:])


def test_buckets_are_bounded() -> None:
    devices = DeviceTokens(max_tokens=7)
    for n in range(50):
        devices.vouch(f"t{n}")
    limiter = RateLimitMiddleware(
        echo, per_minute=60, burst=1, devices=devices, max_clients=5, clock=Clock()
    )
    for n in range(50):
        Exchange(limiter, [(b"authorization", f"Bearer t{n}".encode())], [])
    assert len(limiter._buckets) == 5
    assert devices.bucket_key("t49") is not None and devices.bucket_key("t42") is None


# --- internal errors --------------------------------------------------------------------------


async def explode(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError(f"a message quoting data: {CANARY}")


def test_unexpected_error_is_a_500_error_body_and_logs_no_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    exchange = Exchange(InternalErrorMiddleware(explode), [], [])
    assert (exchange.status, exchange.error) == (500, "internal_error")
    assert CANARY.encode() not in exchange.body
    assert "ValueError" in caplog.text
    assert CANARY not in caplog.text


# --- over real HTTP ---------------------------------------------------------------------------


@pytest.fixture
def small_server(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[World]:
    settings = ServerSettings(
        data_dir=tmp_path / "server",
        max_body_bytes=LIMIT,
        rate_limit_per_minute=60,
        rate_limit_burst=40,
    )
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key)


def raw_exchange(base_url: str, head: bytes, body_chunks: Iterator[bytes]) -> bytes:
    """Send a request head, then body chunks until the server answers; return the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        answer = b""
        for chunk in body_chunks:
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
            if answer:
                break
            sock.sendall(chunk)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def test_http_declared_huge_body_gets_413_without_sending_it(small_server: World) -> None:
    head = (
        b"POST /v1/records:push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
    )
    answer = raw_exchange(str(small_server.client.base_url).rstrip("/"), head, iter([]))
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_http_chunked_body_gets_413_before_it_ends(small_server: World) -> None:
    head = (
        b"POST /v1/records:push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 8192
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(1000):  # up to 8 MB: far past the limit, never terminated
            sent.append(len(piece))
            yield b"%x\r\n%s\r\n" % (len(piece), piece)

    answer = raw_exchange(str(small_server.client.base_url).rstrip("/"), head, chunks())
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sum(sent) < 1000 * len(piece)


def test_http_gzip_push_is_accepted_and_bomb_refused(small_server: World) -> None:
    org = small_server.org("Gzip Org")
    phone = small_server.enrol(org)
    body = push_body(phone.envelope(), phone.envelope())
    response = small_server.client.post(
        "/v1/records:push",
        content=gzip.compress(body),
        headers={**phone.auth, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert [o["status"] for o in response.json()["outcomes"]] == ["accepted", "accepted"]
    bomb = gzip.compress(b'{"records": [' + b" " * (50 * 1024 * 1024) + b"]}")
    refused = small_server.client.post(
        "/v1/records:push",
        content=bomb,
        headers={**phone.auth, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert refused.status_code == 413
    assert refused.json()["error"] == "payload_too_large"


def test_http_too_many_requests_get_429_with_retry_after(small_server: World) -> None:
    statuses = [small_server.client.get("/v1/health").status_code for _ in range(45)]
    assert statuses[:30] == [200] * 30
    assert 429 in statuses
    refused = small_server.client.get("/v1/health")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"] == "rate_limited"


# --- enrolment --------------------------------------------------------------------------------


def test_a_refusal_tally_writes_one_count_per_address_and_window() -> None:
    tally = RefusalTally(timedelta(minutes=1), max_rows=2)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(37):
        tally.count("203.0.113.7", "refused:enrol_code_invalid", start + timedelta(seconds=n))
    for address, times in (("198.51.100.1", 3), ("198.51.100.2", 2), ("198.51.100.3", 1)):
        for _ in range(times):
            tally.count(address, "refused:enrol_code_invalid", start)
    tally.count("203.0.113.7", "refused:rate_limited", start + timedelta(seconds=70))
    assert tally.due(start + timedelta(seconds=59)) == []  # the first window is not over
    first = [(t.who, t.outcome, t.count) for t in tally.due(start + timedelta(seconds=60))]
    assert first == [
        ("198.51.100.1", "refused:enrol_code_invalid", 3),
        ("203.0.113.7", "refused:enrol_code_invalid", 37),
        ("others", "refused:enrol_code_invalid", 3),  # past the 2 most frequent addresses
    ]
    assert tally.due(start + timedelta(seconds=60)) == []  # written once
    [last] = tally.due()  # at shutdown, whether its window is over or not
    assert (last.window, last.who, last.count) == (start + timedelta(minutes=1), "203.0.113.7", 1)


class WallClock:
    """The app's clock, moved by hand: enrolment buckets refill and audit windows close only
    when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def random_code(prefix: str = "") -> str:
    """A well-formed code nobody issued (its secret starts with `prefix`)."""
    symbols = prefix + "".join(secrets.choice(ENROL_CODE_ALPHABET) for _ in range(32 - len(prefix)))
    return "-".join(symbols[i : i + 4] for i in range(0, 32, 4))


def test_enrolment_floods_meet_their_limits_whatever_headers_and_are_audited_as_counts(
    tmp_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server")  # the documented defaults
    storage = open_storage(settings.database_url)
    clock = WallClock()
    app = create_app(settings, storage=storage, clock=clock)
    key = base64.b64encode(crypto.SigningKey.generate().public_key).decode()

    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        world = World(app, client, org_key)
        org = world.org("Flood Org")

        def attempt(code: str, address: str, bearer: str | None = None) -> httpx.Response:
            # uvicorn takes the client address from X-Forwarded-For sent by a proxy on
            # loopback: the address this test's requests claim to come from.
            headers = {"X-Forwarded-For": address}
            if bearer is not None:
                headers["Authorization"] = f"Bearer {bearer}"
            body = {"code": code, "device_id": "guesser", "device_public_key": key}
            return client.post("/v1/enrol", json=body, headers=headers)

        # One address, a fresh random bearer header each time: one bucket all the same.
        flood = [
            attempt(random_code(), "203.0.113.7", secrets.token_urlsafe(32)) for _ in range(400)
        ]
        burst = settings.enrol_address_burst
        assert [r.status_code for r in flood[:burst]] == [403] * burst
        assert {r.status_code for r in flood[burst:]} == {429}
        assert int(flood[-1].headers["Retry-After"]) >= 1
        assert flood[-1].json()["error"] == "rate_limited"

        # One code prefix, every try from another address: the prefix's bucket.
        spread = [attempt(random_code("7KQ2"), f"198.51.100.{n}") for n in range(1, 41)]
        burst = settings.enrol_prefix_burst
        assert [r.status_code for r in spread[:burst]] == [403] * burst
        assert {r.status_code for r in spread[burst:]} == {429}

        # A real code on another prefix still enrols, from yet another address.
        issued = world.issue(org.id)
        while issued.code.startswith("7KQ2"):
            issued = world.issue(org.id)
        assert attempt(issued.code, "192.0.2.10").status_code == 200

        rows = [e for e in storage.list_audit(limit=1000) if e.action == "enrol"]
        assert [e.outcome for e in rows] == ["ok"]  # counts wait for their window to end
        clock.now += timedelta(seconds=settings.enrol_audit_window_seconds)
        assert world.enrol(org).token  # the next enrolment writes the window's counts
        counted = {
            (e.actor, e.outcome)
            for e in storage.list_audit(limit=1000)
            if e.action == "enrol" and e.actor.startswith("address:")
        }
        assert (
            "address:203.0.113.7",
            f"refused:enrol_code_invalid x{settings.enrol_address_burst}",
        ) in counted
        assert any(
            actor == "address:203.0.113.7" and outcome.startswith("refused:rate_limited x")
            for actor, outcome in counted
        )
        assert len(counted) <= 12  # 440 refusals: at most 10 addresses itemised, then others
        assert attempt(random_code(), "203.0.113.99").status_code == 403  # a new window's
    rows = [e for e in storage.list_audit(limit=1000) if e.actor == "address:203.0.113.99"]
    assert [e.outcome for e in rows] == ["refused:enrol_code_invalid x1"]  # at shutdown
    storage.close()


def test_random_bearer_headers_share_the_address_bucket_over_http(small_server: World) -> None:
    statuses = [
        small_server.client.get(
            "/v1/changes", headers={"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
        ).status_code
        for _ in range(60)
    ]
    assert statuses[:30] == [401] * 30
    assert 429 in statuses
