"""The storage contract: every test runs on SQLite and on real PostgreSQL (marker `postgres`)."""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fieldapp.crypto import SigningKey, verify
from sync.protocol import RecordEnvelope, Role
from sync.server.storage import (
    AlreadyExists,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    Device,
    NotFound,
    NotRecordOwner,
    NotResolvable,
    StatsRow,
    Storage,
    open_storage,
)
from sync.server.storage._sql import SqlStorage
from sync.server.storage.base import StorageError
from tests.server.conftest import Backend

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def revision(generation: int = 1) -> str:
    return f"{generation}-{uuid.uuid4().hex}"


class Member:
    """An enrolled device with its own signing key, making signed envelopes like a phone."""

    def __init__(self, storage: Storage, org_id: str, role: Role, region: str | None) -> None:
        self.key = SigningKey.generate()
        code_hash = uuid.uuid4().hex
        storage.create_enrol_code(org_id, code_hash, role, region, NOW + timedelta(days=7), NOW)
        self.token_hash = uuid.uuid4().hex
        self.device: Device = storage.redeem_enrol_code(
            code_hash, f"dev-{uuid.uuid4().hex[:8]}", self.key.public_key, "", self.token_hash, NOW
        )

    def envelope(
        self,
        record_id: uuid.UUID | None = None,
        rev: str | None = None,
        base: str | None = None,
        stats: dict[str, Any] | None = None,
        deleted: bool = False,
        form_id: str = "attendance",
        sealed: bytes = b"\x00sealed-bytes\xff",
        withdrawn: bool = False,
    ) -> RecordEnvelope:
        unsigned = RecordEnvelope(
            id=record_id or uuid.uuid4(),
            form_id=form_id,
            form_version="1",
            revision=rev or revision(),
            base_revision=base,
            created_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
            updated_at=datetime(2026, 11, 28, 11, 15, 30, 123456, tzinfo=UTC),
            device_id=self.device.id,
            stats=stats if stats is not None else {"count": 3},
            sealed=None if deleted or withdrawn else sealed,
            deleted=deleted,
            consent_withdrawn=withdrawn,
            signature=b"\x00" * 64,
        )
        return unsigned.model_copy(update={"signature": self.key.sign(unsigned.signing_bytes())})


@pytest.fixture
def org_id(storage: Storage) -> str:
    return storage.create_organisation("Org A", NOW).id


def all_changes(storage: Storage, viewer: Device, cursor: int = 0) -> list[Any]:
    page = storage.changes_since(viewer, cursor, 1000)
    assert not page.has_more
    return page.changes


# -- lifecycle ------------------------------------------------------------------------------


def test_migrations_are_recorded_and_idempotent(backend: Backend) -> None:
    storage = backend.storage
    storage.migrate()
    second = open_storage(backend.url)
    try:
        second.migrate()
        assert second.applied_migrations() == [1, 2, 3, 4, 5]
    finally:
        second.close()
    assert storage.applied_migrations() == [1, 2, 3, 4, 5]
    assert backend.count("schema_migrations") == 5
    assert backend.count("change_counter") == 1


def test_open_storage_refuses_unknown_urls() -> None:
    with pytest.raises(StorageError):
        open_storage("mysql://localhost/db")
    with pytest.raises(StorageError):
        open_storage("sqlite:///")


def test_server_key_first_writer_wins(storage: Storage) -> None:
    assert storage.ensure_server_key("k1", b"wrapped-1", NOW) == ("k1", b"wrapped-1")
    assert storage.ensure_server_key("k2", b"wrapped-2", NOW) == ("k1", b"wrapped-1")


# -- organisations, enrolment, devices ------------------------------------------------------


