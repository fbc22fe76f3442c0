"""The pull: forms, shared items and tombstones from the real server app, paging through the
change log, its pages compressed unless the link is measured fast; and a newer server's page
(an httpx.MockTransport: the wire format is what is under test) whose changes of unknown
kinds are skipped while the cursor moves on, and a pull cut off between two pages."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fieldapp.forms.builtin import load_archived_forms, load_builtin_forms
from fieldapp.store import Store
from sync import SyncClient
from sync.client import RetryPolicy, _exchange, _push
from sync.server import admin
from tests.conftest import screening_values
from tests.sync._harness import Deployment
from tests.sync._records import make_records


def test_pull_installs_forms_published_later_and_moves_the_cursor(
    device: Store, client: SyncClient, deployment: Deployment
) -> None:
    first = client.sync()
    cursor = int(device.settings.get("cursor") or 0)
    assert first.forms_added == 0  # the built-in forms (and those before) are on the device
    assert first.pulled == len(load_builtin_forms()) + len(load_archived_forms()) and cursor > 0

    newer = load_builtin_forms()["training_attendance"].model_copy(update={"version": "99"})
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, newer, org=deployment.org_id)
    report = client.sync()

    assert (report.pulled, report.forms_added) == (1, 1)
    assert device.forms.get("training_attendance", "99") == newer
    assert int(device.settings.get("cursor") or 0) == cursor + 1


def test_pull_keeps_events_shared_with_the_team_and_drops_tombstones(
    device: Store, client: SyncClient, deployment: Deployment
) -> None:
    event = {"title": "Judicial training, Battambang", "start_date": "2026-12-01"}
    with admin.open_server_storage(deployment.settings) as storage:
        now = datetime.now(UTC)
        storage.put_shared(deployment.org_id, "event", "evt-1", event, None, now)
        storage.put_shared(
            deployment.org_id, "reference", "provinces", {"KH": ["Battambang"]}, None, now
        )
    assert client.sync().ok
    assert device.roster.shared("event") == {"evt-1": event}
    assert device.roster.shared("reference") == {"provinces": {"KH": ["Battambang"]}}
    with admin.open_server_storage(deployment.settings) as storage:
        storage.delete_shared(deployment.org_id, "event", "evt-1", datetime.now(UTC))
    report = client.sync()
    assert report.ok and report.skipped_changes == 0
    assert device.roster.shared("event") == {}


def test_pull_pages_through_the_change_log(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    make_records(device, 5)
    with SyncClient(device, transport=app_transport, pull_page_size=2) as paging:
        report = paging.sync()
    assert report.pulled == 5 + len(load_builtin_forms()) + len(load_archived_forms())
    assert report.requests >= 1 + report.pulled // 2


class NewerServer:
    """A newer server's change log, as pages of JSON: `pages[cursor]` is the page after it."""

    def __init__(self, pages: dict[int, dict[str, Any]]) -> None:
        self.pages = pages
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        assert request.url.path == "/v1/changes", "only the pull has anything to do"
        return httpx.Response(200, json=self.pages[int(request.url.params["cursor"])])


def test_changes_of_kinds_this_version_does_not_know_are_skipped_and_the_cursor_moves(
    device: Store,
) -> None:
    device.settings.set("cursor", "0")
    newer = NewerServer(
        {
            0: {
                "protocol": 1,
                "changes": [
                    {"seq": 1, "kind": "event", "key": "e-1", "data": {"title": "Workshop"}},
                    {"seq": 2, "kind": "survey_link", "key": "s-1", "data": {"url": "https://x"}},
                    {"seq": 3, "kind": "poll", "key": "p", "deleted": True, "votes": [1, 2]},
                ],
                "next_cursor": 3,
                "has_more": True,
            },
            3: {
                "protocol": 1,
                "changes": [{"seq": 4, "kind": "reference", "key": "r-1", "data": {"a": 1}}],
                "next_cursor": 4,
                "has_more": False,
            },
        }
    )
    with SyncClient(device, transport=httpx.MockTransport(newer)) as client:
        report = client.sync()

    assert report.ok, report.errors
    assert (report.pulled, report.skipped_changes) == (4, 2)
    assert device.settings.get("cursor") == "4"
    assert device.roster.shared("event") == {"e-1": {"title": "Workshop"}}
    assert device.roster.shared("reference") == {"r-1": {"a": 1}}

    # A change of a known kind that is malformed is no new kind: its page is refused whole,
    # the cursor stays, and the next sync asks for the page again.
    newer.pages[4] = {
        "protocol": 1,
        "changes": [
            {"seq": 5, "kind": "event", "key": "e-2", "data": {"title": "Later"}},
            {"seq": 6, "kind": "record", "key": "r", "data": {"conflict": "maybe"}},
        ],
        "next_cursor": 6,
        "has_more": False,
    }
    with SyncClient(device, transport=httpx.MockTransport(newer)) as client:
        refused = client.sync()
    assert refused.errors == ["the server's page of changes was not understood"]
    assert device.settings.get("cursor") == "4"
    assert "e-2" not in device.roster.shared("event")


