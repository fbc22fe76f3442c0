"""The storage contract of shared items and team rosters: reference lists and events by
region, and roster entries that reach their own region only, pushes that are idempotent,
keys of another region or another device refused."""

from __future__ import annotations

import uuid

import pytest

from sync.protocol import RosterChangeData
from sync.server.storage import (
    NotFound,
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Member,
    all_changes,
    roster,
    sealed,
)


def test_shared_items_tombstones_and_regions(storage: Storage, org_id: str) -> None:
    north = Member(storage, org_id, "trainer", "north").device
    south = Member(storage, org_id, "trainer", "south").device
    coordinator = Member(storage, org_id, "coordinator", None).device
    storage.put_shared(org_id, "reference", "districts", {"items": ["a", "b"]}, None, NOW)
    event_seq = storage.put_shared(org_id, "event", "ws-1", {"roster": ["p1"]}, "north", NOW)
    assert [(c.key, c.seq) for c in all_changes(storage, north)] == [
        ("districts", event_seq - 1),
        ("ws-1", event_seq),
    ]
    assert [c.key for c in all_changes(storage, south)] == ["districts"]

    storage.put_shared(org_id, "event", "ws-1", {"roster": ["p1", "p2"]}, "south", NOW)
    north_after = all_changes(storage, north, event_seq)
    assert [(c.key, c.deleted) for c in north_after] == [("ws-1", True)]
    south_after = all_changes(storage, south, event_seq)
    assert [(c.key, c.deleted, c.data) for c in south_after] == [
        ("ws-1", False, {"roster": ["p1", "p2"]})
    ]

    tombstone_seq = storage.delete_shared(org_id, "event", "ws-1", NOW)
    [tombstone] = all_changes(storage, south, tombstone_seq - 1)
    assert (tombstone.kind, tombstone.key, tombstone.deleted) == ("event", "ws-1", True)
    assert all_changes(storage, north, tombstone_seq - 1) == []
    assert len(all_changes(storage, coordinator)) == 5  # every region
    with pytest.raises(NotFound):
        storage.delete_shared(org_id, "event", "ws-1", NOW)
    with pytest.raises(NotFound):
        storage.put_shared("nope", "event", "x", {}, None, NOW)


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
        (second, True, RosterChangeData()),
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