def test_organisations(storage: Storage) -> None:
    a = storage.create_organisation("Org A", NOW)
    b = storage.create_organisation("Org B", NOW)
    assert storage.get_organisation(a.id) == a
    assert storage.organisation_by_name("Org B") == b
    assert [o.name for o in storage.list_organisations()] == ["Org A", "Org B"]
    assert a.created_at == NOW and a.recipients == []
    with pytest.raises(AlreadyExists):
        storage.create_organisation("Org A", NOW)
    with pytest.raises(NotFound):
        storage.get_organisation("nope")
    with pytest.raises(NotFound):
        storage.organisation_by_name("nope")
    recipients = [{"key_id": "x", "kem": "X25519", "public_key": "AAAA"}]
    assert storage.set_recipients(a.id, recipients).recipients == recipients
    assert storage.get_organisation(b.id).recipients == []
    with pytest.raises(NotFound):
        storage.set_recipients("nope", recipients)


def test_enrolment_lifecycle(storage: Storage, org_id: str) -> None:
    key = SigningKey.generate().public_key
    expires = NOW + timedelta(hours=1)
    code = storage.create_enrol_code(org_id, "code-hash", "collector", "north", expires, NOW)
    assert (code.role, code.region, code.device_id) == ("collector", "north", None)
    with pytest.raises(AlreadyExists):
        storage.create_enrol_code(org_id, "code-hash", "admin", None, expires, NOW)
    with pytest.raises(NotFound):
        storage.create_enrol_code("nope", "other-hash", "admin", None, expires, NOW)

    device = storage.redeem_enrol_code("code-hash", "phone-1", key, "Amina's phone", "tok-1", NOW)
    assert (device.org_id, device.role, device.region) == (org_id, "collector", "north")
    assert device.public_key == key and device.revoked_at is None
    assert storage.device_by_token("tok-1") == device

    # The answer was lost in transit: the same device and key redeem again, with a new token.
    again = storage.redeem_enrol_code("code-hash", "phone-1", key, "Amina's phone", "tok-2", NOW)
    assert again == device
    assert storage.device_by_token("tok-1") is None
    assert storage.device_by_token("tok-2") == device

    with pytest.raises(CodeUsed):
        storage.redeem_enrol_code("code-hash", "phone-2", key, "", "tok-3", NOW)
    with pytest.raises(CodeUsed):
        other_key = SigningKey.generate().public_key
        storage.redeem_enrol_code("code-hash", "phone-1", other_key, "", "tok-3", NOW)
    with pytest.raises(CodeExpired):  # even the same device, once the code has expired
        storage.redeem_enrol_code("code-hash", "phone-1", key, "", "tok-3", expires)
    with pytest.raises(CodeInvalid):
        storage.redeem_enrol_code("no-such-hash", "phone-3", key, "", "tok-3", NOW)
    assert storage.device_by_token("tok-3") is None

    storage.create_enrol_code(org_id, "second-code", "trainer", None, expires, NOW)
    with pytest.raises(AlreadyExists):  # a device id is enrolled once
        storage.redeem_enrol_code("second-code", "phone-1", key, "", "tok-4", NOW)
    assert storage.device_by_token("tok-4") is None

    assert storage.list_devices(org_id) == [device]
    assert storage.get_device("phone-1") == device
    with pytest.raises(NotFound):
        storage.get_device("nope")


def test_expired_code_never_creates_a_device(storage: Storage, org_id: str) -> None:
    storage.create_enrol_code(org_id, "old", "collector", None, NOW, NOW - timedelta(days=2))
    with pytest.raises(CodeExpired):
        storage.redeem_enrol_code("old", "phone-1", b"k" * 32, "", "tok", NOW)
    assert storage.list_devices(org_id) == []


