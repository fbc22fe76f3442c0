"""How a push's batches are compressed, chosen from the link's measured speed through the
real server (docs/sync-protocol.md, *Fewer bytes*): the server says how long it took with
each batch (`Server-Timing: ingest;dur=<ms>`), the device counts only the rest of the exchange
as the link's time, and sends gzip while the link is unknown, xz on a slow link, and nothing
compressed on a fast one (asking for an uncompressed answer too). Every batch is stored
alike."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import time
from datetime import UTC, datetime

import httpx
import pytest

from fieldapp.store import Store
from sync.client import SyncClient, _exchange, _push
from sync.protocol import SERVER_TIMING_HEADER, ingest_seconds, ingest_timing
from sync.server import admin
from tests.conftest import screening_values
from tests.sync._harness import Deployment

_PUSH = "/v1/records:push"


class _Seen(httpx.BaseTransport):
    """Passes requests on, noting each push's Content-Encoding, the answer encoding it asked
    for and the one it got; `delay` seconds are added to each push's answer, as a server
    that worked that much longer would (its Server-Timing says so too, if `timed`; else it
    says nothing, as an older server)."""

    def __init__(
        self, inner: httpx.BaseTransport, delay: float = 0.0, *, timed: bool = True
    ) -> None:
        self.inner, self.delay, self.timed = inner, delay, timed
        self.sent: list[str | None] = []
        self.sizes: list[int] = []  # each push body's size, decompressed, of 2+ records
        self.asked: list[str | None] = []
        self.answered: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != _PUSH:
            return response
        self.sent.append(request.headers.get("Content-Encoding"))
        body = request.read()
        if self.sent[-1] is not None:
            body = (gzip if self.sent[-1] == "gzip" else lzma).decompress(body)
        # A record bigger than a batch goes alone: only batches of several are bounded.
        self.sizes.append(len(body) if len(json.loads(body)["records"]) > 1 else 0)
        self.asked.append(request.headers.get("Accept-Encoding"))
        self.answered.append(response.headers.get("Content-Encoding"))
        if self.delay:
            time.sleep(self.delay)
            took = ingest_seconds(response.headers.get(SERVER_TIMING_HEADER)) + self.delay
            response.headers[SERVER_TIMING_HEADER] = ingest_timing(took)
        if not self.timed:
            del response.headers[SERVER_TIMING_HEADER]
        return response


def _records(device: Store, count: int) -> None:
    for _ in range(count):
        device.records.create_final("victim_screening", screening_values())


def test_a_push_answer_says_how_long_the_server_took(
    device: Store, app_transport: httpx.BaseTransport, app_url: str, app_http: httpx.Client
) -> None:
    _records(device, 2)
    answers: list[httpx.Response] = []

    class Keeping(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = app_transport.handle_request(request)
            if request.url.path == _PUSH:
                answers.append(response)
            return response

    with SyncClient(device, transport=Keeping()) as client:
        assert client.sync().accepted == 2
    [answer] = answers
    timing = answer.headers[SERVER_TIMING_HEADER]
    assert timing.startswith("ingest;dur=") and 0 < ingest_seconds(timing) < 30


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("ingest;dur=12.5", 0.0125),
        ('db;dur=3, ingest;desc="push";dur=250', 0.25),
        ("ingest", 0.0),
        ("ingest;dur=soon", 0.0),
        ("ingest;dur=-4", 0.0),
        ("ingest;dur=nan", 0.0),
        ("other;dur=9", 0.0),
        (None, 0.0),
    ],
)
def test_the_ingest_time_is_read_from_server_timing_or_taken_as_none(
    header: str | None, seconds: float
) -> None:
    assert ingest_seconds(header) == pytest.approx(seconds)


def test_on_a_fast_link_batches_go_uncompressed_and_are_stored_alike(
    deployment: Deployment,
    device: Store,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_exchange, "FAST_LINK", 1.0)  # every link is fast
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", 0.0)  # (a loaded machine's too)
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)  # and every batch measures it
    _records(device, 12)
    seen = _Seen(app_transport)
    with SyncClient(device, transport=seen, max_batch_bytes=2048) as client:
        report = client.sync()
    assert report.ok and device.records.count(status="sent") == 12
    # The first batches leave gzipped (one is prepared while the first is out); once an
    # exchange measured the link fast, the next go as they are, asking a plain answer.
    assert seen.sent[0] == "gzip" and seen.sent[-1] is None
    plain = [index for index, sent in enumerate(seen.sent) if sent is None]
    assert [seen.asked[index] for index in plain] == ["identity"] * len(plain)
    assert [seen.answered[index] for index in plain] == [None] * len(plain)
    assert deployment.query("SELECT count(*) FROM records") == [(12,)]
    assert max(seen.sizes) <= 2048  # a size given bounds every batch, fast link or not


def test_on_a_fast_link_batches_grow_unless_the_client_was_given_a_size(
    deployment: Deployment,
    device: Store,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_exchange, "FAST_LINK", 1.0)
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", 0.0)
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)
    monkeypatch.setattr(_push, "DEFAULT_MAX_BATCH_BYTES", 4096)
    monkeypatch.setattr(_push, "FAST_LINK_BATCH_BYTES", 16384)
    _records(device, 24)
    seen = _Seen(app_transport)
    with SyncClient(device, transport=seen) as client:
        assert client.sync().accepted == 24
    compressed = [size for size, sent in zip(seen.sizes, seen.sent, strict=True) if sent]
    plain = [size for size, sent in zip(seen.sizes, seen.sent, strict=True) if not sent]
    # Sized by the envelopes as stored; batch-signed, each also carries its inclusion proof.
    assert compressed and max(compressed) <= 4096 * 1.25
    assert plain and 2 * 4096 < max(plain) <= 16384 * 1.25
    assert deployment.query("SELECT count(*) FROM records") == [(24,)]


@pytest.mark.parametrize(
    ("timed", "expected"),
    [
        # Said: the link's own time is short, so the batches stay gzip.
        (True, ["gzip"] * 4),
        # An older server says nothing: the whole exchange counts, the link looks slow and
        # the batches after the first two (out before an answer is in) go as xz.
        (False, ["gzip", "gzip", "xz", "xz"]),
    ],
)
def test_the_servers_own_time_does_not_make_the_link_look_slow(
    deployment: Deployment,
    device: Store,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
    timed: bool,
    expected: list[str],
) -> None:
    # Batches of one record (~1 KB gzipped) answered 1.5 s later: under 1 KB/s if the server's
    # time counted as the link's, far more without it.
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", 2 * 1024)
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)
    _records(device, 4)
    seen = _Seen(app_transport, delay=1.5, timed=timed)
    with SyncClient(device, transport=seen, max_batch_bytes=2048) as client:
        assert client.sync().accepted == 4
    assert seen.sent == expected


def test_a_pull_that_measured_the_link_fast_has_the_next_push_go_plain_from_its_first_batch(
    deployment: Deployment, device: Store, app_transport: httpx.BaseTransport
) -> None:
    """One estimate of the link serves both ways: a page of changes large enough to tell
    came fast over loopback, so the next sync's push sends even its first batch uncompressed
    (and asks for a plain answer), where a push that knows nothing of the link starts gzip."""
    with admin.open_server_storage(deployment.settings) as storage:
        big = {"hex": os.urandom(1_500_000).hex()}
        storage.put_shared(deployment.org_id, "reference", "big", big, None, datetime.now(UTC))
    seen = _Seen(app_transport)
    with SyncClient(device, transport=seen) as client:
        assert client.sync().ok
        assert client._exchange.link_is_fast()
        _records(device, 3)
        assert client.sync().accepted == 3
    assert seen.sent == [None] and seen.asked == ["identity"]
    assert deployment.query("SELECT count(*) FROM records") == [(3,)]
