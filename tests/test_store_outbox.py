"""The store's outbox on a real SQLite file: sealed and signed envelopes with their revision
and digest, the server's answers, the purge of receipted copies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import OutboxEntry, Store, StoreError
from sync.protocol import RecordEnvelope
from tests.conftest import CANARY, screening_values
from tests.test_store import canary_hits


def test_outbox_envelopes_are_sealed_and_signed(store: Store, org_key: crypto.OrgKeyPair) -> None:
    # Finalised before the organisation's key is known: sealed as soon as it is.
    early = store.records.create_final("victim_screening", screening_values())
    assert store.outbox.pending() == []
    assert store.outbox.set_recipients([org_key.recipient]) == 1
    late = store.records.create_final("victim_screening", screening_values("Bravo"))
    outbox = {entry.record_id: entry.envelope for entry in store.outbox.pending()}
    assert set(outbox) == {early.id, late.id}
    envelope = RecordEnvelope.model_validate_json(outbox[early.id])
    crypto.verify(store.keyring.public_key, envelope.signature, envelope.signing_bytes())
    assert CANARY not in envelope.model_dump_json()
    assert envelope.stats["sex"] == "female"
    assert envelope.sealed is not None
    opened = json.loads(
        org_key.open(envelope.sealed, crypto.record_aad(early.id, envelope.revision, "sealed"))
    )
    assert opened["given_name"] == CANARY
    assert "sex" not in opened


def test_outcomes_move_records_through_their_states(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    store.outbox.mark_queued({record.id: record.revision})
    assert store.records.get(record.id).status == "queued"
    # An outcome for a revision the record has moved past does not override the edit.
    assert not store.outbox.record_outcome(record.id, "9-" + "0" * 32, "rejected")
    assert store.records.get(record.id).status == "queued"
    problems = [{"field": "sex", "path": "sex", "code": "choice", "message": "bad"}]
    assert store.outbox.record_outcome(record.id, record.revision, "rejected", problems=problems)
    rejected = store.records.get(record.id)
    assert rejected.status == "rejected" and rejected.problems == problems
    fixed = store.records.finalise(record.id, screening_values(sex="male"))
    assert store.outbox.record_outcome(fixed.id, fixed.revision, "sent", receipt="{}")
    sent = store.records.get(fixed.id)
    assert sent.status == "sent" and sent.base_revision == fixed.revision
    # Editing a sent record starts the next generation, based on what the server has.
    edited = store.records.finalise(fixed.id, screening_values(sex="male", case_notes="follow-up"))
    assert edited.revision.startswith("2-") and edited.base_revision == fixed.revision


def test_an_edit_made_while_a_revision_is_in_flight_builds_on_it(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    store.outbox.mark_queued({record.id: record.revision})
    edit = store.records.save_draft(record.id, screening_values(case_notes="typed while sending"))
    assert edit.base_revision == record.revision
    assert not store.outbox.record_outcome(record.id, record.revision, "sent", receipt="{}")
    after = store.records.get(record.id)
    assert after.status == "draft" and after.revision == edit.revision
    assert after.base_revision == record.revision
    again = store.records.finalise(record.id)
    assert again.base_revision == record.revision and again.revision.startswith("2-")


def test_the_outbox_pages_through_its_own_index(store: Store) -> None:
    plan = store.core.db.execute(
        "EXPLAIN QUERY PLAN SELECT id, sealed FROM records INDEXED BY records_outbox"
        " WHERE status IN ('final', 'queued')"
        " AND sealed IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
        ["", 500],
    ).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert "records_outbox" in text and "TEMP B-TREE" not in text


def test_purge_erases_only_receipted_sent_records(
    store: Store, store_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    sent = store.records.create_final("victim_screening", screening_values())
    unsent = store.records.create_final("victim_screening", screening_values("Bravo"))
    no_receipt = store.records.create_final("victim_screening", screening_values("Charlie"))
    taken = store.settings.server_time()
    store.outbox.record_outcome(
        sent.id, sent.revision, "sent", receipt='{"seq": 1}', received_at=taken
    )
    store.outbox.record_outcome(no_receipt.id, no_receipt.revision, "sent", received_at=taken)
    assert store.outbox.purge_sent(older_than=timedelta(days=1)) == 0  # not old enough
    assert store.outbox.purge_sent(older_than=timedelta(0)) == 1
    purged = store.records.get(sent.id)
    assert purged.purged and purged.status == "sent"
    assert purged.values["sex"] == "female" and "given_name" not in purged.values
    assert store.records.get(unsent.id).values["given_name"] == "Bravo"
    assert store.records.get(no_receipt.id).values["given_name"] == "Charlie"
    with pytest.raises(StoreError, match="removed from this device"):
        store.records.save_draft(sent.id, screening_values())
    store.close()
    assert canary_hits(store_path.parent) == []  # the canary was only in the purged record


def test_a_record_edited_after_the_outbox_was_read_is_not_queued(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    [(record_id, *_)] = store.outbox.pending()
    store.records.finalise(record.id, screening_values(case_notes="changed meanwhile"))
    assert store.outbox.mark_queued({record_id: record.revision}) == set()
    assert store.records.get(record.id).status == "final"  # its new revision goes next time


def test_a_batch_is_marked_queued_but_for_the_records_it_must_not_send(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    """One batch, marked in one statement: waiting records (final, or queued by a push
    that got no answer) are marked; one edited since the outbox was read, one answered
    meanwhile and one no longer on the device are not, and stay as they were."""
    store.outbox.set_recipients([org_key.recipient])
    waiting, retried, edited, answered = (
        store.records.create_final("victim_screening", screening_values()) for _ in range(4)
    )
    store.outbox.mark_queued({retried.id: retried.revision})
    store.records.finalise(edited.id, screening_values(case_notes="changed meanwhile"))
    store.outbox.mark_queued({answered.id: answered.revision})
    store.outbox.record_outcome(answered.id, answered.revision, "sent", receipt="{}")
    batch = {r.id: r.revision for r in (waiting, retried, edited, answered)}
    batch["0" * 8 + "-0000-4000-8000-" + "0" * 12] = "1-" + "0" * 32

    assert store.outbox.mark_queued(batch) == {waiting.id, retried.id}
    statuses = {r.id: store.records.get(r.id).status for r in (waiting, retried, edited, answered)}
    assert statuses == {
        waiting.id: "queued",
        retried.id: "queued",
        edited.id: "final",
        answered.id: "sent",
    }
    assert store.outbox.mark_queued({}) == set()


def test_each_envelope_waits_with_its_revision_and_digest(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    """What a receipt must name is kept beside the envelope when it is signed: the sync
    client sends without parsing any envelope, and nothing outlives the envelope."""
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    withdrawn = store.records.create_final("victim_screening", screening_values("Bravo"))
    store.consent.withdraw(withdrawn.id)

    def described(entry: OutboxEntry) -> tuple[str | None, str | None]:
        envelope = RecordEnvelope.model_validate_json(entry.envelope)
        return envelope.revision, envelope.content_digest

    entries = store.outbox.pending()
    assert len(entries) == 2
    for entry in entries:
        assert (entry.revision, entry.content_digest) == described(entry)
    assert {entry.record_id: entry.revision for entry in entries} == {
        record.id: record.revision,
        withdrawn.id: store.records.get(withdrawn.id).revision,
    }

    store.records.save_draft(record.id, screening_values(case_notes="an edit"))  # not sent
    sent = store.records.get(withdrawn.id)
    taken = store.settings.server_time()
    assert store.outbox.record_outcome(
        sent.id, sent.revision, "sent", receipt="{}", received_at=taken
    )
    assert store.outbox.purge_sent(older_than=timedelta(0)) == 1  # its envelope goes
    rows = store.core.db.execute(
        "SELECT sealed, envelope_revision, envelope_digest, envelope_sha256 FROM records"
    ).fetchall()
    assert rows == [(None, None, None, None)] * 2


def test_an_envelope_damaged_on_the_device_is_told_apart_without_parsing_it(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    kept, damaged = (
        store.records.create_final("victim_screening", screening_values(name)) for name in "AB"
    )
    [(stored,)] = store.core.db.execute(
        "SELECT sealed FROM records WHERE id = ?", [damaged.id]
    ).fetchall()
    flipped = stored.replace('"deleted":false', '"deleted":true')  # still JSON, still parses
    store.core.db.execute("UPDATE records SET sealed = ? WHERE id = ?", [flipped, damaged.id])
    found = {entry.record_id: entry for entry in store.outbox.pending()}
    assert (found[damaged.id].revision, found[damaged.id].content_digest) == (None, None)
    assert found[kept.id].revision == kept.revision and found[kept.id].content_digest