def test_revoked_device_loses_its_token_and_its_code(storage: Storage, org_id: str) -> None:
    admin = Member(storage, org_id, "admin", None).device
    key = SigningKey.generate().public_key
    storage.create_enrol_code(org_id, "c", "collector", "north", NOW + timedelta(days=1), NOW)
    device = storage.redeem_enrol_code("c", "phone-1", key, "", "tok", NOW)
    revoked = storage.revoke_device("phone-1", NOW + timedelta(minutes=5))
    assert revoked.revoked_at == NOW + timedelta(minutes=5)
    assert storage.device_by_token("tok") is None
    assert storage.get_device(device.id).revoked_at is not None
    assert storage.revoke_device("phone-1", NOW + timedelta(days=1)) == revoked  # idempotent
    with pytest.raises(CodeUsed):
        storage.redeem_enrol_code("c", "phone-1", key, "", "tok-new", NOW)
    assert storage.device_by_token("tok-new") is None
    with pytest.raises(NotFound):
        storage.revoke_device("nope", NOW)
    revocations = [c for c in all_changes(storage, admin) if c.kind == "revocation"]
    assert [(c.key, c.data["device_id"]) for c in revocations] == [("phone-1", "phone-1")]


# -- forms and shared items -----------------------------------------------------------------


def test_forms_publish_shadow_and_isolation(storage: Storage, org_id: str) -> None:
    other = storage.create_organisation("Org B", NOW).id
    viewer_b = Member(storage, other, "admin", None).device
    spec = {"id": "attendance", "version": "1", "fields": []}
    global_form = storage.publish_form(None, "attendance", "1", spec, NOW)
    assert storage.publish_form(None, "attendance", "1", spec, NOW) == global_form
    with pytest.raises(AlreadyExists):
        storage.publish_form(None, "attendance", "1", {**spec, "fields": [1]}, NOW)
    own = storage.publish_form(org_id, "attendance", "1", {**spec, "title": "ours"}, NOW)
    storage.publish_form(org_id, "screening", "2", {"id": "screening"}, NOW)
    with pytest.raises(NotFound):
        storage.publish_form("nope", "x", "1", {}, NOW)

    assert storage.get_form(org_id, "attendance", "1") == own
    assert storage.get_form(other, "attendance", "1") == global_form
    with pytest.raises(NotFound):
        storage.get_form(other, "screening", "2")
    assert [(f.form_id, f.org_id) for f in storage.list_form_versions(org_id)] == [
        ("attendance", org_id),
        ("screening", org_id),
    ]
    assert storage.list_form_versions(other) == [global_form]
    assert storage.list_form_versions(org_id, "screening")[0].spec == {"id": "screening"}

    seen_by_b = all_changes(storage, viewer_b)
    assert [(c.kind, c.key, c.data["spec"]) for c in seen_by_b] == [("form", "attendance@1", spec)]


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


# -- push semantics -------------------------------------------------------------------------


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
            c for c in all_changes(storage, member.device, cursor[member]) if c.data["conflict"]
        ]
        assert [(c.key, c.data["siblings"]) for c in notices] == [
            (str(v1.id), [bob_v2.revision])
        ], member
        assert notices[0].data["head_revision"] == alice_v2.revision
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


