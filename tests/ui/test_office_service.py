"""The office's service and workspace state against the real server: a coordinator's device
lists what a trainer's device sent; a regional coordinator sees its region only; a trainer's
device is refused the office by the service (not only shown no entry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.ui.screens.office import SECTIONS, sections_for
from fieldapp.ui.services import NotAnOfficeDevice
from fieldapp.ui.state import AppState
from tests.ui._office import OfficeWorld, attendance_values, office_world, screening_values


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
