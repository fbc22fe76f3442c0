"""Searching the team's participants from the participants tab, in process: the app's state
over real stores enrolled with a real sync server, no browser. A returning participant
registered on a team mate's device is found by name and added to a new event in one tap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldapp import crypto
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState, FormSession
from sync.server import admin
from tests.conftest import CANARY, PASSPHRASE
from tests.sync._harness import Deployment

EVENT = {
    "title": "Identifying victims at borders",
    "programme_type": "training_technical_assistance",
    "country": "KH",
    "start_date": "2026-11-02",
    "end_date": "2026-11-03",
}
RETURNING = {
    "full_name": f"Zoé Ngô {CANARY}",
    "sex": "female",
    "profession": "police",
    "organisation": "Border police, Poipet",
    "consent_contact": True,
    "phone": "+85512345678",
    "email": "zoe@example.org",
}


@pytest.fixture
def make_app(
    tmp_path: Path, deployment: Deployment, app_url: str, org_key: crypto.OrgKeyPair
) -> Iterator[Callable[..., AppState]]:
    """The app on a new device of the north team (with the team key unless told not to)."""
    opened: list[Services] = []

    def make(name: str, *, team_key: bool = True) -> AppState:
        with admin.open_server_storage(deployment.settings) as storage:
            key = admin.derive_team_key(storage, deployment.org_id, org_key, "north")
            code = admin.enrol_code(
                storage,
                deployment.org_id,
                "trainer",
                "north",
                server_key=admin.server_public_key(deployment.settings, storage),
                team_key=key if team_key else None,
            ).code
        services = Services(tmp_path / name)
        opened.append(services)
        services.device.create(PASSPHRASE, PASSPHRASE)
        services.enrolment.enrol(app_url, code)
        state = AppState(services=services)
        state.go("home")
        return state

    yield make
    for services in opened:
        services.close()


def new_event(app: AppState, title: str = EVENT["title"]) -> FormSession:
    app.new_record("training_attendance")
    form = app.form
    assert form is not None
    for name, value in {**EVENT, "title": title}.items():
        form.set_value(name, value)
    form.tab = "participants"
    return form


def register(form: FormSession, person: dict[str, Any]) -> None:
    index = form.add_instance("participants")
    for name, value in person.items():
        form.set_value(name, value, repeat="participants", index=index)
    assert form.close_instance(), form.errors


def test_a_returning_participant_is_found_and_added_in_one_tap(
    make_app: Callable[..., AppState],
) -> None:
    author = make_app("author")
    form = new_event(author, "Border workshop, day one")
    register(form, RETURNING)
    form.toggle_attendance(0, 1)
    form.set_value("pre_score", 40, repeat="participants", index=0)
    registered_id = form.instances("participants")[0]["_id"]
    assert author.finalise()
    author.sync_now()
    assert author.sync_message_key == "sync_result"

    mate = make_app("mate")
    mate.sync_now()
    form = new_event(mate, "Border workshop, follow-up")
    assert form.team_search_available
    form.search_team("z")
    assert form.team_matches == []  # one letter lists nobody
    form.search_team("zoe ngo")  # accents and case do not matter
    [match] = form.team_matches
    assert (match.name, match.event_title, match.event_start, match.from_team) == (
        RETURNING["full_name"],
        "Border workshop, day one",
        "2026-11-02",
        True,
    )

    assert form.add_from_team(match.id)

    [added] = form.instances("participants")
    assert added["_id"] != registered_id  # a new entry of this event
    # who they are only: not the organisation, consent or phone given at that other event
    assert {k: v for k, v in added.items() if k != "_id"} == {
        k: RETURNING[k] for k in ("full_name", "sex", "profession") if k in RETURNING
    }
    assert "attendance" not in added and "pre_score" not in added  # the other event's
    assert (form.team_query, form.team_matches) == ("", [])
    assert form.message_key == "participant_added"
    stored = mate.services.records.get(form.record_id).values["participants"]
    assert [p["full_name"] for p in stored] == [RETURNING["full_name"]]  # autosaved
    assert not [p for p in form.errors if p.startswith("participants")]
    assert mate.finalise()


def test_this_devices_own_events_are_searched_too_but_not_the_one_being_filled(
    make_app: Callable[..., AppState],
) -> None:
    app = make_app("solo")
    first = new_event(app, "First workshop")
    register(first, RETURNING)
    assert app.finalise()
    form = new_event(app, "Second workshop")
    form.search_team(f"ngo {CANARY}")
    [match] = form.team_matches
    assert (match.from_team, match.event_title) == (False, "First workshop")
    assert form.add_from_team(match.id)
    form.search_team(f"ngo {CANARY}")
    assert [m.event_title for m in form.team_matches] == ["First workshop"]  # not this one


def test_locking_forgets_what_was_found(make_app: Callable[..., AppState]) -> None:
    app = make_app("locks")
    register(new_event(app, "First workshop"), RETURNING)
    assert app.finalise()
    form = new_event(app)
    form.search_team("zoe")
    assert form.team_matches
    app.lock()
    assert app.form is None and app.screen == "unlock"
    assert app.unlock(PASSPHRASE)  # back on the event, with nothing decrypted left over
    assert app.form is not None and app.form.record_id == form.record_id
    assert (app.form.team_query, app.form.team_matches) == ("", [])


def test_without_the_team_key_the_app_says_team_search_is_unavailable(
    make_app: Callable[..., AppState],
) -> None:
    app = make_app("plain", team_key=False)
    form = new_event(app)
    assert not form.team_search_available
    assert not form.add_from_team("no-such-match")


def test_a_new_search_sees_what_a_sync_brought_meanwhile(
    make_app: Callable[..., AppState],
) -> None:
    author, mate = make_app("author"), make_app("mate")
    register(new_event(author, "First workshop"), RETURNING)
    assert author.finalise()
    author.sync_now()
    mate.sync_now()
    form = new_event(mate, "Follow-up")
    form.search_team(CANARY)
    assert [m.name for m in form.team_matches] == [RETURNING["full_name"]]

    register(new_event(author, "Second workshop"), {**RETURNING, "full_name": f"Sok {CANARY}"})
    assert author.finalise()
    author.sync_now()
    mate.services.sync.sync_now()  # in the background, while the event stays open
    form.search_team("")  # the field cleared: the next search starts afresh
    form.search_team(CANARY)
    assert [m.name for m in form.team_matches] == [f"Sok {CANARY}", RETURNING["full_name"]]
