"""The office's service and workspace state against the real server: a coordinator's device
lists what a trainer's device sent; a regional coordinator sees its region only; a trainer's
device is refused the office by the service (not only shown no entry)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldapp import __version__, crypto
from fieldapp.cli import main
from fieldapp.ui.screens.office import SECTIONS, sections_for
from fieldapp.ui.services import NotAnOfficeDevice
from fieldapp.ui.state import AppState
from sync.server import admin
from tests.ui._office import (
    PASSPHRASE,
    OfficeWorld,
    attendance_values,
    office_world,
    screening_values,
)


@pytest.fixture
def world(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[OfficeWorld]:
    with office_world(tmp_path, org_key) as made:
        yield made


def test_a_coordinator_lists_what_a_trainer_sent(world: OfficeWorld) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    sent = world.collect(trainer, "training_attendance", attendance_values(participants=2))
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        assert services.office.available and services.office.role == "coordinator"
        page = services.office.records()
        assert [str(r.id) for r in page.records] == [sent.id]
        assert page.records[0].region == "north" and page.records[0].review_state == "received"
        state = AppState(services=services)
        assert state.office_available
        state.go("office")
        assert state.screen == "office" and state.office.role == "coordinator"
        state.lock()
        assert state.office.role is None
    finally:
        services.close()


def test_a_regional_coordinator_sees_its_region_only(world: OfficeWorld) -> None:
    north = world.collect(world.enrol("north", "trainer", "north"), "victim_screening",
                          screening_values())  # fmt: skip
    world.collect(world.enrol("south", "trainer", "south"), "victim_screening", screening_values())
    services = world.services(world.enrol("regional", "coordinator", "north"))
    try:
        assert services.office.region == "north"
        listed = services.office.records().records
        assert [str(r.id) for r in listed] == [north.id]
        assert services.office.records(region="south").records == []
    finally:
        services.close()


def test_a_trainer_is_refused_the_office_by_the_service(world: OfficeWorld) -> None:
    services = world.services(world.enrol("trainer", "trainer", "north"))
    try:
        assert not services.office.available
        with pytest.raises(NotAnOfficeDevice, match="not trainer"):
            services.office.records()
        state = AppState(services=services)
        assert not state.office_available
        state.go("office")
        assert state.screen == "home" and state.message_key == "office_refused"
        assert sections_for("trainer") == () and sections_for(None) == ()
        assert all(s.roles <= {"coordinator", "case_manager", "admin"} for s in SECTIONS)
    finally:
        services.close()


def test_the_devices_say_their_last_sync_and_a_silent_one_shows_first(
    world: OfficeWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    world.collect(trainer, "training_attendance", attendance_values())  # a real sync's pull
    quiet = world.enrol("quiet", "collector", "north")
    world.sync(quiet)
    with admin.open_server_storage(world.deployment.settings) as storage:
        quiet_id = next(d.id for d in storage.list_devices(world.deployment.org_id)
                        if d.label == "quiet")  # fmt: skip
        long_ago = datetime.now(UTC) - timedelta(days=20)
        storage.note_device_contact(quiet_id, long_ago, synced=True)
    coordinator = world.enrol("coordinator", "coordinator")
    services = world.services(coordinator)
    try:
        board = AppState(services=services).office.devices
        board.load()
        assert board.silent_days == 14 and board.silent_count == 1
        first, *rest = board.rows
        assert first.id == quiet_id and board.silent(first)
        sent = next(d for d in rest if d.label == "trainer")
        assert (sent.records_waiting, sent.app_version) == (0, __version__)
        assert sent.last_sync_at is not None and not board.silent(sent)
        assert not board.set_silent_days("many")
        assert board.errors["silent_days"].startswith("Silent after (days): a whole number")
        assert board.set_silent_days("30") and board.silent_count == 0
        assert services.office.silent_days == 30  # kept on this device
        board.ask_revoke(quiet_id)
        assert board.revoke() and board.confirm is None
        assert next(d for d in board.rows if d.id == quiet_id).revoked_at is not None
    finally:
        services.close()
    assert world.sync(quiet).errors  # revoked: the server refuses it

    monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)
    assert main(["--data-dir", str(coordinator), "office", "devices", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["silent_days"] == 14
    by_label = {d["label"]: d for d in listed["devices"]}
    assert by_label["quiet"]["revoked_at"] is not None and not by_label["quiet"]["silent"]
    assert by_label["trainer"]["records_waiting"] == 0 and not by_label["trainer"]["silent"]
    assert main(["--data-dir", str(coordinator), "office", "devices", "--silent-days", "0"]) == 0
    assert "SILENT" in capsys.readouterr().out  # the coordinator itself never synced
