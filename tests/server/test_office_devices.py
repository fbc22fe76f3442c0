"""The office's device list over real HTTP, on SQLite and PostgreSQL: what each device's sync
said of it (optional headers: records waiting, app version; an older app sends none and keeps
working), last seen and last sync, region scoping, refused to trainers, audited; and revoking
from the office (the admin library's revocation, within the viewer's rights)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from sync.protocol import APP_VERSION_HEADER, WAITING_HEADER
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.server._harness import Phone, World, running
from tests.server.conftest import Backend


def pull(world: World, phone: Phone, **headers: str) -> httpx.Response:
    return world.client.get("/v1/changes", headers={**phone.auth, **headers})


def devices(world: World, phone: Phone) -> dict[str, dict[str, Any]]:
    response = world.client.get("/v1/office/devices", headers=phone.auth)
    assert response.status_code == 200, response.text
    return {d["id"]: d for d in response.json()["devices"]}


def test_a_sync_says_what_waits_and_which_version_and_an_old_app_still_syncs(
    world: World,
) -> None:
    org = world.org("Org A")
    new_app = world.enrol(org, "trainer", "north")
    old_app = world.enrol(org, "collector", "north")
    coordinator = world.enrol(org, "coordinator")
    assert pull(world, new_app, **{WAITING_HEADER: "4", APP_VERSION_HEADER: "0.1.0"}).is_success
    assert pull(world, old_app).status_code == 200  # no headers: an older app
    assert world.push(old_app, old_app.envelope()).status_code == 200
    seen = devices(world, coordinator)
    assert (seen[new_app.device_id]["records_waiting"], seen[new_app.device_id]["app_version"]) == (
        4,
        "0.1.0",
    )
    assert seen[new_app.device_id]["last_sync_at"] is not None
    old = seen[old_app.device_id]
    assert (old["records_waiting"], old["app_version"]) == (None, None)
    assert old["last_seen_at"] >= old["last_sync_at"]
    never = seen[coordinator.device_id]
    assert never["last_sync_at"] is None and never["role"] == "coordinator"
    entries = [e for e in world.storage.list_audit(org.id) if e.action == "office_devices"]
    assert [e.outcome for e in entries] == ["ok:3"]


@pytest.mark.parametrize(
    ("header", "value"),
    [(WAITING_HEADER, "-1"), (WAITING_HEADER, "many"), (APP_VERSION_HEADER, "x" * 41)],
)
def test_a_bad_header_is_refused_naming_it(world: World, header: str, value: str) -> None:
    org = world.org("Org A")
    phone = world.enrol(org, "trainer", "north")
    response = pull(world, phone, **{header: value})
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{header}: ")


def test_a_regional_coordinator_sees_its_region_and_a_trainer_none(world: World) -> None:
    org, other = world.org("Org A"), world.org("Org B")
    north = world.enrol(org, "trainer", "north")
    south = world.enrol(org, "trainer", "south")
    world.enrol(other, "trainer", "north")
    regional = world.enrol(org, "coordinator", "north")
    assert set(devices(world, regional)) == {north.device_id, regional.device_id}
    everyone = devices(world, world.enrol(org, "admin"))
    assert {north.device_id, south.device_id, regional.device_id} <= set(everyone)
    refused = world.client.get("/v1/office/devices", headers=north.auth)
    assert refused.status_code == 403


def test_a_coordinator_revokes_a_field_device_of_its_region_only(world: World) -> None:
    org = world.org("Org A")
    north = world.enrol(org, "trainer", "north")
    south = world.enrol(org, "trainer", "south")
    regional = world.enrol(org, "coordinator", "north")
    admin = world.enrol(org, "admin")

    def revoke(by: Phone, target: Phone | str) -> httpx.Response:
        device_id = target if isinstance(target, str) else target.device_id
        return world.client.post(f"/v1/office/devices/{device_id}:revoke", headers=by.auth)

    assert revoke(regional, south).status_code == 403
    assert revoke(regional, admin).status_code == 403  # a coordinator revokes field devices
    assert revoke(regional, "no-such-device").status_code == 404
    assert revoke(north, south).status_code == 403  # a trainer revokes nothing
    done = revoke(regional, north)
    assert done.status_code == 200 and done.json()["device_id"] == north.device_id
    assert pull(world, north).status_code == 401  # its token stopped working
    assert devices(world, admin)[north.device_id]["revoked_at"] is not None
    assert [e.outcome for e in world.storage.list_audit(org.id) if e.action == "revoke"] == ["ok"]


@pytest.fixture
def clocked(
    backend: Backend, tmp_path: Path, org_key: crypto.OrgKeyPair
) -> Iterator[tuple[World, list[datetime]]]:
    """The `world`, on a clock the test sets (`[now]`)."""
    now = [datetime(2026, 12, 5, 9, 0, tzinfo=UTC)]
    settings = ServerSettings(
        data_dir=tmp_path / "server", database_url=backend.url, rate_limit_burst=10_000
    )
    app = create_app(settings, storage=backend.storage, clock=lambda: now[0])
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key), now


def test_a_pull_is_noted_once_a_second_unless_it_says_something_new(
    clocked: tuple[World, list[datetime]],
) -> None:
    """A pull's pages come one after another: its last sync is noted to the second (the office
    reads it in minutes), not by a durable write per page; what its headers say anew is
    noted at once."""
    world, now = clocked
    phone = world.enrol(world.org("Org A"), "collector", "north")

    def last_sync() -> tuple[datetime | None, int | None]:
        device = world.storage.get_device(phone.device_id)
        return device.last_sync_at, device.records_waiting

    started = now[0]
    assert pull(world, phone, **{WAITING_HEADER: "2"}).is_success
    now[0] = started + timedelta(milliseconds=900)
    assert pull(world, phone, **{WAITING_HEADER: "2"}).is_success
    assert pull(world, phone).is_success  # no header: nothing new said
    assert last_sync() == (started, 2)
    assert pull(world, phone, **{WAITING_HEADER: "0"}).is_success
    assert last_sync() == (now[0], 0)
    now[0] = started + timedelta(seconds=2)
    assert pull(world, phone).is_success
    assert last_sync() == (now[0], 0)
