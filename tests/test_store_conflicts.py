"""Conflicts in the store, on a real SQLite file: settling one here, the office resolving it."""

from __future__ import annotations

import uuid

import pytest

from fieldapp.store import RecordNotFound, Store, StoreError, ValidationFailed
from tests.conftest import CANARY, screening_values


def test_a_resolved_conflict_is_sent_and_a_record_not_in_conflict_is_left_alone(
    store: Store,
) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    assert not store.conflicts.resolved(record.id, record.revision)  # final: not in conflict
    assert store.records.get(record.id).status == "final"
    with pytest.raises(RecordNotFound):
        store.conflicts.resolved(str(uuid.uuid4()), record.revision)

    office = "2-" + "f" * 32
    assert store.outbox.record_outcome(
        record.id, record.revision, "conflict", server_revision=office
    )
    assert store.conflicts.resolved(record.id, office)  # the office kept the other version
    lost = store.records.get(record.id)
    assert (lost.status, lost.revision, lost.base_revision) == ("sent", record.revision, office)
    assert [p["code"] for p in lost.problems] == ["superseded"]
    assert not store.conflicts.resolved(record.id, office)  # settled once
    edit = store.records.finalise(record.id, lost.values)
    assert edit.base_revision == office and edit.revision.startswith("3-")


def test_settling_a_conflict_finalises_my_version_or_a_merge_on_the_servers_head(
    store: Store,
) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    with pytest.raises(StoreError, match="not in conflict"):
        store.conflicts.settle(record.id)
    office, newer = "2-" + "f" * 32, "3-" + "e" * 32
    store.outbox.record_outcome(record.id, record.revision, "conflict", server_revision=office)
    assert not store.conflicts.settled(record.id, record.revision)

    merged = store.conflicts.settle(record.id, {**record.values, "sex": "male"}, head=newer)

    assert (merged.status, merged.base_revision, merged.conflict_settled) == ("final", newer, True)
    assert merged.revision.startswith("4-") and merged.values["sex"] == "male"
    assert merged.values["given_name"] == CANARY
    assert store.conflicts.settled(record.id, merged.revision)
    assert not store.conflicts.settled(record.id, record.revision)


def test_a_merge_that_does_not_validate_stays_a_draft_on_the_servers_head(store: Store) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    office = "2-" + "f" * 32
    store.outbox.record_outcome(record.id, record.revision, "conflict", server_revision=office)

    with pytest.raises(ValidationFailed) as failed:
        store.conflicts.settle(record.id, {**record.values, "age_band": "35_44"})

    assert [e.field for e in failed.value.errors] == ["age_band"]
    draft = store.records.get(record.id)
    assert (draft.status, draft.base_revision, draft.values["age_band"]) == (
        "draft",
        office,
        "35_44",
    )


def test_the_office_resolving_a_conflict_settled_here_reaches_the_sent_copy(
    store: Store,
) -> None:
    def settled_and_sent() -> tuple[str, str]:
        record = store.records.create_final("victim_screening", screening_values())
        office = "2-" + uuid.uuid4().hex
        store.outbox.record_outcome(record.id, record.revision, "conflict", server_revision=office)
        mine = store.conflicts.settle(record.id)
        assert store.outbox.record_outcome(record.id, mine.revision, "sent", receipt="{}")
        assert store.records.get(record.id).conflict_settled
        return record.id, mine.revision

    kept_id, kept = settled_and_sent()
    assert store.conflicts.resolved(kept_id, kept, ["2-" + "a" * 32])  # the office kept mine
    copy = store.records.get(kept_id)
    assert (copy.status, copy.problems, copy.conflict_settled) == ("sent", [], False)

    lost_id, lost = settled_and_sent()
    other = "2-" + "b" * 32
    assert store.conflicts.resolved(lost_id, other, [lost])  # mine set aside for another
    copy = store.records.get(lost_id)
    assert (copy.status, copy.base_revision) == ("sent", other)
    assert [p["code"] for p in copy.problems] == ["superseded"]

    later_id, later = settled_and_sent()  # sent after the office decided: not set aside
    assert not store.conflicts.resolved(later_id, other, ["2-" + "c" * 32])
    copy = store.records.get(later_id)
    assert (copy.status, copy.revision, copy.problems) == ("sent", later, [])
    assert not copy.conflict_settled  # the office has the conflict in hand: nothing to wait for
