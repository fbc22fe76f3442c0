"""`PUT /v1/team/roster` and the team key at enrolment, over real HTTP (uvicorn on 127.0.0.1),
on SQLite and PostgreSQL: the code unwraps the key the server cannot, entries reach their
region and nobody else, only roles that register people push, and bodies are bounded."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from sync.protocol import (
    MAX_ROSTER_ENTRIES,
    MAX_ROSTER_ENTRY_BYTES,
    ChangesPage,
    Role,
    RosterChange,
)
from sync.server import admin
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.storage import Organisation
from tests.server._harness import CANARY, Phone, World, running


@dataclass
class Member:
    """An enrolled device and the team key its code brought (None: the code had none)."""

    phone: Phone
    team_key: bytes | None

    def entry(self, key: uuid.UUID, details: dict[str, Any]) -> dict[str, Any]:
        """A roster entry sealed with this device's team key, as a device pushes it."""
        assert self.team_key is not None
        aad = crypto.team_aad("roster", self.phone.org_id, self.phone.region, str(key))
        blob = crypto.encrypt(self.team_key, crypto.canonical_json(details), aad)
        return {"key": str(key), "sealed": base64.b64encode(blob).decode()}

    def push(self, world: World, *entries: dict[str, Any]) -> httpx.Response:
        return world.client.put(
            "/v1/team/roster",
            json={"protocol": 1, "entries": list(entries)},
            headers=self.phone.auth,
        )

    def roster(self, world: World, cursor: int = 0) -> list[RosterChange]:
        answer = world.client.get("/v1/changes", params={"cursor": cursor}, headers=self.phone.auth)
        assert answer.status_code == 200, answer.text
        changes = ChangesPage.model_validate_json(answer.content).changes
        return [c for c in changes if isinstance(c, RosterChange)]

    def open(self, change: RosterChange) -> dict[str, Any]:
        assert self.team_key is not None and change.data.sealed is not None
        aad = crypto.team_aad("roster", self.phone.org_id, self.phone.region, change.key)
        sealed_bytes = change.data.sealed
        opened: dict[str, Any] = json.loads(crypto.decrypt(self.team_key, sealed_bytes, aad))
        return opened


