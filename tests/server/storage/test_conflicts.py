"""The storage contract of conflicts: both versions kept and both devices told, and the
office settling them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync.server.storage import (
    NotFound,
    NotResolvable,
    StatsRow,
    Storage,
)
from tests.server.storage._support import (
    NOW,
    Conflict,
    Member,
    all_changes,
    backend_state,
    record_changes,
    revision,
)


def test_conflict_keeps_both_versions_and_tells_both_devices(storage: Storage, org_id: str) -> None:
    alice = Member(storage, org_id, "collector", "north")
    bob = Member(storage, org_id, "case_manager", "north")  # the office edits Alice's record
    carol = Member(storage, org_id, "collector", "north")  # not involved
    reviewer = Member(storage, org_id, "case_manager", None)
    v1 = alice.envelope()
    storage.push_records(alice.device, [v1], NOW)
    cursor = {m: storage.changes_since(m.device, 0, 100).next_cursor for m in (alice, bob)}

    alice_v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    bob_v2 = bob.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    assert storage.push_records(alice.device, [alice_v2], NOW)[0].status == "accepted"
    [conflict] = storage.push_records(bob.device, [bob_v2], NOW)
    assert conflict.status == "conflict"
    assert conflict.current_revision == alice_v2.revision
    assert conflict.seq is not None and conflict.content_digest == bob_v2.content_digest

    head = storage.get_record(org_id, v1.id)
    assert (head.head_revision, head.in_conflict, head.siblings) == (
        alice_v2.revision,
        True,
        [bob_v2.revision],
    )
    statuses = {r.revision: r.status for r in storage.list_revisions(org_id, v1.id)}
    assert statuses == {v1.revision: "current", alice_v2.revision: "current",
                        bob_v2.revision: "conflict"}  # fmt: skip

    for member in (alice, bob):
        notices = [
            c for c in record_changes(storage, member.device, cursor[member]) if c.data.conflict
        ]
        assert [(c.key, c.data.siblings) for c in notices] == [(str(v1.id), (bob_v2.revision,))], (
            member
        )
        assert notices[0].data.head_revision == alice_v2.revision
        assert "count" not in str(notices[0].data)  # metadata only, never stats values
    assert all_changes(storage, carol.device) == []
    assert len(all_changes(storage, reviewer.device)) == 3

    # Alice's own second copy (a restored backup) editing v1 as well: a conflict too.
    copy_v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    [own] = storage.push_records(alice.device, [copy_v2], NOW)
    assert (own.status, own.current_revision) == ("conflict", alice_v2.revision)
    assert storage.get_record(org_id, v1.id).siblings == [bob_v2.revision, copy_v2.revision]

    # Replaying the conflicting push is a duplicate, not a second sibling.
    [replay] = storage.push_records(bob.device, [bob_v2], NOW + timedelta(days=30))
    assert (replay.status, replay.seq) == ("duplicate", conflict.seq)
    assert storage.get_record(org_id, v1.id).siblings == [bob_v2.revision, copy_v2.revision]


def test_an_edit_on_the_head_of_a_record_in_conflict_is_newest_and_still_flagged(
    storage: Storage, org_id: str
) -> None:
    """What a device that settles a conflict itself (keeps or merges its version) relies on:
    its push on the head is accepted as the newest revision, the record stays flagged for
    the office, and the change says so with the revision announced as the head."""
    alice = Member(storage, org_id, "collector", "north")
    office = Member(storage, org_id, "admin", "north")
    v1 = alice.envelope()
    office_v2 = office.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    alice_v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)  # offline
    storage.push_records(alice.device, [v1], NOW)
    assert storage.push_records(office.device, [office_v2], NOW)[0].status == "accepted"
    assert storage.push_records(alice.device, [alice_v2], NOW)[0].status == "conflict"
    cursor = all_changes(storage, alice.device)[-1].seq
    settled = alice.envelope(record_id=v1.id, rev=revision(3), base=office_v2.revision)

    [outcome] = storage.push_records(alice.device, [settled], NOW)

    assert (outcome.status, outcome.current_revision) == ("accepted", settled.revision)
    head = storage.get_record(org_id, v1.id)
    assert (head.head_revision, head.in_conflict, head.siblings) == (
        settled.revision,
        True,
        [alice_v2.revision],  # Alice's own stale edit: the office's is the base of hers now
    )
    [notice] = record_changes(storage, alice.device, cursor)
    fields = {"revision", "head_revision", "conflict", "siblings"}
    assert notice.data.model_dump(mode="json", include=fields) == {
        "revision": settled.revision,
        "head_revision": settled.revision,
        "conflict": True,
        "siblings": [alice_v2.revision],
    }


@pytest.mark.parametrize("keep", ["sibling", "head"])
def test_the_office_resolves_a_conflict_and_tells_the_devices_involved(
    storage: Storage, org_id: str, keep: str
) -> None:
    conflict = Conflict(storage, org_id)
    carol = Member(storage, org_id, "collector", "north")  # not involved
    reviewer = Member(storage, org_id, "case_manager", None)
    parties = (conflict.alice, conflict.bob)
    cursor = {m: all_changes(storage, m.device)[-1].seq for m in (*parties, reviewer)}
    kept, lost = (conflict.bob_v2, conflict.alice_v2)[:: 1 if keep == "sibling" else -1]
    at = NOW + timedelta(days=2)

    head = storage.resolve_conflict(
        org_id, conflict.v1.id, kept.revision, at, actor="admin:cli", by=None
    )

    assert (head.head_revision, head.in_conflict, head.siblings) == (kept.revision, False, [])
    assert storage.get_record(org_id, conflict.v1.id) == head
    statuses = {r.revision: r.status for r in storage.list_revisions(org_id, conflict.v1.id)}
    assert statuses == {  # every version is still stored: nothing is ever deleted
        conflict.v1.revision: "current",
        kept.revision: "current",
        lost.revision: "superseded",
    }
    for member in (*parties, reviewer):
        [notice] = record_changes(storage, member.device, cursor[member])
        assert notice.key == str(conflict.v1.id) and not notice.deleted
        assert notice.data.model_dump(include={"conflict", "resolved", "head_revision"}) == {
            "conflict": False,
            "resolved": True,
            "head_revision": kept.revision,
        }
        assert (notice.data.siblings, notice.data.superseded) == ((), (lost.revision,))
        assert "count" not in str(notice.data)  # metadata only, never stats values
    assert all_changes(storage, carol.device) == []
    [audit] = [e for e in storage.list_audit(org_id) if e.action == "resolve_conflict"]
    assert (audit.actor, audit.outcome, audit.record_id, audit.at) == (
        "admin:cli",
        "ok",
        str(conflict.v1.id),
        at,
    )
    assert storage.stats() == [StatsRow(org_id, "attendance", "current", 1)]

    # An edit on the kept head is accepted; one on the superseded version conflicts anew.
    on_head = conflict.alice.envelope(record_id=conflict.v1.id, rev=revision(3), base=kept.revision)
    assert storage.push_records(conflict.alice.device, [on_head], NOW)[0].status == "accepted"
    stale = conflict.bob.envelope(record_id=conflict.v1.id, rev=revision(3), base=lost.revision)
    assert storage.push_records(conflict.bob.device, [stale], NOW)[0].status == "conflict"
    assert storage.get_record(org_id, conflict.v1.id).siblings == [stale.revision]


def test_resolving_again_changes_nothing(storage: Storage, org_id: str) -> None:
    conflict = Conflict(storage, org_id)
    keep = conflict.bob_v2.revision
    first = storage.resolve_conflict(org_id, conflict.v1.id, keep, NOW, actor="admin:cli", by=None)
    seqs = [c.seq for c in all_changes(storage, conflict.bob.device)]

    again = storage.resolve_conflict(org_id, conflict.v1.id, keep, NOW, actor="admin:cli", by=None)

    assert again == first
    assert [c.seq for c in all_changes(storage, conflict.bob.device)] == seqs  # nothing new
    outcomes = [e.outcome for e in storage.list_audit(org_id) if e.action == "resolve_conflict"]
    assert outcomes == ["ok", "unchanged"]
    # The head of a record that was never in conflict is settled already.
    plain = conflict.alice.envelope()
    storage.push_records(conflict.alice.device, [plain], NOW)
    settled = storage.resolve_conflict(
        org_id, plain.id, plain.revision, NOW, actor="admin:cli", by=None
    )
    assert (settled.head_revision, settled.in_conflict) == (plain.revision, False)


def test_resolving_refuses_what_is_not_in_conflict_or_not_ours(
    storage: Storage, org_id: str
) -> None:
    conflict = Conflict(storage, org_id)
    record_id = conflict.v1.id
    b_org = storage.create_organisation("Org B", NOW).id
    before = backend_state(storage, org_id, record_id)

    with pytest.raises(NotFound, match="no revision"):
        storage.resolve_conflict(org_id, record_id, revision(2), NOW, actor="admin:cli", by=None)
    with pytest.raises(NotFound, match="no record"):
        storage.resolve_conflict(org_id, uuid.uuid4(), revision(2), NOW, actor="admin:cli", by=None)
    with pytest.raises(NotFound, match="no record"):  # another organisation's record
        storage.resolve_conflict(
            b_org, record_id, conflict.bob_v2.revision, NOW, actor="b", by=None
        )
    with pytest.raises(NotResolvable, match="not in conflict"):  # an older ancestor
        storage.resolve_conflict(
            org_id, record_id, conflict.v1.revision, NOW, actor="admin:cli", by=None
        )
    assert backend_state(storage, org_id, record_id) == before

    storage.resolve_conflict(org_id, record_id, conflict.alice_v2.revision, NOW, actor="x", by=None)
    with pytest.raises(NotResolvable):  # the version the office set aside stays aside
        storage.resolve_conflict(
            org_id, record_id, conflict.bob_v2.revision, NOW, actor="x", by=None
        )
    assert storage.get_record(org_id, record_id).head_revision == conflict.alice_v2.revision
