"""The app's state over a real store and a real sync server: conflicts settled from the
device (kept or merged), and training events the organisation shares showing up in the event
picker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.errors import StoreError
from fieldapp.store import Store
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from sync import SyncClient
from sync.protocol import RecordView
from sync.server import admin
from tests.conftest import PASSPHRASE, attendance_values, screening_values
from tests.sync._harness import Deployment, free_port
from tests.sync.test_client import copy_store


def open_app(data_dir: Path, app_url: str, code: str) -> AppState:
    """The app on a new device enrolled with `code`, on its home screen; only "Sync now"
    syncs (these tests count what each one sent)."""
    services = Services(data_dir, background_sync=False)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.enrolment.enrol(app_url, code)
    state = AppState(services=services)
    state.go("home")
    return state


@pytest.fixture
def app(tmp_path: Path, deployment: Deployment, app_url: str) -> Iterator[AppState]:
    state = open_app(tmp_path / "device", app_url, deployment.code())
    try:
        yield state
    finally:
        state.services.close()


@pytest.fixture
def trainer(
    tmp_path: Path, deployment: Deployment, app_url: str, org_key: crypto.OrgKeyPair
) -> Iterator[AppState]:
    """The app of a trainer of the north team, enrolled with the team key."""
    with admin.open_server_storage(deployment.settings) as storage:
        key = admin.derive_team_key(storage, deployment.org_id, org_key, "north")
    code = deployment.issue("trainer", "north", team_key=key).code
    state = open_app(tmp_path / "trainer", app_url, code)
    try:
        yield state
    finally:
        state.services.close()


def server_view(store: Store, record_id: str) -> RecordView:
    token = store.keyring.secret("token")
    answer = httpx.get(
        f"{store.settings.get('server_url')}/v1/records/{record_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    answer.raise_for_status()
    return RecordView.model_validate_json(answer.content)


def edited_in_two_places(
    app: AppState,
    tmp_path: Path,
    form_id: str,
    values: dict[str, Any],
    *,
    tablet: dict[str, Any],
    phone: dict[str, Any],
) -> str:
    """A record finalised and sent from this device, then edited offline here (`phone`) and
    on a tablet restored from its backup (`tablet`); the tablet synced first, so this
    device's edit came back as a conflict. Its id."""
    store = app.services.device.store
    record = store.records.create_final(form_id, values)
    app.sync_now()
    assert store.records.get(record.id).status == "sent"
    restored = copy_store(store, tmp_path / "tablet" / "fieldapp.db")
    try:
        restored.records.finalise(record.id, {**record.values, **tablet})
        with SyncClient(restored) as sync_client:
            assert sync_client.sync().accepted == 1
    finally:
        restored.close()
    store.records.finalise(record.id, {**record.values, **phone})
    app.sync_now()
    assert app.sync_message_params["conflict"] == 1
    assert app.counts["conflict"] == 1
    return record.id


@pytest.fixture
def conflict(app: AppState, tmp_path: Path) -> str:
    """A screening whose notes were edited on this device and on a restored tablet."""
    return edited_in_two_places(
        app,
        tmp_path,
        "victim_screening",
        screening_values(),
        tablet={"case_notes": "seen again on the tablet"},
        phone={"case_notes": "seen again on the phone"},
    )


SOKHA = {
    "_id": "6f1c1d43-7e58-4c6e-9a57-8f1d3b0a2c11",
    "full_name": "Sokha Chan",
    "sex": "female",
    "profession": "judge",
    "attendance": ["day1"],
}
MALY = {
    "_id": "0b7e3f2a-5d4c-4b1a-8e9f-1a2b3c4d5e6f",
    "full_name": "Maly Sen",
    "sex": "male",
    "profession": "police",
    "consent_contact": True,
    "phone": "+85512345678",
    "attendance": ["day1", "day2"],
}


def tablet_registered_maly(app: AppState, tmp_path: Path) -> str:
    """A training event with Sokha, in conflict: the restored tablet registered Maly, this
    device checked Sokha in on day 2."""
    return edited_in_two_places(
        app,
        tmp_path,
        "training_attendance",
        {**attendance_values(participants=0), "participants": [SOKHA]},
        tablet={"participants": [SOKHA, MALY]},
        phone={"participants": [{**SOKHA, "attendance": ["day1", "day2"]}]},
    )


