"""The storage contract of record ownership (issue 9): only the owner and the office of the
record's region write a record or settle its conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.protocol import (
    Role,
)
from sync.server.storage import (
    NotRecordOwner,
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Conflict,
    Member,
    Victim,
    all_changes,
    backend_state,
    record_changes,
    record_state,
    refusals,
    revision,
    sealed_rows,
)


def test_a_team_mate_who_learnt_a_record_id_can_neither_take_it_over_nor_erase_it(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    """The attack of issue 9: Bob read the id of Alice's record from a team roster. His own
    revision with no base was a stored conflict, which made him a "participant", whose
    consent withdrawal was accepted: every version of Alice's record erased, her copy too."""
    victim = Victim(storage, org_id)
    bob = Member(storage, org_id, "collector", "north")
    before = record_state(backend, storage, org_id, victim.id)
    alice_seen = all_changes(storage, victim.alice.device)[-1].seq
    takeover = bob.envelope(record_id=victim.id, rev=revision(1))
    erasure = bob.envelope(
        record_id=victim.id, rev=revision(2), base=takeover.revision, withdrawn=True
    )
    on_head = bob.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
    his_own = bob.envelope()

    results = storage.push_records(bob.device, [takeover, erasure, on_head, his_own], NOW)

    assert [r.status for r in results] == ["rejected", "rejected", "rejected", "accepted"]
    for refused in results[:3]:
        assert (refused.seq, refused.current_revision) == (None, None)
        assert [(e.code, e.field) for e in refused.errors] == [("not_record_owner", "id")]
    assert "may store a version of it" in results[0].errors[0].message
    assert "may withdraw its consent" in results[1].errors[0].message
    assert record_state(backend, storage, org_id, victim.id) == before
    assert sealed_rows(backend, victim.id) == 2
    assert all_changes(storage, victim.alice.device, alice_seen) == []  # nothing to erase
    assert [c.key for c in all_changes(storage, bob.device)] == [str(his_own.id)]
    assert refusals(storage, org_id, bob) == [("refused:not_record_owner", str(victim.id))] * 3

    # A revision Bob did not write, pushed again (a relayed copy): a duplicate, nothing written.
    [replay] = storage.push_records(bob.device, [victim.v2], NOW + timedelta(days=1))
    assert (replay.status, replay.current_revision) == ("duplicate", victim.v2.revision)
    assert record_state(backend, storage, org_id, victim.id) == before


@pytest.mark.parametrize(
    ("role", "region"),
    [
        ("trainer", "south"),  # the trainer of another region, basing an edit on the head
        ("collector", "north"),
        ("coordinator", None),  # reads the whole organisation, writes only its own
        ("case_manager", "south"),  # the office, of another region
        ("admin", "south"),
    ],
)
def test_an_edit_on_the_head_from_anyone_but_the_owner_or_the_office_of_its_region_is_refused(
    backend: Backend, storage: Storage, org_id: str, role: Role, region: str | None
) -> None:
    victim = Victim(storage, org_id)
    intruder = Member(storage, org_id, role, region)
    before = record_state(backend, storage, org_id, victim.id)
    edit = intruder.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
    erasure = intruder.envelope(
        record_id=victim.id, rev=revision(3), base=victim.v2.revision, withdrawn=True
    )

    for envelope in (edit, erasure):
        [refused] = storage.push_records(intruder.device, [envelope], NOW)
        assert refused.status == "rejected"
        assert [e.code for e in refused.errors] == ["not_record_owner"]
    assert record_state(backend, storage, org_id, victim.id) == before
    assert refusals(storage, org_id, intruder) == [("refused:not_record_owner", str(victim.id))] * 2


def test_the_owner_and_the_office_of_its_region_write_the_record(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    victim = Victim(storage, org_id)
    north_office = Member(storage, org_id, "case_manager", "north")
    whole_office = Member(storage, org_id, "admin", None)  # enrolled with no region
    by_office = north_office.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
    stale = whole_office.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
    assert storage.push_records(north_office.device, [by_office], NOW)[0].status == "accepted"
    assert storage.push_records(whole_office.device, [stale], NOW)[0].status == "conflict"
    # Alice's offline edit (stale too) and then her edit on the office's head.
    offline = victim.alice.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
    on_head = victim.alice.envelope(record_id=victim.id, rev=revision(4), base=by_office.revision)
    results = storage.push_records(victim.alice.device, [offline, on_head], NOW)
    assert [r.status for r in results] == ["conflict", "accepted"]
    head = storage.get_record(org_id, victim.id)
    assert (head.head_revision, head.siblings) == (
        on_head.revision,
        [stale.revision, offline.revision],
    )
    # The record stays Alice's, whoever wrote its head.
    owner = "SELECT owner_device_id, owner_region FROM record_heads WHERE id = '{}'"
    assert backend.raw(owner.format(victim.id)) == [(victim.alice.device.id, "north")]

    settled = storage.resolve_conflict(
        org_id, victim.id, on_head.revision, NOW, actor="x", by=north_office.device
    )
    assert (settled.head_revision, settled.in_conflict) == (on_head.revision, False)
    withdrawal = whole_office.envelope(
        record_id=victim.id, rev=revision(5), base=on_head.revision, withdrawn=True
    )
    assert storage.push_records(whole_office.device, [withdrawal], NOW)[0].status == "accepted"
    assert sealed_rows(backend, victim.id) == 0
    [notice] = [c for c in record_changes(storage, victim.alice.device) if c.data.consent_withdrawn]
    assert notice.data.head_revision == withdrawal.revision  # Alice's copy goes too
    assert all(not e.outcome.startswith("refused") for e in storage.list_audit(org_id))


def test_only_the_office_of_the_records_region_settles_its_conflict(
    storage: Storage, org_id: str
) -> None:
    conflict = Conflict(storage, org_id)
    record_id, keep = conflict.v1.id, conflict.bob_v2.revision
    before = backend_state(storage, org_id, record_id)
    outsiders = [
        conflict.alice,  # the owner: settling is the office's
        Member(storage, org_id, "collector", "north"),  # read the id from a roster
        Member(storage, org_id, "trainer", "north"),
        Member(storage, org_id, "coordinator", None),
        Member(storage, org_id, "case_manager", "south"),
        Member(storage, org_id, "admin", "south"),
    ]
    for outsider in outsiders:
        with pytest.raises(NotRecordOwner, match="admin or case manager of its region"):
            storage.resolve_conflict(org_id, record_id, keep, NOW, actor="x", by=outsider.device)
    assert backend_state(storage, org_id, record_id) == before

    north = Member(storage, org_id, "admin", "north")
    head = storage.resolve_conflict(org_id, record_id, keep, NOW, actor="x", by=north.device)
    assert (head.head_revision, head.in_conflict) == (keep, False)
