"""The storage contract of team rosters and team keys, on SQLite and on real PostgreSQL
(marker `postgres`): entries reach their own region only, pushes are idempotent, a key of
another region is refused, and an enrolment code keeps the team key it was issued with."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest

from sync.protocol import Change
from sync.server.storage import NotFound, Storage
from tests.server.conftest import Backend
from tests.server.test_storage_contract import NOW, Member, all_changes


def roster(storage: Storage, member: Member, cursor: int = 0) -> list[Change]:
    return [c for c in all_changes(storage, member.device, cursor) if c.kind == "roster"]


def sealed(data: bytes) -> dict[str, Any]:
    return {"sealed": base64.b64encode(data).decode()}


@pytest.fixture
def org_id(storage: Storage) -> str:
    return storage.create_organisation("Org A", NOW).id


def test_an_enrolment_code_keeps_the_team_key_it_was_issued_with(
    storage: Storage, org_id: str
) -> None:
    expires = NOW + timedelta(days=1)
    storage.create_enrol_code(org_id, "with", "trainer", "north", expires, NOW, b"\x00wrapped\xff")
    storage.create_enrol_code(org_id, "without", "trainer", "north", expires, NOW)
    assert storage.get_enrol_code("with").wrapped_team_key == b"\x00wrapped\xff"
    assert storage.get_enrol_code("without").wrapped_team_key is None
    device = storage.redeem_enrol_code("with", "dev-1", b"k" * 32, "", "token-hash", NOW)
    redeemed = storage.get_enrol_code("with")
    assert (redeemed.device_id, redeemed.region) == (device.id, "north")
    assert redeemed.wrapped_team_key == b"\x00wrapped\xff"
    with pytest.raises(NotFound):
        storage.get_enrol_code("no-such-hash")


def test_roster_entries_reach_their_own_region_only(storage: Storage, org_id: str) -> None:
    author = Member(storage, org_id, "trainer", "north")
    team_mate = Member(storage, org_id, "collector", "north")
    north_coordinator = Member(storage, org_id, "coordinator", "north")
    south = Member(storage, org_id, "trainer", "south")
    no_region = Member(storage, org_id, "trainer", None)
    office = Member(storage, org_id, "coordinator", None)  # org-wide, but holds no north key
    elsewhere = Member(storage, storage.create_organisation("Org B", NOW).id, "trainer", "north")
    key = str(uuid.uuid4())

    assert storage.put_roster(author.device, [(key, b"\x01north")], NOW) == ["stored"]

    for member in (author, team_mate, north_coordinator):
        [change] = roster(storage, member)
        assert (change.key, change.deleted, change.data) == (key, False, sealed(b"\x01north"))
    for member in (south, no_region, office, elsewhere):
        assert roster(storage, member) == []

    # The devices without a region are a team of their own.
    other = str(uuid.uuid4())
    assert storage.put_roster(no_region.device, [(other, b"\x02none")], NOW) == ["stored"]
    for member in (no_region, office):
        assert [c.key for c in roster(storage, member)] == [other]
    assert [c.key for c in roster(storage, team_mate)] == [key]


def test_pushing_again_changes_nothing_and_a_change_or_withdrawal_is_a_new_entry(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    author = Member(storage, org_id, "trainer", "north")
    team_mate = Member(storage, org_id, "trainer", "north")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    batch: list[tuple[str, bytes | None]] = [(first, b"v1"), (second, b"w1")]

    assert storage.put_roster(author.device, batch, NOW) == ["stored", "stored"]
    cursor = all_changes(storage, team_mate.device)[-1].seq
    assert storage.put_roster(author.device, batch, NOW) == ["unchanged", "unchanged"]
    assert roster(storage, team_mate, cursor) == []  # a repeated push is harmless

    assert storage.put_roster(author.device, [(first, b"v2"), (second, None)], NOW) == [
        "stored",
        "withdrawn",
    ]
    changes = roster(storage, team_mate, cursor)
    assert [(c.key, c.deleted, c.data) for c in changes] == [
        (first, False, sealed(b"v2")),
        (second, True, {}),
    ]
    assert backend.count("shared_items") == 1
    # Withdrawing again, or a key never pushed, writes nothing.
    never = str(uuid.uuid4())
    assert storage.put_roster(author.device, [(second, None), (never, None)], NOW) == [
        "unchanged",
        "unchanged",
    ]
    # A key named twice in a batch is taken in order.
    assert storage.put_roster(author.device, [(never, b"x1"), (never, b"x2")], NOW) == [
        "stored",
        "stored",
    ]
    assert roster(storage, team_mate, changes[-1].seq)[-1].data == sealed(b"x2")
    assert backend.count("shared_items") == 2


def test_a_key_of_another_regions_entry_is_refused(storage: Storage, org_id: str) -> None:
    north = Member(storage, org_id, "trainer", "north")
    south = Member(storage, org_id, "trainer", "south")
    team_mate = Member(storage, org_id, "trainer", "north")
    key = str(uuid.uuid4())
    storage.put_roster(north.device, [(key, b"north's")], NOW)

    assert storage.put_roster(south.device, [(key, b"south's")], NOW) == ["refused"]
    assert storage.put_roster(south.device, [(key, None)], NOW) == ["refused"]

    assert [c.data for c in roster(storage, team_mate)] == [sealed(b"north's")]
    assert roster(storage, south) == []
    # Keys are per organisation: another organisation's entry of that key is its own.
    elsewhere = Member(storage, storage.create_organisation("Org B", NOW).id, "trainer", "south")
    assert storage.put_roster(elsewhere.device, [(key, b"B's")], NOW) == ["stored"]


def test_an_entry_belongs_to_the_device_that_stored_it(storage: Storage, org_id: str) -> None:
    """A team mate holds the team key and reads the entry's key: it still cannot replace the
    entry (with made-up details) nor withdraw it."""
    author = Member(storage, org_id, "trainer", "north")
    team_mate = Member(storage, org_id, "trainer", "north")
    collector = Member(storage, org_id, "collector", "north")
    key, mates = str(uuid.uuid4()), str(uuid.uuid4())
    assert storage.put_roster(author.device, [(key, b"author's")], NOW) == ["stored"]
    cursor = roster(storage, author)[-1].seq

    assert storage.put_roster(
        team_mate.device, [(key, b"forged"), (key, None), (mates, b"its own")], NOW
    ) == ["refused", "refused", "stored"]
    assert storage.put_roster(
        collector.device, [(key, None), (mates, b"forged"), (mates, None)], NOW
    ) == ["refused", "refused", "refused"]

    assert [(c.key, c.data) for c in roster(storage, author, cursor)] == [
        (mates, sealed(b"its own"))
    ]
    assert [c.data for c in roster(storage, collector) if c.key == key] == [sealed(b"author's")]
    # Its author still changes and withdraws it; a withdrawn key is free again.
    assert storage.put_roster(author.device, [(key, b"v2"), (key, None)], NOW) == [
        "stored",
        "withdrawn",
    ]
    assert storage.put_roster(team_mate.device, [(key, b"mate's")], NOW) == ["stored"]