def test_keeping_my_version_of_a_conflict_makes_it_the_servers_newest(
    app: AppState, conflict: str
) -> None:
    app.records.group = "conflict"
    app.go("records")
    assert [item.id for item in app.records.items] == [conflict]
    app.open_record(conflict)
    assert app.form is not None and app.form.status == "conflict" and app.form.reviewing
    assert app.form.values["case_notes"] == "seen again on the phone"  # its own version

    assert app.keep_my_version()

    assert (app.screen, app.message_key) == ("home", "kept_mine")
    assert app.message is not None and "The office keeps the other version" in app.message
    assert app.counts["waiting"] == 1 and app.counts["conflict"] == 0
    app.sync_now()
    assert app.sync_message_params["sent"] == 1
    store = app.services.device.store
    mine = store.records.get(conflict)
    assert mine.values["case_notes"] == "seen again on the phone"
    view = server_view(store, conflict)
    assert view.head_revision == mine.revision  # accepted as the newest version
    # The server keeps the record flagged for the office, which alone can read the tablet's
    # notes; the device has nothing left to do, and says so rather than "settled".
    assert view.in_conflict and len(view.siblings) == 1
    assert (mine.status, mine.conflict_settled) == ("sent", True)
    assert app.counts["conflict"] == 0
    app.open_record(conflict)
    assert app.form is not None and app.form.mine_is_newest
    app.sync_now()  # pulling the flagged record again changes nothing
    assert app.services.records.get(conflict).status == "sent"


def test_letting_the_office_decide_leaves_the_conflict_flagged(
    app: AppState, conflict: str
) -> None:
    app.open_record(conflict)
    revision = app.services.records.get(conflict).revision

    app.leave_for_office()

    assert (app.screen, app.message_key) == ("home", "left_for_office")
    assert app.counts["conflict"] == 1
    app.sync_now()
    kept = app.services.records.get(conflict)
    assert (kept.status, kept.revision) == ("conflict", revision)
    assert server_view(app.services.device.store, conflict).in_conflict


def test_once_the_office_resolves_it_the_record_leaves_the_conflicts_list(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    app.open_record(conflict)
    mine = app.services.records.get(conflict).revision
    app.leave_for_office()
    app.records.group = "conflict"
    app.go("records")
    assert [item.id for item in app.records.items] == [conflict]

    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, conflict, mine)
    app.go("sync")
    app.sync_now()

    assert app.counts["conflict"] == 0 and app.counts["sent"] == 1
    app.records.group = "conflict"
    app.go("records")
    assert app.records.items == []
    settled = app.services.records.get(conflict)
    assert (settled.status, settled.base_revision, settled.problems) == ("sent", mine, [])
    app.records.group = "sent"
    app.go("records")
    assert [app.records.is_superseded(item) for item in app.records.items] == [False]
    app.open_record(conflict)
    assert app.form is not None and app.form.superseded_note is None
    view = server_view(app.services.device.store, conflict)
    assert (view.head_revision, view.in_conflict, view.siblings) == (mine, False, [])


def test_when_the_office_keeps_another_version_the_device_says_so_and_builds_on_it(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    store = app.services.device.store
    theirs = server_view(store, conflict).head_revision  # the tablet's, which synced first
    mine = store.records.get(conflict)
    assert theirs is not None and theirs != mine.revision
    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, conflict, theirs)
    app.set_language("fr")
    app.sync_now()

    assert app.counts["conflict"] == 0 and app.counts["sent"] == 1
    app.records.group = "sent"
    app.go("records")
    assert [(item.id, app.records.is_superseded(item)) for item in app.records.items] == [
        (conflict, True)
    ]
    app.open_record(conflict)
    assert app.form is not None and app.form.status == "sent"
    assert app.form.values["case_notes"] == "seen again on the phone"  # kept on the device
    assert app.form.superseded_note is not None
    assert app.form.superseded_note.startswith("Le bureau a gardé une autre version")
    assert store.records.get(conflict).base_revision == theirs

    # An edit made now goes out on top of the office's version: accepted, no new conflict,
    # and the note has done its job.
    app.form.set_value("case_notes", "seen again on the phone, after the office decided")
    assert app.form.finalise()
    assert app.form.superseded_note is None
    app.sync_now()
    assert app.sync_message_params["sent"] == 1 and app.sync_message_params["conflict"] == 0
    edited = store.records.get(conflict)
    view = server_view(store, conflict)
    assert (edited.status, view.head_revision, view.in_conflict) == ("sent", edited.revision, False)
    app.go("records")
    assert [app.records.is_superseded(item) for item in app.records.items] == [False]


