"""The dashboard's and exports' state against the real server, without a browser: a
coordinator's device draws what trainers and collectors sent, with small victim figures
hidden; a region filter narrows them; an export is made through the laptop's tools; without
the tools (a phone build) both say so instead of failing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldapp import crypto
from fieldapp.office.ui_tools import LaptopOfficeTools
from fieldapp.ui.services.office_tools import install_office_tools
from fieldapp.ui.state.office_figures import DashboardState, ExportsState
from sync.client import SyncClient
from tests.ui._office import OfficeWorld, attendance_values, office_world, screening_values


@pytest.fixture
def world(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[OfficeWorld]:
    with office_world(tmp_path, org_key) as made:
        yield made


@pytest.fixture
def tools() -> Iterator[None]:
    install_office_tools(LaptopOfficeTools())
    yield
    install_office_tools(None)


def send(world: OfficeWorld, device: Path, form: str, values: list[dict[str, Any]]) -> None:
    """Records finalised on the device, then sent in one sync."""
    with world.store(device) as store:
        for answers in values:
            store.records.create_final(form, answers)
        with SyncClient(store) as client:
            assert client.sync().ok


def test_the_dashboard_hides_small_victim_figures_and_narrows_by_region(
    world: OfficeWorld, tools: None
) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    send(world, trainer, "training_attendance", [attendance_values(participants=3)] * 2)
    north, south = (
        world.enrol("north", "collector", "north"),
        world.enrol("south", "collector", "south"),
    )
    send(world, north, "victim_screening", [screening_values()] * 3)
    send(world, south, "victim_screening", [screening_values(sex="male", nationality="ER")])
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        state = DashboardState(services=services, k=3)
        state.open(None)
        assert state.missing is None and state.problem is None, state.problem
        assert state.view is not None
        charts = {c.id: c for c in state.view.charts}
        participants = {b.label: b.count for b in charts["participants_by_sex"].bars}
        assert participants == {"Female": 2, "Male": 4}  # professionals: as counted
        sex = {b.label: b.count for b in charts["victims_by_sex"].bars}
        assert sex == {"Female": None, "Male": None}  # 1 man: hidden, and so is 3 = 4 - 1
        assert charts["victims_by_sex"].total == 4
        state.set(region="north")
        state.refresh()
        charts = {c.id: c for c in state.view.charts}
        assert {b.label: b.count for b in charts["victims_by_sex"].bars} == {"Female": 3}
        assert charts["participants_by_sex"].total == 6
        state.set(start="2026-13-01")
        state.refresh()
        assert state.problem == "From: write a date as YYYY-MM-DD, for example 2026-01-31"
    finally:
        services.close()


def test_an_export_is_made_through_the_laptops_tools(world: OfficeWorld, tools: None) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    send(world, trainer, "training_attendance", [attendance_values(participants=3)] * 2)
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        state = ExportsState(services=services)
        state.open()
        assert "training_attendance" in [f for f, _t, _l in state.forms]
        state.set(form="training_attendance", kind="csv", labels=True, label_lang="fr")
        made = state.run()
        assert made is not None and state.problem is None
        assert made.name == "training_attendance-csv.zip" and made.records == 2
        with zipfile.ZipFile(io.BytesIO(made.data)) as archive:
            assert sorted(archive.namelist()) == [
                "training_attendance-participants.csv",
                "training_attendance.csv",
            ]
            people = archive.read("training_attendance-participants.csv").decode("utf-8-sig")
        assert "Femme" in people and len(people.strip().splitlines()) == 1 + 6
    finally:
        services.close()


def test_without_the_office_tools_the_screens_say_so(world: OfficeWorld) -> None:
    install_office_tools(None)
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        dashboard = DashboardState(services=services)
        dashboard.open(None)
        assert dashboard.missing is not None and "fieldapp[office]" in dashboard.missing
        assert dashboard.view is None and dashboard.report("pdf") is None
        exports = ExportsState(services=services)
        exports.open()
        assert exports.missing is not None and exports.run() is None
    finally:
        services.close()


def test_the_exports_screen_makes_the_anonymised_microdata(world: OfficeWorld, tools: None) -> None:
    north = world.enrol("north", "collector", "north")
    south = world.enrol("south", "collector", "south")
    send(world, north, "victim_screening", [screening_values()] * 12)
    send(world, south, "victim_screening", [screening_values(sex="male", nationality="ER")])
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        state = ExportsState(services=services)
        state.open()
        state.set(form="victim_screening", kind="microdata")
        made = state.run()
        assert made is not None and state.problem is None, state.problem
        assert made.name == "victim_screening-microdata.csv" and made.records == 12
        lines = made.data.decode("utf-8-sig").strip().splitlines()
        assert lines[0] == "age_band,sex,nationality,exploitation_types,region"
        assert len(lines) == 1 + 12 and not any("ER" in line for line in lines)
    finally:
        services.close()
