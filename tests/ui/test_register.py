"""The training register's rules, on the real state over a real store: the same person twice
is warned about (typed or added from the team's people), a removal can be undone, a
returning person brings who they are and nothing else, and check-in offers only the days the
event has."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState, TrainingSession
from fieldapp.ui.state.training import IDENTITY_FIELDS, same_person
from tests.conftest import PASSPHRASE, Clock, attendance_values

SOKHA = {"full_name": "Sokha Chan", "organisation": "Supreme Court", "phone": "+85512345678"}


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> AppState:
    """A device used offline that holds an earlier event: Sokha Chan, judge, then of the
    Provincial Court, agreed to be contacted and gave her phone."""
    services = Services(tmp_path / "device", clock=clock)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    earlier = attendance_values("Earlier", participants=1)
    earlier["participants"][0].update(
        full_name="Sokha Chan",
        sex="female",
        profession="judge",
        organisation="Provincial Court",
        consent_contact=True,
        phone="+85512345678",
    )
    services.device.store.records.create_final("training_attendance", earlier)
    state = AppState(services=services)
    state.go("home")
    return state


def new_event(app: AppState, start: str = "2026-11-02", end: str = "2026-11-04") -> TrainingSession:
    app.new_record("training_attendance")
    assert isinstance(app.form, TrainingSession)
    event = app.form
    event.set_value("title", "Judges workshop")
    event.set_value("start_date", start)
    event.set_value("end_date", end)
    return event


def typed(event: TrainingSession, **answers: object) -> int:
    event.add_participant()
    assert event.editing is not None
    index = event.editing[1]
    for name, value in answers.items():
        event.set_value(name, value, repeat="participants", index=index)
    return index


def stored(app: AppState, event: TrainingSession) -> list[dict[str, object]]:
    people: list[dict[str, object]] = (
        app.services.records.get(event.record_id).values.get("participants") or []
    )
    return people


# -- the same person -----------------------------------------------------------------------
def test_same_name_and_organisation_or_phone_is_the_same_person() -> None:
    assert same_person(SOKHA, {"full_name": "  sokha   CHAN ", "organisation": "supreme court"})
    assert same_person(SOKHA, {"full_name": "Sokha Chan", "phone": "+855 12 345 678"})
    assert same_person(SOKHA, {"full_name": "Sokha Chan"})  # nothing tells them apart
    assert same_person({"full_name": "Zoé Ngô"}, {"full_name": "zoe ngo"})  # accents
    # a namesake: known on both sides, different, nothing in common
    assert not same_person(SOKHA, {"full_name": "Sokha Chan", "organisation": "Police"})
    assert not same_person(SOKHA, {"full_name": "Sokha Chan", "phone": "+85599999999"})
    assert not same_person(SOKHA, {"full_name": "Sokha Chann", "organisation": "Supreme Court"})
    assert not same_person({}, {})


def test_a_person_typed_twice_is_warned_about(app: AppState) -> None:
    event = new_event(app)
    typed(event, full_name="Sokha Chan", organisation="Supreme Court")
    typed(event, full_name="Dara Pich", organisation="Supreme Court")
    again = typed(event, full_name="sokha chan", organisation="Supreme  court")
    assert event.duplicates(again) == [0]
    assert event.duplicates(0) == [again]
    assert event.duplicates(1) == []
    event.set_value("organisation", "National Police", repeat="participants", index=again)
    assert event.duplicates(again) == []  # a namesake from elsewhere


def test_a_person_added_twice_from_the_team_is_refused_until_the_trainer_insists(
    app: AppState,
) -> None:
    event = new_event(app)
    event.search_team("sokha")
    [match] = event.team_matches
    assert event.add_from_team(match.id)
    assert event.close_instance()
    event.search_team("sokha")
    assert not event.add_from_team(match.id)  # already registered: not added again
    assert event.duplicate_match == match.id
    assert len(event.instances("participants")) == 1
    assert event.add_from_team(match.id, anyway=True)
    assert len(stored(app, event)) == 2


def test_a_typed_person_is_recognised_as_one_from_the_team(app: AppState) -> None:
    event = new_event(app)
    typed(event, full_name="Sokha Chan", organisation="Provincial Court")
    event.close_instance()
    event.search_team("sokha")
    [match] = event.team_matches
    assert not event.add_from_team(match.id)  # same name and organisation as recorded then


# -- who a returning person is -------------------------------------------------------------
def test_a_returning_person_brings_who_they_are_and_nothing_else(app: AppState) -> None:
    event = new_event(app)
    event.search_team("sokha")
    [match] = event.team_matches
    assert event.add_from_team(match.id)
    assert event.editing == ("participants", 0)  # opened to be completed
    [person] = stored(app, event)
    assert {k for k in person if not k.startswith("_")} == {"full_name", "sex", "profession"}
    assert (person["full_name"], person["sex"], person["profession"]) == (
        "Sokha Chan",
        "female",
        "judge",
    )
    assert set(IDENTITY_FIELDS) >= {"full_name", "sex", "profession"}
    assert not {"consent_contact", "phone", "email", "organisation"} & set(IDENTITY_FIELDS)


def test_a_returning_person_is_offered_as_their_name_is_typed(app: AppState) -> None:
    event = new_event(app)
    index = typed(event, full_name="sok", pre_score="40")
    [match] = event.returning(index)
    assert match.name == "Sokha Chan"
    event.use_returning(index, match.id)
    [person] = stored(app, event)
    assert (person["full_name"], person["sex"], person["profession"]) == (
        "Sokha Chan",
        "female",
        "judge",
    )
    assert person["pre_score"] == 40  # what was typed here stays
    assert "phone" not in person and "consent_contact" not in person
    assert event.returning(index) == []  # who she is is given: no more offers


def test_organisations_already_named_are_offered(app: AppState) -> None:
    event = new_event(app)
    typed(event, full_name="Dara Pich", organisation="Supreme Court")
    index = typed(event, full_name="Maly Sen")
    assert event.organisations(index) == ["Supreme Court", "Provincial Court"]
    event.set_value("organisation", "prov", repeat="participants", index=index)
    assert event.organisations(index) == ["Provincial Court"]
    event.set_value("organisation", "Provincial Court", repeat="participants", index=index)
    assert event.organisations(index) == []  # chosen


# -- undo ----------------------------------------------------------------------------------
def test_a_removed_participant_comes_back_where_they_were(app: AppState) -> None:
    event = new_event(app)
    for name in ("Sokha Chan", "Dara Pich", "Maly Sen"):
        typed(event, full_name=name, sex="female", profession="judge")
        event.close_instance()
    event.edit_instance("participants", 1)
    event.remove_participant(1)
    assert event.removed is not None and event.removed.name == "Dara Pich"
    assert [p["full_name"] for p in stored(app, event)] == ["Sokha Chan", "Maly Sen"]
    event.undo_remove()
    assert event.removed is None
    assert [p["full_name"] for p in stored(app, event)] == ["Sokha Chan", "Dara Pich", "Maly Sen"]
    event.undo_remove()  # nothing more to undo
    assert len(stored(app, event)) == 3


def test_a_blank_entry_dropped_is_not_offered_for_undo(app: AppState) -> None:
    event = new_event(app)
    event.add_participant()
    assert event.close_instance()
    assert event.removed is None and event.instances("participants") == []


# -- the days the event has ----------------------------------------------------------------
def test_check_in_offers_the_days_the_event_has(app: AppState) -> None:
    event = new_event(app)
    assert (event.event_days, event.dates_known) == (3, True)
    event.set_length(2)
    assert event.values["end_date"] == "2026-11-03"
    assert event.event_days == 2
    for name in ("Sokha Chan", "Dara Pich"):
        typed(event, full_name=name, sex="female", profession="judge")
    event.toggle_day(2)
    assert event.everyone_present(2) and not event.everyone_present(1)
    event.toggle_attendance(0, 2)
    assert not event.everyone_present(2)
    event.toggle_day(2)  # not everyone yet: everyone
    assert event.everyone_present(2)
    event.toggle_day(2)  # everyone: nobody
    assert all("attendance" not in p for p in stored(app, event))
    event.toggle_all_days()
    assert [sorted(p["attendance"]) for p in stored(app, event)] == [["day1", "day2"]] * 2
    assert event.summary().present_by_day == [2, 2]


def test_without_dates_the_days_are_not_known(app: AppState) -> None:
    app.new_record("training_attendance")
    assert isinstance(app.form, TrainingSession)
    assert (app.form.event_days, app.form.dates_known) == (1, False)
    app.form.set_length(3)  # no start date: nothing to count from
    assert "end_date" not in app.form.values