def test_a_merge_takes_the_other_versions_answer_where_chosen_and_is_sent_as_newest(
    app: AppState, tmp_path: Path
) -> None:
    record_id = edited_in_two_places(
        app,
        tmp_path,
        "victim_screening",
        screening_values(),
        tablet={"nationality": "TH", "case_notes": "seen again on the tablet"},
        phone={"identified_by": "police", "case_notes": "seen again on the phone"},
    )
    app.set_language("fr")
    app.open_record(record_id)

    assert app.open_merge()

    merge = app.merge
    assert app.screen == "merge" and merge is not None
    assert [(r.key, r.label, r.mine, r.theirs) for r in merge.rows()] == [
        ("nationality", "Nationalité", "Cambodge", "Thaïlande"),
        ("identified_by", "Identifié(e) par", "Police ou gendarmerie", "ONG"),
    ]
    assert merge.office_only_details and merge.additions() == []  # their notes are sealed
    assert merge.choices == {"nationality": "mine", "identified_by": "mine"}

    merge.choose("nationality", "theirs")
    assert app.send_merge()

    assert (app.screen, app.message_key, app.merge) == ("home", "merge_sent", None)
    assert app.counts["waiting"] == 1 and app.counts["conflict"] == 0
    app.sync_now()
    assert app.sync_message_params["sent"] == 1
    store = app.services.device.store
    merged = store.records.get(record_id)
    assert (merged.values["nationality"], merged.values["identified_by"]) == ("TH", "police")
    assert merged.values["case_notes"] == "seen again on the phone"  # the tablet's is sealed
    assert (merged.status, merged.conflict_settled) == ("sent", True)
    view = server_view(store, record_id)
    head = next(r for r in view.revisions if r.revision == view.head_revision)
    assert head.revision == merged.revision
    assert (head.stats["nationality"], head.stats["identified_by"]) == ("TH", "police")
    assert view.in_conflict  # the office still checks what only it can read
    app.open_record(record_id)
    assert app.form is not None and app.form.mine_is_newest


def test_a_training_merge_adds_the_participant_the_tablet_registered(
    trainer: AppState, tmp_path: Path
) -> None:
    record_id = tablet_registered_maly(trainer, tmp_path)
    trainer.open_record(record_id)
    assert trainer.form is not None and trainer.form.status == "conflict"

    assert trainer.open_merge()

    merge = trainer.merge
    assert merge is not None
    assert [(r.label, r.mine, r.theirs) for r in merge.rows()] == [
        ("Participants · Sokha Chan · Days attended", "Day 1, Day 2", "Day 1")
    ]
    [added] = merge.additions()
    assert added.label == "Add Maly Sen"  # named: the team roster shares who it is
    assert added.summary == (
        "Male · Police officer · Agrees to be contacted after the training: Yes · Day 1, Day 2"
    )
    assert merge.choices[added.key] == "theirs"  # a merge holds both versions' people
    assert trainer.send_merge()
    trainer.sync_now()

    assert trainer.sync_message_params["sent"] == 1
    merged = trainer.services.records.get(record_id)
    assert [(p["full_name"], p["attendance"]) for p in merged.values["participants"]] == [
        ("Sokha Chan", ["day1", "day2"]),
        ("Maly Sen", ["day1", "day2"]),
    ]
    assert merged.values["participants"][1]["phone"] == "+85512345678"  # from the team roster
    assert merged.status == "sent" and trainer.counts["conflict"] == 0
    view = server_view(trainer.services.device.store, record_id)
    assert view.head_revision == merged.revision
    head = next(r for r in view.revisions if r.revision == view.head_revision)
    assert [p["_id"] for p in head.stats["participants"]] == [SOKHA["_id"], MALY["_id"]]


def test_a_participant_the_team_does_not_share_is_offered_as_held_by_the_office(
    app: AppState, tmp_path: Path
) -> None:
    record_id = tablet_registered_maly(app, tmp_path)  # this device has no team key
    app.open_record(record_id)
    assert app.open_merge()
    merge = app.merge
    assert merge is not None

    [added] = merge.additions()

    assert added.label == "Add this entry (its name and contact details are held by the office)"
    assert "Maly" not in added.label + added.summary
    assert merge.choices[added.key] == "mine"  # nobody here could say who it is
    assert app.send_merge()
    merged = app.services.records.get(record_id)
    assert [p["full_name"] for p in merged.values["participants"]] == ["Sokha Chan"]


