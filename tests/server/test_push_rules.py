"""The push rule without a database: a table of (who pushes, what, onto which stored record)
and the verdict, then what an accepted or conflicting push writes. The storage contract
(tests/server/storage/) checks that both backends apply it inside their transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from sync.protocol import RecordEnvelope, Role
from sync.server.push_rules import RecordState, Verdict, decide_push
from sync.server.storage import Device, Owner

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
RECORD = uuid.UUID("6f1c1a0e-4c7e-4b39-9a53-1f0e7ad2a001")


def revision(generation: int, tag: str) -> str:
    return f"{generation}-{tag * 32}"


R1, R2, R3, SIBLING = revision(1, "a"), revision(2, "b"), revision(3, "c"), revision(2, "d")


def device(name: str, role: Role, region: str | None, org_id: str = "org-a") -> Device:
    return Device(name, org_id, role, region, b"k" * 32, "", NOW)


ALICE = device("alice", "collector", "north")  # the record's owner
BOB = device("bob", "collector", "north")  # a team mate who learnt the record's id
TRAINER = device("trainer", "trainer", "north")
COORDINATOR = device("coordinator", "coordinator", None)  # reads everything, writes its own
NORTH_OFFICE = device("north-office", "case_manager", "north")
SOUTH_OFFICE = device("south-office", "admin", "south")
WHOLE_OFFICE = device("whole-office", "admin", None)  # the office of every region
STRANGER = device("stranger", "admin", None, org_id="org-b")

# Alice's record of region north: her first version and her edit of it, the head.
STORED = RecordState(
    org_id="org-a",
    owner=Owner("org-a", ALICE.id, "north"),
    head_revision=R2,
    head_device_id=ALICE.id,
    form_id="attendance",
    deleted=False,
    in_conflict=False,
    siblings=(),
    withdrawn=False,
    participants=frozenset({ALICE.id}),
    digests={R1: "digest-1", R2: "digest-2"},
)
WITHDRAWN = replace(STORED, withdrawn=True)


def envelope(
    signer: Device,
    rev: str = R3,
    base: str | None = R2,
    *,
    withdrawn: bool = False,
    deleted: bool = False,
) -> RecordEnvelope:
    return RecordEnvelope(
        id=RECORD,
        form_id="attendance",
        form_version="1",
        revision=rev,
        base_revision=base,
        created_at=NOW,
        updated_at=NOW,
        device_id=signer.id,
        stats={"count": 3},
        sealed=None if withdrawn or deleted else b"sealed",
        deleted=deleted,
        consent_withdrawn=withdrawn,
        signature=b"\x00" * 64,
    )


@dataclass(frozen=True)
class Case:
    pusher: Device
    envelope: RecordEnvelope
    digest: str
    record: RecordState | None
    verdict: Verdict


CASES = {
    "a new record": Case(ALICE, envelope(ALICE, R1, None), "new", None, "accepted"),
    "a new record, relayed": Case(BOB, envelope(ALICE, R1, None), "new", None, "accepted"),
    "a new record, withdrawn before any sync": Case(
        ALICE, envelope(ALICE, R1, None, withdrawn=True), "new", None, "accepted"
    ),
    "the owner's edit on the head": Case(ALICE, envelope(ALICE), "d3", STORED, "accepted"),
    "the owner's tombstone": Case(ALICE, envelope(ALICE, deleted=True), "d3", STORED, "accepted"),
    "the owner's stale edit": Case(ALICE, envelope(ALICE, base=R1), "d3", STORED, "conflict"),
    "an edit on an unknown base": Case(
        ALICE, envelope(ALICE, base=revision(2, "e")), "d3", STORED, "conflict"
    ),
    "the owner's first version again": Case(
        ALICE, envelope(ALICE, R1, None), "digest-1", STORED, "duplicate"
    ),
    "a stored version relayed by a team mate": Case(
        BOB, envelope(ALICE, R2, R1), "digest-2", STORED, "duplicate"
    ),
    "a stored revision with other content": Case(
        ALICE, envelope(ALICE, R2, R1), "forged", STORED, "revision_reused"
    ),
    "another organisation's record id": Case(
        STRANGER, envelope(STRANGER), "d3", STORED, "record_id_taken"
    ),
    "another organisation replaying a stored revision": Case(
        STRANGER, envelope(ALICE, R2, R1), "digest-2", STORED, "record_id_taken"
    ),
    "a team mate's edit on the head": Case(BOB, envelope(BOB), "d3", STORED, "not_record_owner"),
    "a team mate's version with no base": Case(
        BOB, envelope(BOB, revision(1, "f"), None), "d1", STORED, "not_record_owner"
    ),
    "a team mate's withdrawal": Case(
        BOB, envelope(BOB, withdrawn=True), "d3", STORED, "not_record_owner"
    ),
    "a trainer of the region": Case(TRAINER, envelope(TRAINER), "d3", STORED, "not_record_owner"),
    "a coordinator": Case(COORDINATOR, envelope(COORDINATOR), "d3", STORED, "not_record_owner"),
    "the office of another region": Case(
        SOUTH_OFFICE, envelope(SOUTH_OFFICE, withdrawn=True), "d3", STORED, "not_record_owner"
    ),
    "the office of the region, on the head": Case(
        NORTH_OFFICE, envelope(NORTH_OFFICE), "d3", STORED, "accepted"
    ),
    "the office of every region, stale": Case(
        WHOLE_OFFICE, envelope(WHOLE_OFFICE, base=R1), "d3", STORED, "conflict"
    ),
    "the office's withdrawal": Case(
        WHOLE_OFFICE, envelope(WHOLE_OFFICE, withdrawn=True), "d3", STORED, "accepted"
    ),
    "sealed content after a withdrawal": Case(
        ALICE, envelope(ALICE), "d3", WITHDRAWN, "consent_withdrawn"
    ),
    "a team mate after a withdrawal": Case(BOB, envelope(BOB), "d3", WITHDRAWN, "not_record_owner"),
    "another withdrawal after a withdrawal": Case(
        ALICE, envelope(ALICE, base=R1, withdrawn=True), "d3", WITHDRAWN, "accepted"
    ),
    "a replay after a withdrawal": Case(
        ALICE, envelope(ALICE, R2, R1), "digest-2", WITHDRAWN, "duplicate"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_verdict(case: Case) -> None:
    decision = decide_push(case.pusher, case.envelope, case.digest, case.record)
    assert decision.verdict == case.verdict
    assert decision.stores == (case.verdict in ("accepted", "conflict"))
    refused = decision.status == "rejected"
    assert refused == (case.verdict not in ("accepted", "conflict", "duplicate"))
    if refused:
        assert decision.error is not None and decision.error.code == case.verdict
        assert (decision.record, decision.change, decision.audience) == (None, None, frozenset())
    else:
        assert decision.error is None
    if case.verdict == "duplicate":
        assert decision.record == case.record  # nothing changes, the stored receipt again


@pytest.mark.parametrize(
    ("verdict", "field", "audited"),
    [
        ("revision_reused", "revision", "rejected"),
        ("record_id_taken", "revision", "rejected"),
        ("consent_withdrawn", "sealed", "rejected"),
        ("not_record_owner", "id", "refused:not_record_owner"),
    ],
)
def test_a_refusal_names_its_field_and_is_audited_as_such(
    verdict: Verdict, field: str, audited: str
) -> None:
    case = next(c for c in CASES.values() if c.verdict == verdict)
    decision = decide_push(case.pusher, case.envelope, case.digest, case.record)
    assert decision.error is not None
    assert (decision.error.field, decision.error.path) == (field, field)
    assert decision.audit_outcome == audited


def test_a_refused_owner_is_told_what_it_asked_and_who_may() -> None:
    edit = decide_push(BOB, envelope(BOB), "d3", STORED)
    withdrawal = decide_push(BOB, envelope(BOB, withdrawn=True), "d3", STORED)
    assert edit.error is not None and withdrawal.error is not None
    assert "may store a version of it" in edit.error.message
    assert "may withdraw its consent" in withdrawal.error.message
    assert "admin or case manager of the record's region" in edit.error.message


def test_a_new_record_belongs_to_its_signer_in_the_pushers_region() -> None:
    relay = device("relay", "collector", "south")
    decision = decide_push(relay, envelope(ALICE, R1, None), "new", None)
    assert decision.record is not None and decision.change is not None
    assert decision.record.owner == Owner("org-a", ALICE.id, "south")
    assert (decision.record.head_revision, decision.record.head_device_id) == (R1, ALICE.id)
    assert decision.record.participants == {ALICE.id, relay.id}
    assert decision.record.digests == {R1: "new"}
    assert decision.audience == {ALICE.id, relay.id}
    assert not decision.erases
    assert decision.change.model_dump(mode="json") == {  # as the change log sends it
        "base_revision": None,
        "conflict": False,
        "device_id": ALICE.id,
        "form_id": "attendance",
        "form_version": "1",
        "head_revision": R1,
        "revision": R1,
        "siblings": [],
    }


def test_an_accepted_edit_moves_the_head_and_keeps_the_owner() -> None:
    decision = decide_push(NORTH_OFFICE, envelope(NORTH_OFFICE, deleted=True), "d3", STORED)
    after = decision.record
    assert after is not None and decision.change is not None
    assert after.owner == STORED.owner
    assert (after.head_revision, after.head_device_id, after.deleted) == (R3, NORTH_OFFICE.id, True)
    assert after.digests == {**STORED.digests, R3: "d3"}
    assert after.participants == {ALICE.id, NORTH_OFFICE.id}
    assert decision.audience == {NORTH_OFFICE.id}  # the owner learns of it only by reading
    assert (decision.change.head_revision, decision.change.conflict) == (R3, False)


def test_a_conflict_keeps_the_head_and_tells_its_author() -> None:
    decision = decide_push(WHOLE_OFFICE, envelope(WHOLE_OFFICE, base=R1), "d3", STORED)
    after = decision.record
    assert after is not None and decision.change is not None
    assert (after.head_revision, after.head_device_id) == (R2, ALICE.id)
    assert (after.in_conflict, after.siblings) == (True, (R3,))
    assert decision.audience == {WHOLE_OFFICE.id, ALICE.id}
    change = decision.change
    assert (change.revision, change.head_revision, change.siblings, change.conflict) == (
        R3,
        R2,
        (R3,),
        True,
    )


def test_a_withdrawal_settles_the_conflict_and_reaches_every_copy() -> None:
    in_conflict = replace(
        STORED,
        in_conflict=True,
        siblings=(SIBLING,),
        participants=frozenset({ALICE.id, WHOLE_OFFICE.id, "relay"}),
        digests={**STORED.digests, SIBLING: "digest-s"},
    )
    decision = decide_push(ALICE, envelope(ALICE, base=R1, withdrawn=True), "d3", in_conflict)
    after = decision.record
    assert decision.verdict == "accepted" and decision.erases
    assert after is not None and decision.change is not None
    assert (after.head_revision, after.withdrawn, after.in_conflict, after.siblings) == (
        R3,
        True,
        False,
        (),
    )
    assert decision.audience == {ALICE.id, WHOLE_OFFICE.id, "relay"}
    assert decision.change.consent_withdrawn and not decision.change.conflict


def test_the_rule_reads_what_it_is_given_and_changes_none_of_it() -> None:
    before = replace(STORED, digests=dict(STORED.digests))
    for case in CASES.values():
        decide_push(case.pusher, case.envelope, case.digest, case.record)
    assert before == STORED
