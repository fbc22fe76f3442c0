"""The storage contract of consent withdrawal (security check 19): every sealed part
erased, every copy told, nothing sealed stored again."""

from __future__ import annotations

from datetime import timedelta

from fieldapp.crypto import verify
from sync.server.storage import (
    StatsRow,
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Conflict,
    Member,
    all_changes,
    record_changes,
    revision,
    sealed_rows,
)


def test_a_withdrawal_erases_every_revisions_sealed_part_and_reaches_every_copy(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    conflict = Conflict(storage, org_id)
    alice, bob = conflict.alice, conflict.bob
    carol = Member(storage, org_id, "collector", "north")  # not involved
    reviewer = Member(storage, org_id, "case_manager", None)
    record_id = conflict.v1.id
    cursor = {m: all_changes(storage, m.device)[-1].seq for m in (alice, bob, reviewer)}
    assert sealed_rows(backend, record_id) == 3
    withdrawal = alice.envelope(
        record_id=record_id, rev=revision(3), base=conflict.alice_v2.revision, withdrawn=True
    )
    at = NOW + timedelta(days=3)

    [result] = storage.push_records(alice.device, [withdrawal], at)

    assert (result.status, result.current_revision) == ("accepted", withdrawal.revision)
    assert sealed_rows(backend, record_id) == 0
    revisions = storage.list_revisions(org_id, record_id)
    assert [r.sealed for r in revisions] == [None] * 4
    assert {r.revision: r.status for r in revisions} == {
        conflict.v1.revision: "current",
        conflict.alice_v2.revision: "current",
        conflict.bob_v2.revision: "superseded",  # nothing left to review
        withdrawal.revision: "current",
    }
    stored = revisions[-1]
    assert stored.consent_withdrawn and stored.to_envelope() == withdrawal
    verify(alice.device.public_key, withdrawal.signature, stored.to_envelope().signing_bytes())
    assert stored.stats == {"count": 3}  # the record still counts
    head = storage.get_record(org_id, record_id)
    assert (head.head_revision, head.in_conflict, head.siblings, head.consent_withdrawn) == (
        withdrawal.revision,
        False,
        [],
        True,
    )
    for member in (alice, bob, reviewer):  # every device holding a copy learns it
        [notice] = record_changes(storage, member.device, cursor[member])
        assert (notice.key, notice.data.consent_withdrawn) == (str(record_id), True)
        assert (notice.data.head_revision, notice.data.conflict) == (
            withdrawal.revision,
            False,
        )
        assert "count" not in str(notice.data)  # metadata only, never stats values
    assert all_changes(storage, carol.device) == []
    [audit] = [e for e in storage.list_audit(org_id) if e.action == "withdraw_consent"]
    assert (audit.actor, audit.outcome, audit.record_id, audit.at) == (
        f"device:{alice.device.id}",
        "erased",
        str(record_id),
        at,
    )
    assert storage.stats() == [StatsRow(org_id, "attendance", "current", 1)]


def test_a_withdrawn_record_never_takes_sealed_content_again(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    conflict = Conflict(storage, org_id)
    alice, bob = conflict.alice, conflict.bob
    record_id = conflict.v1.id
    withdrawal = alice.envelope(
        record_id=record_id, rev=revision(3), base=conflict.alice_v2.revision, withdrawn=True
    )
    [first] = storage.push_records(alice.device, [withdrawal], NOW)
    counts = {t: backend.count(t) for t in ("records", "changes", "change_audience")}

    # Replays of what is stored (a backup, a bundle, a lost answer): duplicates, nothing
    # written back, the same receipt data for the withdrawal.
    later = NOW + timedelta(days=30)
    replays = storage.push_records(
        alice.device, [conflict.v1, conflict.alice_v2, withdrawal], later
    )
    assert [r.status for r in replays] == ["duplicate"] * 3
    assert (replays[2].seq, replays[2].content_digest) == (first.seq, first.content_digest)
    assert storage.push_records(bob.device, [conflict.bob_v2], later)[0].status == "duplicate"
    # New sealed content, from a device that took part or not yet aware: refused.
    for member, envelope in (
        (alice, alice.envelope(record_id=record_id, rev=revision(4), base=withdrawal.revision)),
        (bob, bob.envelope(record_id=record_id, rev=revision(3), base=conflict.bob_v2.revision)),
    ):
        [refused] = storage.push_records(member.device, [envelope], later)
        assert (refused.status, refused.seq) == ("rejected", None)
        assert [(e.code, e.field) for e in refused.errors] == [("consent_withdrawn", "sealed")]
    assert {t: backend.count(t) for t in counts} == counts
    assert sealed_rows(backend, record_id) == 0
    assert storage.get_record(org_id, record_id).head_revision == withdrawal.revision

    # Another copy withdrawing too (it learnt late) is harmless: stored, nothing sealed.
    again = bob.envelope(
        record_id=record_id, rev=revision(3), base=conflict.bob_v2.revision, withdrawn=True
    )
    assert storage.push_records(bob.device, [again], later)[0].status == "accepted"
    head = storage.get_record(org_id, record_id)
    assert (head.head_revision, head.consent_withdrawn) == (again.revision, True)
    assert sealed_rows(backend, record_id) == 0


def test_only_the_owner_or_the_office_may_withdraw_consent(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    carol = Member(storage, org_id, "collector", "north")
    reviewer = Member(storage, org_id, "case_manager", None)
    v1 = alice.envelope()
    storage.push_records(alice.device, [v1], NOW)

    by_carol = carol.envelope(record_id=v1.id, rev=revision(2), base=v1.revision, withdrawn=True)
    [refused] = storage.push_records(carol.device, [by_carol], NOW)
    assert refused.status == "rejected"
    assert [(e.code, e.field) for e in refused.errors] == [("not_record_owner", "id")]
    assert "withdraw its consent" in refused.errors[0].message
    assert sealed_rows(backend, v1.id) == 1
    assert not storage.get_record(org_id, v1.id).consent_withdrawn

    by_office = reviewer.envelope(
        record_id=v1.id, rev=revision(2), base=v1.revision, withdrawn=True
    )
    assert storage.push_records(reviewer.device, [by_office], NOW)[0].status == "accepted"
    assert sealed_rows(backend, v1.id) == 0
    [notice] = [c for c in record_changes(storage, alice.device) if c.data.consent_withdrawn]
    assert notice.data.head_revision == by_office.revision  # Alice's copy goes too


def test_a_withdrawal_erases_what_its_own_batch_stored(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", None)
    v1 = alice.envelope()
    withdrawal = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision, withdrawn=True)
    never_sent = alice.envelope(withdrawn=True)  # withdrawn on the device before any sync

    results = storage.push_records(alice.device, [v1, withdrawal, never_sent], NOW)

    assert [r.status for r in results] == ["accepted"] * 3
    assert sealed_rows(backend, v1.id) == 0
    assert storage.get_record(org_id, never_sent.id).consent_withdrawn
    assert storage.stats() == [StatsRow(org_id, "attendance", "current", 2)]  # both count