@pytest.mark.parametrize("office_keeps", ["merged", "set_aside"])
def test_the_office_resolving_a_merged_record_reaches_the_device(
    app: AppState, conflict: str, deployment: Deployment, office_keeps: str
) -> None:
    app.open_record(conflict)
    assert app.open_merge()
    assert app.send_merge()
    app.sync_now()
    store = app.services.device.store
    merged = store.records.get(conflict)
    [set_aside] = server_view(store, conflict).siblings  # this device's first, stale edit
    kept = merged.revision if office_keeps == "merged" else set_aside
    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, conflict, kept)

    app.sync_now()

    copy = store.records.get(conflict)
    assert (copy.status, copy.revision, copy.base_revision) == ("sent", merged.revision, kept)
    assert not copy.conflict_settled
    app.open_record(conflict)
    assert app.form is not None and not app.form.mine_is_newest
    assert (app.form.superseded_note is None) is (office_keeps == "merged")


def test_locking_forgets_the_merge_and_unlocking_reopens_the_record(
    app: AppState, conflict: str
) -> None:
    app.open_record(conflict)
    assert app.open_merge()

    app.lock()

    assert (app.screen, app.merge, app.form) == ("unlock", None, None)
    assert app.unlock(PASSPHRASE)
    assert app.screen == "form" and app.form is not None and app.form.record_id == conflict
    assert app.form.status == "conflict"


def test_merging_needs_the_server_and_says_so(app: AppState, conflict: str) -> None:
    services = app.services
    services.sync.stop()
    services.device.store.settings.set(
        "server_url", f"http://127.0.0.1:{free_port()}"
    )  # nobody there
    app.open_record(conflict)

    assert not app.open_merge()

    assert app.form is not None and app.form.message_key == "merge_offline"
    assert (app.screen, app.merge) == ("form", None)
    assert app.form.status == "conflict"


def test_merging_a_record_no_longer_in_conflict_sends_nothing(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    app.open_record(conflict)
    assert app.open_merge()
    mine = app.services.records.get(conflict).revision
    with admin.open_server_storage(deployment.settings) as storage:  # the office decides first
        admin.resolve_conflict(storage, deployment.org_id, conflict, mine)
    app.sync_now()

    assert not app.send_merge()

    assert app.form is not None and app.form.message_key == "merge_nothing"
    assert app.services.records.get(conflict).status == "sent"
    assert app.counts["waiting"] == 0


def test_there_is_nothing_to_merge_once_the_office_has_resolved_it(
    app: AppState, conflict: str, deployment: Deployment
) -> None:
    mine = app.services.records.get(conflict).revision
    with admin.open_server_storage(deployment.settings) as storage:  # not pulled yet
        admin.resolve_conflict(storage, deployment.org_id, conflict, mine)
    app.open_record(conflict)

    assert not app.open_merge()

    assert app.form is not None and app.form.message_key == "merge_nothing"
    assert app.merge is None


def test_keeping_my_version_needs_a_record_in_conflict(app: AppState) -> None:
    record = app.services.device.store.records.create_final("victim_screening", screening_values())
    with pytest.raises(StoreError, match="not in conflict"):
        app.services.records.settle_conflict(record.id, lang="en")


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
    values = app.form.values
    assert {k: values.get(k) for k in ("title", "start_date", "end_date", "country")} == {
        k: event[k] for k in ("title", "start_date", "end_date", "country")
    }
    assert "organiser_notes" not in values
    assert app.form.event_days == 2
    app.close_record()  # opened and left: no draft, still listed as shared
    assert [(row.title, row.status) for row in app.events] == [
        ("Judicial training, Battambang", "shared")
    ]
    app.open_shared_event(shared.shared_key)
    assert app.form is not None
    app.form.set_value("venue", "Provincial court")  # the register starts here
    stored = app.services.records.get(app.form.record_id).values
    assert (stored["title"], stored["venue"]) == (
        "Judicial training, Battambang",
        "Provincial court",
    )
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
    assert app.services.records.shared_events()[shared.key]["delivery_languages"] == ["en", "local"]

    with admin.open_server_storage(deployment.settings) as storage:
        admin.withdraw_event(storage, deployment.org_id, shared.key)
    app.go("sync")
    app.sync_now()
    app.go("training")
    assert app.events == []