class Observed(httpx.BaseTransport):
    """The real transport to the test's server, noting what each pull asked for and got
    (Accept-Encoding, Content-Encoding); with `pace`, each answer's body comes on at that
    many bytes per second, as over a slow link."""

    def __init__(self, inner: httpx.BaseTransport, pace: float | None = None) -> None:
        self.inner = inner
        self.pace = pace
        self.pulls: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == "/v1/changes":
            asked = request.headers.get("Accept-Encoding", "")
            self.pulls.append((asked, response.headers.get("Content-Encoding")))
        if self.pace is not None:
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _Paced(response.stream, self.pace)
        return response


class _Paced(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, pace: float) -> None:
        self.stream = stream
        self.pace = pace

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            time.sleep(len(chunk) / self.pace)
            yield chunk

    def close(self) -> None:
        self.stream.close()


def _share_big_then_small(deployment: Deployment, size: int) -> None:
    """A reference list of `size` random hex characters (its page compresses to about half),
    then three small ones: the pages after the big one show what its pace taught."""
    with admin.open_server_storage(deployment.settings) as storage:
        now = datetime.now(UTC)
        storage.put_shared(
            deployment.org_id, "reference", "big", {"hex": os.urandom(size // 2).hex()}, None, now
        )
        for name in ("a", "b", "c"):
            storage.put_shared(deployment.org_id, "reference", name, {"n": name}, None, now)


def test_pages_come_uncompressed_once_the_link_is_measured_fast(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport
) -> None:
    """Over loopback, compressing a page costs more time than it saves: once an answer large
    enough to tell came fast, the next pages are asked for (and come) uncompressed."""
    _share_big_then_small(deployment, 3_000_000)
    observed = Observed(app_transport)
    with SyncClient(device, transport=observed, pull_page_size=1) as client:
        report = client.sync()
    assert report.ok, report.errors
    assert "gzip" in observed.pulls[0][0]  # nothing measured yet: compressed, as before
    assert observed.pulls[-3:] == [("identity", None)] * 3
    assert device.roster.shared("reference")["c"] == {"n": "c"}


def test_pages_stay_compressed_on_a_slow_link(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport
) -> None:
    """On a link measured slow (here 400 kB/s), every page is asked for gzipped (and comes
    so but for the smallest): `bench/slow_link.py`'s downstream bytes depend on it."""
    _share_big_then_small(deployment, 80_000)
    observed = Observed(app_transport, pace=400_000)
    with SyncClient(device, transport=observed, pull_page_size=1) as client:
        report = client.sync()
    assert report.ok, report.errors
    assert all("gzip" in asked for asked, _ in observed.pulls)
    assert "gzip" in [got for _, got in observed.pulls]  # the small ones: too small to gain
    assert client._exchange.traffic.link_rate is not None  # the big page was measured
    assert client._exchange.traffic.link_rate < 1_000_000


def test_a_push_that_measured_the_link_fast_has_the_pull_ask_for_plain_pages(
    device: Store,
    deployment: Deployment,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One estimate of the link serves both ways: the push's batches (too small for their
    answers to measure anything) measured it fast, so the pull after them asks for its very
    first page uncompressed."""
    monkeypatch.setattr(_exchange, "FAST_LINK", 1.0)  # every measured link is fast
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)  # and every batch measures it
    _share_big_then_small(deployment, 1_000)
    for _ in range(3):
        device.records.create_final("victim_screening", screening_values())
    observed = Observed(app_transport)
    with SyncClient(device, transport=observed, max_batch_bytes=2048) as client:
        report = client.sync()
    assert report.ok and report.accepted == 3, report.errors
    assert observed.pulls[0] == ("identity", None)


def test_a_pull_cut_off_between_pages_keeps_the_cursor_of_the_pages_applied(
    device: Store,
) -> None:
    """The cursor is written at the end of a pull, not after each page: a pull that stops
    because the next page never comes still keeps the pages it applied."""
    device.settings.set("cursor", "0")
    newer = NewerServer(
        {
            0: {
                "protocol": 1,
                "changes": [{"seq": 1, "kind": "event", "key": "e-1", "data": {"t": "one"}}],
                "next_cursor": 1,
                "has_more": True,
            },
            1: {
                "protocol": 1,
                "changes": [{"seq": 2, "kind": "event", "key": "e-2", "data": {"t": "two"}}],
                "next_cursor": 2,
                "has_more": True,
            },
        }
    )

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.params["cursor"] == "2":
            return httpx.Response(503)
        return newer(request)

    retry = RetryPolicy(attempts=1)
    with SyncClient(
        device, transport=httpx.MockTransport(flaky), retry=retry, sleep=lambda _: None
    ) as client:
        report = client.sync()
    assert not report.ok and report.pulled == 2
    assert device.settings.get("cursor") == "2"
    assert set(device.roster.shared("event")) == {"e-1", "e-2"}
