"""Team rosters end to end against the real server (uvicorn on 127.0.0.1): participants
registered on one device of a region are found by search on another device of that region;
a device of another region, and the server, never hold a name in clear; pending entries
survive a restart, and a repeated push changes nothing; a record's entries reach the team only
once the server holds the record."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldapp import crypto
from fieldapp.store import Store
from fieldapp.ui.services import Services
from sync import SyncClient, enrol
from sync.client import ServerRefused
from sync.protocol import Role
from sync.server import admin
from sync.server.auth import enrol_code_hash
from tests.conftest import CANARY, PASSPHRASE, attendance_values
from tests.sync._harness import Deployment
from tests.sync.test_client import copy_store

IssueCode = Callable[..., str]


@pytest.fixture
def issue(deployment: Deployment, org_key: crypto.OrgKeyPair) -> IssueCode:
    """Issue a code as `fieldapp admin enrol-code --org-key` does (team_key=False: without)."""

    def code(region: str | None, role: Role = "trainer", *, team_key: bool = True) -> str:
        with admin.open_server_storage(deployment.settings) as storage:
            key = (
                admin.derive_team_key(storage, deployment.org_id, org_key, region)
                if team_key
                else None
            )
        return deployment.issue(role, region, team_key=key).code

    return code


@pytest.fixture
def devices(tmp_path: Path, app_url: str) -> Iterator[Callable[[str, str], Store]]:
    """Stores enrolled with the server, closed at the end."""
    opened: list[Store] = []

    def make(name: str, code: str) -> Store:
        store = Store.create(tmp_path / name / "fieldapp.db", PASSPHRASE)
        opened.append(store)
        enrol(store, app_url, code)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def team_mate(tmp_path: Path, app_url: str, issue: IssueCode) -> Iterator[Services]:
    """Another device of the north team, as the app runs it."""
    services = Services(tmp_path / "mate")
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.enrolment.enrol(app_url, issue("north", "collector"))
    try:
        yield services
    finally:
        services.close()


def sync(store: Store) -> Any:
    with SyncClient(store) as client:
        report = client.sync()
    assert report.ok, report.errors
    return report


def event_values() -> dict[str, Any]:
    values = attendance_values(CANARY, participants=2)
    values["participants"][0].update(
        full_name=f"Zoé Ngô {CANARY}",
        organisation="Provincial court",
        consent_contact=True,
        phone="+85512345678",
    )
    return values


def waiting(store: Store) -> int:
    """Entries in the roster outbox, ready to go or held for their record."""
    [(count,)] = store.core.db.execute(
        "SELECT count(*) FROM roster_entries WHERE pending = 1"
    ).fetchall()
    return int(count)


def files_holding(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_a_team_mate_finds_participants_and_another_region_learns_nothing(
    tmp_path: Path,
    deployment: Deployment,
    issue: IssueCode,
    devices: Callable[[str, str], Store],
    team_mate: Services,
) -> None:
    author = devices("author", issue("north"))
    values = event_values()
    event = author.records.create_final("training_attendance", values)
    assert sync(author).team_entries == 2

    assert team_mate.team.search_available
    assert team_mate.sync.sync_now().ok
    [found] = team_mate.team.search_participants("zoe NGO")  # case and accents do not matter
    assert found.name == f"Zoé Ngô {CANARY}" and found.from_team
    assert (found.event_title, found.event_start, found.record_id) == (
        values["title"],
        "2026-11-02",
        event.id,
    )
    assert found.details["phone"] == "+85512345678"
    assert found.id == author.records.get(event.id).values["participants"][0]["_id"]
    both = team_mate.team.search_participants(CANARY.lower())
    assert sorted(m.name for m in both) == sorted(p["full_name"] for p in values["participants"])

    south = devices("south", issue("south"))
    sync(south)
    assert south.roster.shared("roster") == {} and south.roster.entries() == []
    assert deployment.query("SELECT count(*) FROM shared_items WHERE kind = 'roster'") == [(2,)]
    for folder in (deployment.settings.data_dir, tmp_path / "south", tmp_path / "mate"):
        assert files_holding(folder, CANARY) == [], folder


def test_edits_and_removals_reach_the_team(
    issue: IssueCode, devices: Callable[[str, str], Store], team_mate: Services
) -> None:
    author = devices("author", issue("north"))
    event = author.records.create_final("training_attendance", event_values())
    sync(author)
    team_mate.sync.sync_now()
    assert len(team_mate.team.search_participants(CANARY)) == 2

    kept, removed = author.records.get(event.id).values["participants"]
    renamed = {**kept, "full_name": f"Zoé Ngô-Sok {CANARY}"}
    author.records.finalise(
        event.id, {**author.records.get(event.id).values, "participants": [renamed]}
    )
    assert sync(author).team_entries == 1  # the changed entry; the removed one withdrawn

    team_mate.sync.sync_now()
    [found] = team_mate.team.search_participants(CANARY)
    assert (found.id, found.name) == (kept["_id"], f"Zoé Ngô-Sok {CANARY}")
    assert removed["_id"] not in team_mate.device.store.roster.shared("roster")


def test_pending_entries_survive_a_restart_and_a_repeated_push_changes_nothing(
    tmp_path: Path, deployment: Deployment, issue: IssueCode, devices: Callable[[str, str], Store]
) -> None:
    author = devices("author", issue("north"))
    author.records.create_final("training_attendance", attendance_values(CANARY, participants=3))
    backup = copy_store(author, tmp_path / "backup" / "fieldapp.db")  # restored later
    backup.close()
    author.close()  # the app stops before any sync

    reopened = Store(tmp_path / "author" / "fieldapp.db")
    try:
        assert waiting(reopened) == 3  # held until the record is sent
        reopened.keyring.unlock(PASSPHRASE)
        assert sync(reopened).team_entries == 3
        assert waiting(reopened) == 0
    finally:
        reopened.close()

    restored = Store(tmp_path / "backup" / "fieldapp.db")
    try:
        restored.keyring.unlock(PASSPHRASE)
        assert waiting(restored) == 3  # the backup predates the push
        assert sync(restored).team_entries == 3  # answered "unchanged"
        assert waiting(restored) == 0
    finally:
        restored.close()
    assert deployment.query("SELECT count(*) FROM changes WHERE kind = 'roster'") == [(3,)]


def test_participants_finalised_before_enrolment_are_shared_once_it_brings_the_key(
    tmp_path: Path, app_url: str, issue: IssueCode, team_mate: Services
) -> None:
    store = Store.create(tmp_path / "offline" / "fieldapp.db", PASSPHRASE)
    try:
        store.records.create_final("training_attendance", event_values())
        assert waiting(store) == 0  # no team key yet: nothing to seal with
        result = enrol(store, app_url, issue("north"))
        assert (result.team_search, result.team_entries) == (True, 2)
        sync(store)
    finally:
        store.close()
    team_mate.sync.sync_now()
    assert len(team_mate.team.search_participants(CANARY)) == 2


def test_a_device_enrolled_without_the_team_key_shares_nothing(
    tmp_path: Path, app_url: str, deployment: Deployment, issue: IssueCode
) -> None:
    services = Services(tmp_path / "plain")
    services.device.create(PASSPHRASE, PASSPHRASE)
    try:
        services.enrolment.enrol(app_url, issue("north", team_key=False))
        assert not services.team.search_available
        services.device.store.records.create_final("training_attendance", event_values())
        assert waiting(services.device.store) == 0
        assert services.sync.sync_now().ok
    finally:
        services.close()
    assert deployment.query("SELECT count(*) FROM shared_items WHERE kind = 'roster'") == [(0,)]


def test_a_team_key_that_does_not_open_with_the_code_is_refused_and_nothing_is_stored(
    store: Store, app_url: str, deployment: Deployment, issue: IssueCode
) -> None:
    code = issue("north")
    # The server hands out a key wrapped for another region (altered, or a bug).
    wrong = crypto.wrap_team_key(code, crypto.random_key(), deployment.org_id, "south")
    with sqlite3.connect(deployment.db_path) as conn:
        conn.execute(
            "UPDATE enrol_codes SET wrapped_team_key = ? WHERE code_hash = ?",
            (wrong, enrol_code_hash(code)),
        )
    conn.close()

    with pytest.raises(ServerRefused, match="does not open with the code"):
        enrol(store, app_url, code)

    assert store.keyring.secret("token") is None and store.roster.team_key() is None
    assert store.settings.get("server_url") is None


def test_participants_reach_the_team_only_once_the_server_holds_their_record(
    deployment: Deployment,
    issue: IssueCode,
    devices: Callable[[str, str], Store],
    team_mate: Services,
) -> None:
    """A team mate opens a roster entry and reads its record id: had the entry reached the
    server before the record, the team mate could push a record under that id first and own
    it. A record the server refuses (a form version it does not publish yet) shares nobody;
    once the server accepts it, the same sync shares its participants."""
    author = devices("author", issue("north"))
    unpublished = author.forms.get("training_attendance").model_copy(update={"version": "99"})
    author.forms.add(unpublished)
    event = author.records.create_final("training_attendance", event_values())
    assert event.form_version == "99"

    with SyncClient(author) as client:
        refused = client.sync()
    assert (refused.rejected, refused.team_entries) == (1, 0)
    assert deployment.query("SELECT count(*) FROM shared_items WHERE kind = 'roster'") == [(0,)]
    assert team_mate.sync.sync_now().ok and team_mate.team.search_participants(CANARY) == []

    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, unpublished)
    author.records.finalise(event.id)
    taken = sync(author)
    assert (taken.accepted, taken.team_entries) == (1, 2)
    assert team_mate.sync.sync_now().ok
    found = team_mate.team.search_participants(CANARY)
    assert len(found) == 2 and {match.record_id for match in found} == {event.id}
