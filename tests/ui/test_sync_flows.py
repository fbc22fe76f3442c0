"""The app's state over a real store and a real sync server: conflicts settled from the
device, and training events the organisation shares showing up in the event picker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fieldapp.errors import StoreError
from fieldapp.store import Store
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from sync import SyncClient
from sync.protocol import RecordView
from sync.server import admin
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.sync.test_client import copy_store


@pytest.fixture
def app(tmp_path: Path, deployment: Deployment, app_url: str) -> Iterator[AppState]:
    services = Services(tmp_path / "device")
    services.create(PASSPHRASE, PASSPHRASE)
    services.enrol(app_url, deployment.code())
    state = AppState(services=services)
    state.go("home")
    try:
        yield state
    finally:
        services.close()


def server_view(store: Store, record_id: str) -> RecordView:
    token = store.get_secret("token")
    answer = httpx.get(
        f"{store.get_state('server_url')}/v1/records/{record_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    answer.raise_for_status()
    return RecordView.model_validate_json(answer.content)


@pytest.fixture
def conflict(app: AppState, tmp_path: Path) -> Iterator[str]:
    """A screening edited offline on this device and on a tablet restored from its backup;
    the tablet synced first, so this device's edit came back as a conflict."""
    store = app.services.store
    record = store.create_final("victim_screening", screening_values())
    app.sync_now()
    assert store.get(record.id).status == "sent"
    tablet = copy_store(store, tmp_path / "tablet" / "fieldapp.db")
    try:
        tablet.finalise(record.id, {**record.values, "case_notes": "seen again on the tablet"})
        with SyncClient(tablet) as sync_client:
            assert sync_client.sync().accepted == 1
    finally:
        tablet.close()
    store.finalise(record.id, {**record.values, "case_notes": "seen again on the phone"})
    app.sync_now()
    assert app.sync_message_params["conflict"] == 1
    assert app.counts["conflict"] == 1
    yield record.id


def test_keeping_my_version_of_a_conflict_makes_it_the_servers_newest(
    app: AppState, conflict: str
) -> None:
    app.records_group = "conflict"
    app.go("records")
    assert [item.id for item in app.records] == [conflict]
    app.open_record(conflict)
    assert app.form is not None and app.form.status == "conflict" and app.form.reviewing
    assert app.form.values["case_notes"] == "seen again on the phone"  # its own version

    assert app.keep_my_version()

    assert (app.screen, app.message_key) == ("home", "kept_mine")
    assert app.counts["waiting"] == 1 and app.counts["conflict"] == 0
    app.sync_now()
    assert app.sync_message_params["sent"] == 1
    store = app.services.store
    mine = store.get(conflict)
    assert mine.values["case_notes"] == "seen again on the phone"
    view = server_view(store, conflict)
    assert view.head_revision == mine.revision  # accepted as the newest version
    # The server keeps the tablet's version for the office, so the record stays flagged on
    # both; the device says it has nothing left to do.
    assert view.in_conflict and len(view.siblings) == 1
    assert (mine.status, mine.server_revision) == ("conflict", mine.revision)
    app.open_record(conflict)
    assert app.form is not None and app.form.mine_is_newest


def test_letting_the_office_decide_leaves_the_conflict_flagged(
    app: AppState, conflict: str
) -> None:
    app.open_record(conflict)
    revision = app.services.get(conflict).revision

    app.leave_for_office()

    assert (app.screen, app.message_key) == ("home", "left_for_office")
    assert app.counts["conflict"] == 1
    app.sync_now()
    kept = app.services.get(conflict)
    assert (kept.status, kept.revision) == ("conflict", revision)
    assert server_view(app.services.store, conflict).in_conflict


def test_once_the_office_resolves_it_the_record_leaves_the_conflicts_list(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    app.open_record(conflict)
    mine = app.services.get(conflict).revision
    app.leave_for_office()
    app.records_group = "conflict"
    app.go("records")
    assert [item.id for item in app.records] == [conflict]

    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, conflict, mine)
    app.go("sync")
    app.sync_now()

    assert app.counts["conflict"] == 0 and app.counts["sent"] == 1
    app.records_group = "conflict"
    app.go("records")
    assert app.records == []
    settled = app.services.get(conflict)
    assert (settled.status, settled.base_revision, settled.problems) == ("sent", mine, [])
    app.records_group = "sent"
    app.go("records")
    assert [app.is_superseded(item) for item in app.records] == [False]
    app.open_record(conflict)
    assert app.form is not None and app.form.superseded_note is None
    view = server_view(app.services.store, conflict)
    assert (view.head_revision, view.in_conflict, view.siblings) == (mine, False, [])