class Conflict:
    """Alice's edit is the head; Bob's edit of the same v1 is its conflicting sibling: Bob is
    the office (a case manager without a region), the only other device that may edit it."""

    def __init__(self, storage: Storage, org_id: str) -> None:
        self.alice = Member(storage, org_id, "collector", "north")
        self.bob = Member(storage, org_id, "case_manager", None)
        self.v1 = self.alice.envelope()
        storage.push_records(self.alice.device, [self.v1], NOW)
        self.alice_v2 = self.alice.envelope(
            record_id=self.v1.id, rev=revision(2), base=self.v1.revision
        )
        self.bob_v2 = self.bob.envelope(
            record_id=self.v1.id, rev=revision(2), base=self.v1.revision
        )
        [accepted] = storage.push_records(self.alice.device, [self.alice_v2], NOW)
        [conflict] = storage.push_records(self.bob.device, [self.bob_v2], NOW)
        assert (accepted.status, conflict.status) == ("accepted", "conflict")


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
    [notice] = all_changes(storage, alice.device, cursor)
    assert {k: notice.data[k] for k in ("revision", "head_revision", "conflict", "siblings")} == {
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
        [notice] = all_changes(storage, member.device, cursor[member])
        assert notice.key == str(conflict.v1.id) and not notice.deleted
        assert {k: notice.data[k] for k in ("conflict", "resolved", "head_revision")} == {
            "conflict": False,
            "resolved": True,
            "head_revision": kept.revision,
        }
        assert (notice.data["siblings"], notice.data["superseded"]) == ([], [lost.revision])
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


def backend_state(storage: Storage, org_id: str, record_id: uuid.UUID) -> tuple[Any, ...]:
    return (
        storage.get_record(org_id, record_id),
        [(r.revision, r.status) for r in storage.list_revisions(org_id, record_id)],
        len(storage.list_audit()),
    )


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_2_keeps_every_stored_revision(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    """A database made by the v1 schema takes migration 2 with its records intact."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'v1.db'}"
        target = url.removeprefix("sqlite:///")
    else:
        url = target = request.getfixturevalue("pg_schema_url")
    unopened = open_storage(url)  # connects on first use only: nothing to close
    assert isinstance(unopened, SqlStorage)
    backend_class = type(unopened)
    # The v1 schema, with the owner columns (migration 5) today's code writes with each record;
    # migration 2 rebuilds `records`, which they leave alone.
    [owners] = [m for m in backend_class.migrations if m[0] == 5]
    v1_class = type("V1", (backend_class,), {"migrations": (backend_class.migrations[0], owners)})
    old = v1_class(target)
    old.migrate()
    org = old.create_organisation("Org", NOW).id
    conflict = Conflict(old, org)
    revisions = old.list_revisions(org, conflict.v1.id)
    old.close()

    upgraded = open_storage(url)
    try:
        upgraded.migrate()
        assert upgraded.applied_migrations() == [1, 2, 3, 4, 5]
        assert upgraded.list_revisions(org, conflict.v1.id) == revisions
        keep = conflict.bob_v2.revision
        head = upgraded.resolve_conflict(org, conflict.v1.id, keep, NOW, actor="admin:cli", by=None)
        assert head.head_revision == keep
        assert {r.status for r in upgraded.list_revisions(org, conflict.v1.id)} == {
            "current",
            "superseded",
        }
    finally:
        upgraded.close()


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
    latest = all_changes(storage, member.device)[-1]
    assert (latest.key, latest.deleted) == (str(v1.id), True)
    assert latest.data["revision"] == gone.revision
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


# -- consent withdrawal (security check 19) -------------------------------------------------


def sealed_rows(backend: Backend, record_id: uuid.UUID) -> int:
    """Stored revisions of the record that still hold sealed bytes, counted by raw SQL."""
    sql = f"SELECT COUNT(*) FROM records WHERE id = '{record_id}' AND sealed IS NOT NULL"
    return int(backend.raw(sql)[0][0])


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
        [notice] = all_changes(storage, member.device, cursor[member])
        assert (notice.key, notice.data["consent_withdrawn"]) == (str(record_id), True)
        assert (notice.data["head_revision"], notice.data["conflict"]) == (
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
    [notice] = [c for c in all_changes(storage, alice.device) if c.data.get("consent_withdrawn")]
    assert notice.data["head_revision"] == by_office.revision  # Alice's copy goes too


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


def test_erased_sealed_bytes_leave_the_sqlite_files(tmp_path: Any) -> None:
    """SQLite only: secure_delete and a truncated write-ahead log leave no erased byte in
    the database files, for a sealed part stored in its row or on overflow pages."""
    path = tmp_path / "server.db"
    storage = open_storage(f"sqlite:///{path}")
    try:
        storage.migrate()
        alice = Member(storage, storage.create_organisation("Org", NOW).id, "collector", None)
        small, large = secrets.token_bytes(300), secrets.token_bytes(9000)
        v1 = alice.envelope(sealed=small)
        v2 = alice.envelope(record_id=v1.id, rev=revision(2), base=v1.revision, sealed=large)
        storage.push_records(alice.device, [v1], NOW)
        storage.push_records(alice.device, [v2], NOW)
        files = [path, path.with_name("server.db-wal"), path.with_name("server.db-shm")]

        def traces() -> list[str]:
            fragments = [small[100:140], large[:40], large[4500:4540], large[-40:]]
            return [
                f"{file.name}@{index}"
                for file in files
                if file.exists()
                for index, fragment in enumerate(fragments)
                if fragment in file.read_bytes()
            ]

        assert len({trace.split("@")[1] for trace in traces()}) == 4  # the scan sees them
        withdrawal = alice.envelope(
            record_id=v1.id, rev=revision(3), base=v2.revision, withdrawn=True
        )
        storage.push_records(alice.device, [withdrawal], NOW)
        assert traces() == []
    finally:
        storage.close()
    assert traces() == []


# -- record ownership (issue 9) -------------------------------------------------------------


class Victim:
    """Alice's record, of region north: her first version and her edit of it, the head."""

    def __init__(self, storage: Storage, org_id: str) -> None:
        self.alice = Member(storage, org_id, "collector", "north")
        self.v1 = self.alice.envelope()
        self.v2 = self.alice.envelope(record_id=self.v1.id, rev=revision(2), base=self.v1.revision)
        storage.push_records(self.alice.device, [self.v1, self.v2], NOW)
        self.id = self.v1.id


def record_state(backend: Backend, storage: Storage, org_id: str, record_id: uuid.UUID) -> Any:
    """All a write to the record could change: its head, its revisions with their sealed
    bytes, its owner and the change log entries about it."""
    return (
        storage.get_record(org_id, record_id),
        [(r.revision, r.status, r.sealed) for r in storage.list_revisions(org_id, record_id)],
        backend.raw(
            "SELECT owner_device_id, owner_region, consent_withdrawn FROM record_heads"
            f" WHERE id = '{record_id}'"
        ),
        backend.raw(
            "SELECT c.seq, a.device_id FROM changes c LEFT JOIN change_audience a"
            f" ON a.seq = c.seq WHERE c.key = '{record_id}' ORDER BY 1, 2"
        ),
    )


def refusals(storage: Storage, org_id: str, member: Member) -> list[tuple[str, str | None]]:
    return [
        (e.outcome, e.record_id)
        for e in storage.list_audit(org_id)
        if e.device_id == member.device.id and e.outcome.startswith("refused")
    ]


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
    [notice] = [
        c for c in all_changes(storage, victim.alice.device) if c.data.get("consent_withdrawn")
    ]
    assert notice.data["head_revision"] == withdrawal.revision  # Alice's copy goes too
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


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_5_gives_each_stored_record_the_signer_of_its_first_revision(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    """A database as migration 4 left it (no owner anywhere) takes migration 5: each record
    belongs to its first revision's signer and region, whoever wrote its head since."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'v4.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    db = Backend(kind, url, open_storage(url), Exception)
    try:
        db.storage.migrate()
        org = db.storage.create_organisation("Org", NOW).id
        victim = Victim(db.storage, org)
        office = Member(db.storage, org, "admin", None)
        carol = Member(db.storage, org, "collector", "north")
        trainer = Member(db.storage, org, "trainer", "north")
        office_v3 = office.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
        office_own = office.envelope()
        db.storage.push_records(office.device, [office_v3, office_own], NOW)
        db.storage.put_roster(trainer.device, [("entry-1", b"trainer's")], NOW)
    finally:
        db.storage.close()
    for statement in (
        "ALTER TABLE record_heads DROP COLUMN owner_device_id",
        "ALTER TABLE record_heads DROP COLUMN owner_region",
        "ALTER TABLE shared_items DROP COLUMN owner_device_id",
        "DELETE FROM schema_migrations WHERE version = 5",
    ):
        db.raw(statement)

    upgraded = open_storage(url)
    try:
        upgraded.migrate()
        assert upgraded.applied_migrations() == [1, 2, 3, 4, 5]
        owners = db.raw("SELECT id, owner_device_id, owner_region FROM record_heads ORDER BY id")
        assert owners == sorted(
            [
                (str(victim.id), victim.alice.device.id, "north"),
                (str(office_own.id), office.device.id, None),
            ]
        )
        intrusion = carol.envelope(record_id=victim.id, rev=revision(4), base=office_v3.revision)
        assert [
            e.code for e in upgraded.push_records(carol.device, [intrusion], NOW)[0].errors
        ] == ["not_record_owner"]
        edit = victim.alice.envelope(record_id=victim.id, rev=revision(4), base=office_v3.revision)
        assert upgraded.push_records(victim.alice.device, [edit], NOW)[0].status == "accepted"
        # Who stored a roster entry was never recorded: the next device of its region to
        # write it becomes its owner.
        assert upgraded.put_roster(trainer.device, [("entry-1", b"again")], NOW) == ["stored"]
        assert upgraded.put_roster(carol.device, [("entry-1", b"carol's")], NOW) == ["refused"]
    finally:
        upgraded.close()


class PostgresFiles:
    """Reads what a PostgreSQL server on this machine keeps on disk for the test's schema:
    the files of `records` and of its TOAST table, and the write-ahead log written between
    two points. The test runs as root beside the server; elsewhere it skips."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.root = Path(self.one("SHOW data_directory"))
        if not os.access(self.root, os.R_OK):
            pytest.skip(f"PostgreSQL's data directory {self.root} is not readable here")

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def checkpoint(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def tables(self) -> bytes:
        """The files of `records` and of its TOAST table as they are on disk (after a
        checkpoint: until then, a page may be newer in shared memory only)."""
        self.checkpoint()
        paths = [
            self.one("SELECT pg_relation_filepath('records')"),
            self.one(
                "SELECT pg_relation_filepath(reltoastrelid) FROM pg_class"
                " WHERE oid = 'records'::regclass"
            ),
        ]
        files = [self.root / path for path in paths]
        files += [file.with_name(f"{file.name}.{n}") for file in files for n in range(1, 9)]
        return b"".join(file.read_bytes() for file in files if file.exists())

    def wal_position(self) -> str:
        return str(self.one("SELECT pg_current_wal_lsn()::text"))

    def wal_since(self, start: str) -> bytes:
        """The write-ahead log written from `start` up to now."""
        end = self.wal_position()
        segment = int(
            self.one("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
        )
        spans: list[bytes] = []
        position = start
        while self.one("SELECT %s::pg_lsn < %s::pg_lsn", (position, end)):
            name, offset = self.one(
                "SELECT row(file_name, file_offset) FROM pg_walfile_name_offset(%s::pg_lsn)",
                (position,),
            )
            stop = int(self.one("SELECT %s::pg_lsn - %s::pg_lsn", (end, position))) + int(offset)
            data = (self.root / "pg_wal" / name).read_bytes()
            spans.append(data[int(offset) : min(stop, segment)])
            position = self.one(
                "SELECT (%s::pg_lsn + (%s - %s))::text", (position, segment, int(offset))
            )
        return b"".join(spans)


@pytest.mark.postgres
def test_erased_sealed_bytes_leave_the_postgresql_files(pg_schema_url: str) -> None:
    """PostgreSQL: after a withdrawal the sealed bytes are in neither the files of `records`
    nor its TOAST table, for a sealed part stored in its row or out of line, nor in the
    write-ahead log written after the erasure."""
    disk = PostgresFiles(pg_schema_url)
    storage = open_storage(pg_schema_url)
    try:
        storage.migrate()
        alice = Member(storage, storage.create_organisation("Org", NOW).id, "collector", None)
        # Stored out of line (TOAST), and in the row: the last row of its page, so that rows
        # moved up when the page is compacted do not happen to cover all of it.
        large, small = secrets.token_bytes(9000), secrets.token_bytes(1200)
        toasted, inline = alice.envelope(sealed=large), alice.envelope(sealed=small)
        storage.push_records(alice.device, [toasted], NOW)
        storage.push_records(alice.device, [inline], NOW)
        fragments = [large[:64], large[4500:4564], large[-64:], small[:64], small[100:164]]

        def traces(data: bytes) -> list[int]:
            return [index for index, fragment in enumerate(fragments) if fragment in data]

        assert traces(disk.tables()) == [0, 1, 2, 3, 4]  # the scan sees them
        withdrawals = [
            alice.envelope(record_id=env.id, rev=revision(2), base=env.revision, withdrawn=True)
            for env in (toasted, inline)
        ]
        storage.push_records(alice.device, withdrawals, NOW)
        assert traces(disk.tables()) == []
        erased_at = disk.wal_position()
        storage.push_records(alice.device, [alice.envelope()], NOW)  # pages are written again
        assert traces(disk.wal_since(erased_at)) == []
    finally:
        storage.close()


# -- change log -----------------------------------------------------------------------------


def test_changes_page_in_seq_order(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "coordinator", None)
    results = storage.push_records(member.device, [member.envelope() for _ in range(25)], NOW)
    seqs = [r.seq or 0 for r in results]
    assert seqs == sorted(seqs) and len(set(seqs)) == 25

    cursor, pages = 0, []
    while True:
        page = storage.changes_since(member.device, cursor, 10)
        pages.append([c.seq for c in page.changes])
        if page.changes:
            assert page.next_cursor == page.changes[-1].seq
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [s for p in pages for s in p] == seqs
    empty = storage.changes_since(member.device, cursor, 10)
    assert (empty.changes, empty.next_cursor, empty.has_more) == ([], cursor, False)
    with pytest.raises(ValueError, match="limit"):
        storage.changes_since(member.device, 0, 0)


def test_organisation_b_never_sees_organisation_a(storage: Storage, org_id: str) -> None:
    b_org = storage.create_organisation("Org B", NOW).id
    a_admin = Member(storage, org_id, "admin", None)
    a_collector = Member(storage, org_id, "collector", None)
    b_viewers = [Member(storage, b_org, role, None).device for role in ("admin", "collector")]
    storage.push_records(a_collector.device, [a_collector.envelope()], NOW)
    storage.put_shared(org_id, "reference", "districts", {"items": []}, None, NOW)
    storage.publish_form(org_id, "private", "1", {}, NOW)
    storage.revoke_device(a_collector.device.id, NOW)
    assert len(all_changes(storage, a_admin.device)) == 4
    for viewer in b_viewers:
        assert all_changes(storage, viewer) == []


def test_collectors_see_only_their_own_records(storage: Storage, org_id: str) -> None:
    north = Member(storage, org_id, "collector", "north")
    other_north = Member(storage, org_id, "collector", "north")
    coordinator = Member(storage, org_id, "coordinator", "south")
    env = north.envelope()
    storage.push_records(north.device, [env], NOW)
    assert [c.key for c in all_changes(storage, north.device)] == [str(env.id)]
    assert all_changes(storage, other_north.device) == []
    assert [c.key for c in all_changes(storage, coordinator.device)] == [str(env.id)]


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
    backend.raw(f"DELETE FROM records WHERE revision = '{v2.revision}'")  # lost behind its back
    assert storage.held_revisions(alice.device, asked) == {asked[0]}


# -- audit and stats ------------------------------------------------------------------------


def test_audit_is_append_only(backend: Backend, storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    env = member.envelope()
    storage.push_records(member.device, [env, env], NOW)
    storage.append_audit("admin:cli", "revoke", "ok", NOW, org_id=org_id, device_id="x")
    storage.append_audit("admin:cli", "create_org", "ok", NOW)
    entries = storage.list_audit(org_id)
    assert [(e.action, e.outcome, e.record_id) for e in entries] == [
        ("push", "accepted", str(env.id)),
        ("push", "duplicate", str(env.id)),
        ("revoke", "ok", None),
    ]
    assert entries[0].actor == f"device:{member.device.id}" and entries[0].at == NOW
    assert len(storage.list_audit()) == 3 + 1
    assert storage.list_audit(after_id=entries[1].id, limit=1) == [entries[2]]

    for statement in ("UPDATE audit SET outcome = 'forged'", "DELETE FROM audit"):
        with pytest.raises(backend.db_error, match="append-only"):
            backend.raw(statement)
    assert backend.count("audit") == 4
    assert storage.list_audit(org_id)[0].outcome == "accepted"


def test_stats_count_records_by_org_form_and_status(storage: Storage, org_id: str) -> None:
    b_org = storage.create_organisation("Org B", NOW).id
    a, b = Member(storage, org_id, "collector", None), Member(storage, b_org, "collector", None)
    a_records = [a.envelope() for _ in range(3)] + [a.envelope(form_id="screening")]
    storage.push_records(a.device, a_records, NOW)
    first = a_records[0]
    storage.push_records(a.device, [
        a.envelope(record_id=first.id, rev=revision(2), base=first.revision),
        a.envelope(record_id=first.id, rev=revision(2), base=first.revision),  # conflict
        a.envelope(record_id=a_records[1].id, rev=revision(2), base=a_records[1].revision,
                   deleted=True),
    ], NOW)  # fmt: skip
    storage.push_records(b.device, [b.envelope(), b.envelope()], NOW)
    assert sorted(storage.stats(), key=lambda r: (r.org_id != org_id, r.form_id, r.status)) == [
        StatsRow(org_id, "attendance", "conflict", 1),
        StatsRow(org_id, "attendance", "current", 1),
        StatsRow(org_id, "attendance", "deleted", 1),
        StatsRow(org_id, "screening", "current", 1),
        StatsRow(b_org, "attendance", "current", 2),
    ]


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_writers_never_make_a_polling_reader_skip(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    """Writers push batches (each also editing one shared record) while a reader polls with
    its cursor; afterwards the reader has seen every change exactly once, in seq order."""
    # The record they contend for is the collector's; the others are the office, which may
    # edit it too.
    writers = [Member(storage, org_id, "collector", None)]
    writers += [Member(storage, org_id, "case_manager", None) for _ in range(3)]
    reader = Member(storage, org_id, "admin", None).device
    hot = writers[0].envelope()
    storage.push_records(writers[0].device, [hot], NOW)
    batches, batch_size = 12, 15
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def write(member: Member) -> None:
        try:
            for number in range(batches):
                batch = [member.envelope() for _ in range(batch_size)]
                if number % 4 == 0:  # now and then, contend for one record (locks serialise)
                    batch.append(
                        member.envelope(record_id=hot.id, rev=revision(2), base=hot.revision)
                    )
                results = storage.push_records(member.device, batch, NOW)
                assert {r.status for r in results} <= {"accepted", "conflict"}
        except BaseException as exc:
            failures.append(exc)

    def read() -> None:
        cursor = 0
        try:
            while True:
                finished = done.is_set()
                page = storage.changes_since(reader, cursor, 7)
                seen.extend(c.seq for c in page.changes)
                cursor = page.next_cursor
                if finished and not page.has_more:
                    return
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(m,)) for m in writers]
    polling = threading.Thread(target=read)
    polling.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    polling.join()
    assert failures == []

    hot_edits = len(writers) * len(range(0, batches, 4))
    expected = len(writers) * batches * batch_size + hot_edits + 1
    assert backend.count("records") == expected
    assert len(storage.list_revisions(org_id, hot.id)) == hot_edits + 1
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)
    assert seen == sorted(int(row[0]) for row in backend.raw("SELECT seq FROM changes"))
