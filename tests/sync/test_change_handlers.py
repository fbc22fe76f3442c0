"""One handler per kind of pulled change, each on its own against a real store (no server):
what it stores, what it counts, what it skips; and the dispatch by kind, unknown kinds
skipped."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.store import Store
from sync.client import ServerRefused, SyncReport
from sync.client._changes import (
    apply_change,
    on_event,
    on_form,
    on_record,
    on_reference,
    on_revocation,
    on_roster,
)
from sync.protocol import (
    EventChange,
    FormChange,
    FormChangeData,
    LenientChangesPage,
    RecordChange,
    RecordChangeData,
    ReferenceChange,
    RevocationChange,
    RevocationChangeData,
    RosterChange,
    RosterChangeData,
)
from tests.conftest import screening_values

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def new_report() -> SyncReport:
    return SyncReport(started_at=NOW)


def form_change(seq: int, spec: dict[str, object], *, deleted: bool = False) -> FormChange:
    form_id, version = str(spec.get("id")), str(spec.get("version"))
    data = FormChangeData(form_id=form_id, spec=spec, version=version)
    return FormChange(seq=seq, kind="form", key=f"{form_id}@{version}", data=data, deleted=deleted)


def record_change(record_id: str, revision: str, **flags: object) -> RecordChange:
    data = {
        "base_revision": None,
        "conflict": False,
        "device_id": "another-device",
        "form_id": "victim_screening",
        "form_version": "1",
        "head_revision": revision,
        "revision": revision,
        "siblings": (),
        **flags,
    }
    return RecordChange(
        seq=9, kind="record", key=record_id, data=RecordChangeData.model_validate(data)
    )


def test_a_form_published_later_is_added_once(store: Store) -> None:
    newer = load_builtin_forms()["training_attendance"].model_copy(update={"version": "99"})
    change = form_change(1, newer.model_dump(mode="json"))
    report = new_report()
    on_form(store, change, report)
    on_form(store, change, report)  # pulled again (a cursor reset): already here
    assert report.forms_added == 1 and report.ok
    assert store.forms.get("training_attendance", "99") == newer


def test_a_form_held_already_is_told_from_its_json_and_any_difference_is_not(
    store: Store,
) -> None:
    """A pull from cursor 0 meets every published form again: one whose JSON is the stored
    version's (in any key order) is recognised without validating it; one that differs at
    all, even under the same id and version, is not, and goes the way it always went."""
    held = load_builtin_forms()["victim_screening"]
    sent = held.model_dump(mode="json")
    reordered = dict(reversed(list(sent.items())))
    assert store.forms.holds_as_sent(held.id, held.version, reordered)
    altered = {**sent, "title": "Another title"}
    assert not store.forms.holds_as_sent(held.id, held.version, altered)
    assert not store.forms.holds_as_sent(held.id, "999", {**sent, "version": "999"})
    report = new_report()
    on_form(store, form_change(1, reordered), report)
    assert (report.forms_added, report.errors) == (0, [])
    on_form(store, form_change(2, altered), report)
    assert report.forms_added == 0 and len(report.errors) == 1
    assert store.forms.get(held.id, held.version) == held


def test_a_form_that_cannot_be_added_is_reported_and_a_deleted_one_skipped(
    store: Store,
) -> None:
    report = new_report()
    on_form(store, form_change(1, {"id": "broken", "version": "1"}), report)
    assert report.forms_added == 0
    assert (
        len(report.errors) == 1
        and "form broken@1 from the server was not added" in (report.errors[0])
    )
    builtin = load_builtin_forms()["victim_screening"].model_dump(mode="json")
    on_form(store, form_change(2, builtin, deleted=True), report)
    assert report.skipped_changes == 1
    assert store.forms.get("victim_screening").id == "victim_screening"  # never removed


def test_a_shared_reference_list_is_kept_and_dropped_by_its_tombstone(store: Store) -> None:
    data = {"provinces": ["Battambang", "Pursat"]}
    report = new_report()
    on_reference(store, ReferenceChange(seq=3, kind="reference", key="l-1", data=data), report)
    assert store.roster.shared("reference") == {"l-1": data}
    on_reference(store, ReferenceChange(seq=4, kind="reference", key="l-1", deleted=True), report)
    assert store.roster.shared("reference") == {}
    assert report == new_report()  # nothing counted, nothing reported


def test_a_training_event_is_kept_and_dropped_by_its_tombstone(store: Store) -> None:
    data = {"title": "Judicial training", "start_date": "2026-12-01"}
    report = new_report()
    on_event(store, EventChange(seq=3, kind="event", key="e-1", data=data), report)
    assert store.roster.shared("event") == {"e-1": data}
    on_event(store, EventChange(seq=4, kind="event", key="e-1", deleted=True), report)
    assert store.roster.shared("event") == {}
    assert report == new_report()


def test_a_roster_entry_is_kept_sealed_and_dropped_by_its_tombstone(store: Store) -> None:
    sealed = b"\x00sealed with the team key\xff"
    report = new_report()
    on_roster(
        store,
        RosterChange(seq=5, kind="roster", key="p-1", data=RosterChangeData(sealed=sealed)),
        report,
    )
    assert store.roster.shared("roster") == {"p-1": {"sealed": base64.b64encode(sealed).decode()}}
    on_roster(store, RosterChange(seq=6, kind="roster", key="p-1", deleted=True), report)
    assert store.roster.shared("roster") == {}


def test_a_conflict_marks_this_devices_copy(store: Store) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    report = new_report()
    on_record(store, record_change(record.id, record.revision, conflict=True), report)
    marked = store.records.get(record.id)
    assert (marked.status, marked.server_revision) == ("conflict", record.revision)
    assert [p["code"] for p in marked.problems] == ["conflict"]
    on_record(store, record_change("never-held-here", record.revision, conflict=True), report)
    assert report == new_report()


def test_a_withdrawal_erases_this_devices_copy(store: Store) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    report = new_report()
    on_record(store, record_change(record.id, record.revision, consent_withdrawn=True), report)
    assert report.erased == 1
    erased = store.records.get(record.id)
    assert erased.status == "sent" and erased.values != record.values
    on_record(
        store, record_change("never-held-here", record.revision, consent_withdrawn=True), report
    )
    assert report.erased == 1


def test_the_offices_resolution_takes_this_devices_copy_out_of_conflict(store: Store) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    report = new_report()
    on_record(store, record_change(record.id, record.revision, conflict=True), report)
    on_record(store, record_change(record.id, record.revision, resolved=True), report)
    assert report.resolved == 1
    assert store.records.get(record.id).status == "sent"


def test_this_devices_revocation_stops_the_sync_and_anothers_is_skipped(store: Store) -> None:
    report = new_report()
    data = RevocationChangeData(device_id="another-device", revoked_at=NOW)
    on_revocation(store, RevocationChange(seq=7, kind="revocation", key="other", data=data), report)
    assert report.skipped_changes == 1
    mine = RevocationChange(seq=8, kind="revocation", key=store.device_id, data=data)
    with pytest.raises(ServerRefused, match="revoked"):
        on_revocation(store, mine, report)


def test_each_change_goes_to_the_handler_of_its_kind_and_unknown_kinds_are_skipped(
    store: Store,
) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    newer = load_builtin_forms()["training_attendance"].model_copy(update={"version": "99"})
    revoked = {"device_id": "another-device", "revoked_at": NOW.isoformat()}
    changes = [
        {"seq": 1, "kind": "event", "key": "e-1", "data": {"title": "Workshop"}},
        {"seq": 2, "kind": "survey_link", "key": "s-1", "data": {"url": "x"}, "v": 2},
        {"seq": 3, "kind": "reference", "key": "r-1", "data": {"items": ["a"]}},
        {"seq": 4, "kind": "roster", "key": "p-1", "data": {"sealed": "AAE="}},
        form_change(5, newer.model_dump(mode="json")).model_dump(mode="json"),
        record_change(record.id, record.revision, conflict=True).model_dump(mode="json"),
        {"seq": 7, "kind": "revocation", "key": "another-device", "data": revoked},
        {"seq": 8, "kind": "revocation", "key": store.device_id, "data": revoked},
    ]
    page = LenientChangesPage.model_validate(
        {"next_cursor": 8, "has_more": False, "changes": changes}
    )
    report = new_report()
    for change in page.changes[:-1]:
        apply_change(store, change, report)
    with pytest.raises(ServerRefused, match="revoked"):
        apply_change(store, page.changes[-1], report)

    assert (report.skipped_changes, report.forms_added) == (2, 1)  # the unknown, the other's
    assert store.roster.shared("event") == {"e-1": {"title": "Workshop"}}
    assert store.roster.shared("reference") == {"r-1": {"items": ["a"]}}
    assert store.roster.shared("roster") == {"p-1": {"sealed": "AAE="}}
    assert store.forms.get("training_attendance", "99") == newer
    assert store.records.get(record.id).status == "conflict"