def test_when_the_office_keeps_another_version_the_device_says_so_and_builds_on_it(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    store = app.services.store
    theirs = server_view(store, conflict).head_revision  # the tablet's, which synced first
    mine = store.get(conflict)
    assert theirs is not None and theirs != mine.revision
    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, conflict, theirs)
    app.set_language("fr")
    app.sync_now()

    assert app.counts["conflict"] == 0 and app.counts["sent"] == 1
    app.records_group = "sent"
    app.go("records")
    assert [(item.id, app.is_superseded(item)) for item in app.records] == [(conflict, True)]
    app.open_record(conflict)
    assert app.form is not None and app.form.status == "sent"
    assert app.form.values["case_notes"] == "seen again on the phone"  # kept on the device
    assert app.form.superseded_note is not None
    assert app.form.superseded_note.startswith("Le bureau a gardé une autre version")
    assert store.get(conflict).base_revision == theirs

    # An edit made now goes out on top of the office's version: accepted, no new conflict,
    # and the note has done its job.
    app.form.set_value("case_notes", "seen again on the phone, after the office decided")
    assert app.form.finalise()
    assert app.form.superseded_note is None
    app.sync_now()
    assert app.sync_message_params["sent"] == 1 and app.sync_message_params["conflict"] == 0
    edited = store.get(conflict)
    view = server_view(store, conflict)
    assert (edited.status, view.head_revision, view.in_conflict) == ("sent", edited.revision, False)
    app.go("records")
    assert [app.is_superseded(item) for item in app.records] == [False]


def test_keeping_my_version_needs_a_record_in_conflict(app: AppState) -> None:
    record = app.services.store.create_final("victim_screening", screening_values())
    with pytest.raises(StoreError, match="not in conflict"):
        app.services.keep_my_version(record.id, "en")


def test_events_the_organisation_shares_appear_in_the_event_picker(
    app: AppState, deployment: Deployment
) -> None:
    event = {
        "title": "Judicial training, Battambang",
        "start_date": "2026-12-01",
        "end_date": "2026-12-02",
        "country": "KH",
        "organiser_notes": "not a field of the form",
    }
    with admin.open_server_storage(deployment.settings) as storage:
        storage.put_shared(deployment.org_id, "event", "evt-1", event, None, datetime.now(UTC))
    app.go("training")
    assert app.events == []
    app.go("sync")
    app.sync_now()
    app.go("training")
    [shared] = app.events
    assert (shared.title, shared.start_date, shared.status) == (
        "Judicial training, Battambang",
        "2026-12-01",
        "shared",
    )

    assert shared.shared_key is not None
    app.open_shared_event(shared.shared_key)

    assert app.form is not None and app.form.spec.id == "training_attendance"
    values = app.services.get(app.form.record_id).values
    assert {k: values.get(k) for k in ("title", "start_date", "end_date", "country")} == {
        k: event[k] for k in ("title", "start_date", "end_date", "country")
    }
    assert "organiser_notes" not in values
    assert app.form.event_days == 2
    app.close_record()
    assert [(row.title, row.status) for row in app.events] == [
        ("Judicial training, Battambang", "draft")  # listed once: the register started here
    ]


def test_an_event_the_office_shares_and_withdraws_reaches_the_device(
    app: AppState, deployment: Deployment
) -> None:
    with admin.open_server_storage(deployment.settings) as storage:
        shared = admin.share_event(
            storage,
            deployment.org_id,
            {
                "title": "Police workshop, Kampot",
                "start_date": "2026-12-08",
                "end_date": "2026-12-10",
                "delivery_languages": "en local",
            },
        )
    app.go("sync")
    app.sync_now()
    app.go("training")
    assert [(row.title, row.start_date, row.status) for row in app.events] == [
        ("Police workshop, Kampot", "2026-12-08", "shared")
    ]
    assert app.services.shared_events()[shared.key]["delivery_languages"] == ["en", "local"]

    with admin.open_server_storage(deployment.settings) as storage:
        admin.withdraw_event(storage, deployment.org_id, shared.key)
    app.go("sync")
    app.sync_now()
    app.go("training")
    assert app.events == []
