"""The pull: forms, shared items and tombstones from the real server app, paging through the
change log; and a newer server's page (an httpx.MockTransport: the wire format is what is
under test) whose changes of unknown kinds are skipped while the cursor moves on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from fieldapp.forms.builtin import load_archived_forms, load_builtin_forms
from fieldapp.store import Store
from sync import SyncClient
from sync.server import admin
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
