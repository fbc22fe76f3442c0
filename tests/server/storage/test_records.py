"""The storage contract of pushed records: accepted, duplicate, reused revisions, edits,
tombstones, record ids across organisations, and which receipted revisions are held."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from fieldapp.crypto import verify
from sync.server.storage import (
    NotFound,
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Member,
    all_changes,
    record_changes,
    revision,
)


def test_accepted_record_round_trips_exactly(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", "north")
    env = member.envelope(stats={"count": 3, "district": "a", "ratio": 0.25})
    [result] = storage.push_records(member.device, [env], NOW)
    assert result.status == "accepted" and result.errors == []
    assert (result.record_id, result.revision) == (env.id, env.revision)
    assert result.content_digest == env.content_digest
    assert result.current_revision == env.revision
    assert result.received_at == NOW and result.seq is not None

    [stored] = storage.list_revisions(org_id, env.id)
    assert (stored.status, stored.seq, stored.region, stored.pushed_by) == (
        "current",
        result.seq,
        "north",
        member.device.id,
    )
    back = stored.to_envelope()
    assert back == env
    verify(member.device.public_key, back.signature, back.signing_bytes())
    head = storage.get_record(org_id, env.id)
    assert (head.head_revision, head.in_conflict, head.deleted) == (env.revision, False, False)


def test_duplicate_writes_nothing_and_repeats_the_receipt(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    member = Member(storage, org_id, "collector", None)
    batch = [member.envelope() for _ in range(3)]
    first = storage.push_records(member.device, batch, NOW)
    counts = {t: backend.count(t) for t in ("records", "record_heads", "changes")}

    for later in (NOW + timedelta(minutes=1), NOW + timedelta(days=30)):
        again = storage.push_records(member.device, batch, later)
        assert [r.status for r in again] == ["duplicate"] * 3
        for a, b in zip(first, again, strict=True):
            assert (a.seq, a.received_at, a.content_digest, a.current_revision) == (
                b.seq,
                b.received_at,
                b.content_digest,
                b.current_revision,
            )
        assert {t: backend.count(t) for t in counts} == counts


def test_reused_revision_is_rejected_never_overwritten(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    env = member.envelope(stats={"count": 1})
    storage.push_records(member.device, [env], NOW)
    forged = member.envelope(record_id=env.id, rev=env.revision, stats={"count": 2})
    [result] = storage.push_records(member.device, [forged], NOW)
    assert result.status == "rejected" and result.seq is None
    assert [e.code for e in result.errors] == ["revision_reused"]
    [stored] = storage.list_revisions(org_id, env.id)
    assert stored.stats == {"count": 1}


def test_edit_on_head_is_accepted_and_moves_the_head(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    v1 = member.envelope()
    v2 = member.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    v3 = member.envelope(record_id=v1.id, rev=revision(3), base=v2.revision)
    storage.push_records(member.device, [v1], NOW)
    results = storage.push_records(member.device, [v2, v3, v3], NOW)  # chain within one batch
    assert [r.status for r in results] == ["accepted", "accepted", "duplicate"]
    assert results[2].seq == results[1].seq and results[2].current_revision == v3.revision
    assert storage.get_record(org_id, v1.id).head_revision == v3.revision
    assert [r.status for r in storage.list_revisions(org_id, v1.id)] == ["current"] * 3


def test_record_first_seen_at_a_later_revision_is_accepted(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    env = member.envelope(rev=revision(2), base=revision(1))
    assert storage.push_records(member.device, [env], NOW)[0].status == "accepted"


def test_unknown_base_revision_is_a_conflict(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    v1 = member.envelope()
    storage.push_records(member.device, [v1], NOW)
    stray = member.envelope(record_id=v1.id, rev=revision(3), base=revision(2))
    [result] = storage.push_records(member.device, [stray], NOW)
    assert (result.status, result.current_revision) == ("conflict", v1.revision)


def test_tombstone(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    v1 = member.envelope()
    storage.push_records(member.device, [v1], NOW)
    gone = member.envelope(record_id=v1.id, rev=revision(2), base=v1.revision, deleted=True)
    [result] = storage.push_records(member.device, [gone], NOW)
    assert result.status == "accepted"
    assert storage.get_record(org_id, v1.id).deleted
    latest = record_changes(storage, member.device)[-1]
    assert (latest.key, latest.deleted) == (str(v1.id), True)
    assert latest.data.revision == gone.revision
    assert storage.list_revisions(org_id, v1.id)[-1].sealed is None


def test_record_ids_never_cross_organisations(storage: Storage, org_id: str) -> None:
    a = Member(storage, org_id, "admin", None)
    b_org = storage.create_organisation("Org B", NOW).id
    b = Member(storage, b_org, "admin", None)
    env = a.envelope()
    storage.push_records(a.device, [env], NOW)
    replay_by_b = b.envelope(record_id=env.id, rev=env.revision)
    for attempt in (replay_by_b, b.envelope(record_id=env.id, rev=revision(2), base=env.revision)):
        [result] = storage.push_records(b.device, [attempt], NOW)
        assert result.status == "rejected" and result.seq is None
        assert [e.code for e in result.errors] == ["record_id_taken"]
    with pytest.raises(NotFound):
        storage.get_record(b_org, env.id)
    with pytest.raises(NotFound):
        storage.list_revisions(b_org, env.id)
    assert all_changes(storage, b.device) == []
    assert storage.list_revisions(org_id, env.id)[0].content_digest == env.content_digest


def test_held_revisions_answer_only_for_records_the_device_may_read(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    bob = Member(storage, org_id, "collector", "north")
    office = Member(storage, org_id, "coordinator", None)
    stranger = Member(storage, storage.create_organisation("Org B", NOW).id, "admin", None)
    v1 = alice.envelope()
    v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision)
    bobs = bob.envelope()
    storage.push_records(alice.device, [v1, v2], NOW)
    storage.push_records(bob.device, [bobs], NOW)
    never = (uuid.uuid4(), revision())
    asked = [(v1.id, v1.revision), (v2.id, v2.revision), (bobs.id, bobs.revision), never]

    assert storage.held_revisions(alice.device, asked) == set(asked[:2])
    assert storage.held_revisions(bob.device, asked) == {asked[2]}
    assert storage.held_revisions(office.device, asked) == set(asked[:3])
    assert storage.held_revisions(stranger.device, asked) == set()
    # A regional office device: its region's records only, as `GET /v1/records/{id}`.
    south = Member(storage, org_id, "case_manager", "south")
    north = Member(storage, org_id, "coordinator", "north")
    assert storage.held_revisions(south.device, asked) == set()
    assert storage.held_revisions(north.device, asked) == set(asked[:3])
    assert storage.get_record(org_id, v1.id).region == "north"
    backend.raw(f"DELETE FROM records WHERE revision = '{v2.revision}'")  # lost behind its back
    assert storage.held_revisions(alice.device, asked) == {asked[0]}