def enrol(
    world: World, org: Organisation, role: Role, region: str | None, *, team_key: bool = True
) -> Member:
    """Enrol through the real API with a code issued as `fieldapp admin enrol-code --org-key`
    issues it, and unwrap the team key the answer carries with that code."""
    key = admin.derive_team_key(world.storage, org.id, world.org_key, region) if team_key else None
    issued = world.issue(org.id, role, region, team_key=key)
    signing = crypto.SigningKey.generate()
    answer = world.client.post(
        "/v1/enrol",
        json={
            "code": issued.code,
            "device_id": f"dev-{uuid.uuid4().hex[:12]}",
            "device_public_key": base64.b64encode(signing.public_key).decode(),
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    phone = Phone(
        body["device_id"], signing, body["token"], org.id, role, region,
        body["recipients"], base64.b64decode(body["server_public_key"]),
    )  # fmt: skip
    if "wrapped_team_key" not in body:
        return Member(phone, None)
    wrapped = base64.b64decode(body["wrapped_team_key"])
    return Member(phone, crypto.unwrap_team_key(issued.code, wrapped, org.id, region))


def test_the_code_brings_the_team_key_and_the_server_cannot_open_it(
    world: World, backend: Any
) -> None:
    org = world.org("Org A")
    north = enrol(world, org, "trainer", "north")
    again = enrol(world, org, "collector", "north")
    south = enrol(world, org, "trainer", "south")
    plain = enrol(world, org, "trainer", "north", team_key=False)

    assert north.team_key == again.team_key == world.org_key.team_key(org.id, "north")
    assert south.team_key == world.org_key.team_key(org.id, "south") != north.team_key
    assert plain.team_key is None  # and its answer has no such field at all
    stored = [row[0] for row in backend.raw("SELECT wrapped_team_key FROM enrol_codes")]
    wrapped = [bytes(blob) for blob in stored if blob is not None]
    assert len(stored) == 4 and len(wrapped) == 3
    for blob in wrapped:
        for key in (north.team_key, south.team_key):
            assert key is not None and key not in blob


def test_entries_reach_the_region_and_nobody_else(world: World) -> None:
    org, other_org = world.org("Org A"), world.org("Org B")
    author = enrol(world, org, "trainer", "north")
    team_mate = enrol(world, org, "collector", "north")
    south = enrol(world, org, "trainer", "south")
    office = enrol(world, org, "coordinator", None)
    elsewhere = enrol(world, other_org, "trainer", "north")
    keys = [uuid.uuid4(), uuid.uuid4()]
    people = [{"full_name": f"{CANARY} {n}", "event": "Workshop"} for n in range(2)]

    answer = author.push(world, *(author.entry(k, p) for k, p in zip(keys, people, strict=True)))

    assert answer.status_code == 200, answer.text
    assert [o["status"] for o in answer.json()["outcomes"]] == ["stored", "stored"]
    changes = team_mate.roster(world)
    assert [c.key for c in changes] == [str(k) for k in keys]
    assert [team_mate.open(c) for c in changes] == people
    for outsider in (south, office, elsewhere):
        assert outsider.roster(world) == []
    # South's key does not open north's entries even when handed one.
    with pytest.raises(crypto.IntegrityError):
        south.open(changes[0])


def test_a_repeated_push_is_harmless_and_a_withdrawal_reaches_the_team(world: World) -> None:
    org = world.org("Org A")
    author = enrol(world, org, "trainer", "north")
    team_mate = enrol(world, org, "trainer", "north")
    key = uuid.uuid4()
    entry = author.entry(key, {"full_name": CANARY})
    assert author.push(world, entry).json()["outcomes"] == [{"key": str(key), "status": "stored"}]
    [first] = team_mate.roster(world)

    repeated = author.push(world, entry)
    assert repeated.json()["outcomes"] == [{"key": str(key), "status": "unchanged"}]
    assert team_mate.roster(world, first.seq) == []

    withdrawn = author.push(world, {"key": str(key), "sealed": None})
    assert withdrawn.json()["outcomes"] == [{"key": str(key), "status": "withdrawn"}]
    [tombstone] = team_mate.roster(world, first.seq)
    assert (tombstone.key, tombstone.deleted) == (str(key), True)


def test_a_team_mate_cannot_replace_or_withdraw_anothers_entry(world: World) -> None:
    """Sealed with the same team key, under the same key, by a device of the same region:
    refused, nothing written, and the team still opens the author's entry."""
    org = world.org("Org A")
    author = enrol(world, org, "trainer", "north")
    team_mate = enrol(world, org, "trainer", "north")
    key = uuid.uuid4()
    assert author.push(world, author.entry(key, {"full_name": CANARY})).status_code == 200
    [first] = team_mate.roster(world)

    forged = team_mate.push(world, team_mate.entry(key, {"full_name": "Someone Else"}))
    withdrawn = team_mate.push(world, {"key": str(key), "sealed": None})

    for answer in (forged, withdrawn):
        assert answer.json()["outcomes"] == [{"key": str(key), "status": "refused"}]
    assert team_mate.roster(world, first.seq) == []
    assert author.open(first) == {"full_name": CANARY}
    audit = [a for a in world.storage.list_audit(org_id=org.id) if a.action == "roster_push"]
    assert [(a.outcome, a.device_id) for a in audit] == [
        ("stored:1", author.phone.device_id),
        ("refused:1", team_mate.phone.device_id),
        ("refused:1", team_mate.phone.device_id),
    ]


def test_only_devices_that_register_people_push_and_audit_holds_no_personal_data(
    world: World, backend: Any
) -> None:
    org = world.org("Org A")
    for role in ("coordinator", "case_manager", "admin"):
        device = enrol(world, org, role, "north")
        refused = device.push(world, device.entry(uuid.uuid4(), {"full_name": CANARY}))
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    trainer = enrol(world, org, "trainer", "north")
    entry = trainer.entry(uuid.uuid4(), {"full_name": CANARY})
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = world.client.put("/v1/team/roster", json={"entries": [entry]}, headers=headers)
        assert response.status_code == 401
    assert trainer.push(world, entry).status_code == 200

    audit = [a for a in world.storage.list_audit(org_id=org.id) if a.action == "roster_push"]
    assert [(a.outcome, a.device_id) for a in audit] == [("stored:1", trainer.phone.device_id)]
    dumped = repr(world.storage.list_audit())
    assert CANARY not in dumped and entry["key"] not in dumped and entry["sealed"] not in dumped
    if backend.name == "sqlite":
        folder = Path(backend.url.removeprefix("sqlite:///")).parent
        assert all(CANARY.encode() not in p.read_bytes() for p in folder.iterdir() if p.is_file())


def test_bodies_are_bounded_and_every_problem_is_named(world: World) -> None:
    org = world.org("Org A")
    trainer = enrol(world, org, "trainer", "north")
    too_big = base64.b64encode(b"x" * (MAX_ROSTER_ENTRY_BYTES + 1)).decode()
    cases: list[tuple[Any, str]] = [
        ([], "entries"),
        ([{"key": str(uuid.uuid4()), "sealed": "eA=="}] * (MAX_ROSTER_ENTRIES + 1), "entries"),
        ([{"key": str(uuid.uuid4()), "sealed": too_big}], "sealed"),
        ([{"key": str(uuid.uuid4()), "sealed": ""}], "sealed"),
        ([{"key": str(uuid.uuid4()), "sealed": "not base64!"}], "sealed"),
        ([{"key": "participant-1", "sealed": "eA=="}], "key"),
        ([{"key": str(uuid.uuid4())}], "sealed"),
    ]
    for entries, field in cases:
        answer = trainer.push(world, *entries)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert body["error"] == "invalid_request"
        assert field in {f["field"] for f in body["fields"]}, body
        assert CANARY not in answer.text
    assert trainer.roster(world) == []


def test_a_body_over_the_server_limit_is_refused_before_it_is_read(
    tmp_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server", max_body_bytes=64 * 1024)
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        world = World(app, client, org_key)
        trainer = enrol(world, world.org("Org A"), "trainer", "north")
        entries = [
            trainer.entry(uuid.uuid4(), {"full_name": CANARY, "notes": "x" * 2000})
            for _ in range(50)
        ]
        answer = trainer.push(world, *entries)
        assert (answer.status_code, answer.json()["error"]) == (413, "payload_too_large")
        assert trainer.roster(world) == []
