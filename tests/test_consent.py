"""Security check 19 on the device: a record without consent to record holds no identifying
field, and withdrawing consent erases the record's sensitive part from every byte of the
store's files (database, write-ahead log, shared memory) while its statistics still count."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import Record, Store, StoreError
from sync.protocol import RecordEnvelope
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.security.canary import scan_paths

IDENTIFYING = ("given_name", "family_name", "age_years", "identification_place", "case_notes")


def store_files(store_path: Path) -> list[Path]:
    """The database and its -wal and -shm companions, as far as they exist."""
    names = (store_path.name, store_path.name + "-wal", store_path.name + "-shm")
    return [store_path.with_name(name) for name in names if store_path.with_name(name).exists()]


class Traces:
    """Fragments of every ciphertext a record has had on this device: its encrypted fields
    (raw bytes in a blob column) and the sealed part of its outgoing envelopes (base64 in the
    envelope's JSON text), noted after each write."""

    def __init__(self, store: Store, record_id: str) -> None:
        self.store = store
        self.record_id = record_id
        self.fragments: list[bytes] = []
        self.note()

    def note(self) -> None:
        fields, envelope = self.store.core.db.execute(
            "SELECT fields, sealed FROM records WHERE id = ?", [self.record_id]
        ).fetchone()
        if fields is not None:
            self.fragments.append(bytes(fields)[16:48])
        if envelope is not None:
            sealed = RecordEnvelope.model_validate_json(envelope).sealed
            if sealed is not None:
                self.fragments.append(base64.b64encode(sealed)[100:160])

    def found_in(self, store_path: Path) -> list[str]:
        found = []
        for path in store_files(store_path):
            data = path.read_bytes()
            found += [f"{path.name}: {f[:8]!r}" for f in self.fragments if f in data]
        return found


def in_status(store: Store, status: str) -> tuple[Record, Traces]:
    """A victim record (the canary its name) brought to `status` the way sync would."""
    if status == "draft":
        record = store.records.new_draft("victim_screening", screening_values())
        return record, Traces(store, record.id)
    record = store.records.create_final("victim_screening", screening_values())
    traces = Traces(store, record.id)
    if status in ("queued", "sent", "edited_after_sent", "rejected", "conflict"):
        store.outbox.mark_queued({record.id: record.revision})
    if status in ("sent", "edited_after_sent"):
        store.outbox.record_outcome(record.id, record.revision, "sent", receipt='{"seq": 1}')
    if status == "edited_after_sent":
        store.records.save_draft(record.id, screening_values(case_notes=f"{CANARY} came back"))
        traces.note()
    if status == "rejected":
        problems = [{"field": "sex", "path": "sex", "code": "choice", "message": "bad"}]
        store.outbox.record_outcome(record.id, record.revision, "rejected", problems=problems)
    if status == "conflict":
        office = "2-" + "e" * 32
        store.outbox.record_outcome(record.id, record.revision, "conflict", server_revision=office)
    return store.records.get(record.id), traces


@pytest.mark.parametrize(
    "status", ["draft", "final", "queued", "sent", "edited_after_sent", "rejected", "conflict"]
)
def test_withdrawal_erases_the_sensitive_part_from_every_file_and_keeps_the_counts(
    store: Store, store_path: Path, org_key: crypto.OrgKeyPair, status: str
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    other = store.records.create_final("victim_screening", screening_values("Bravo"))
    before, traces = in_status(store, status)
    assert traces.found_in(store_path), "the scan must see the ciphertext while it is there"

    withdrawn = store.consent.withdraw(before.id)

    assert traces.found_in(store_path) == []
    hits, scanned = scan_paths(store_files(store_path), CANARY)
    assert hits == [] and scanned > 0
    assert withdrawn.consent_withdrawn
    assert not set(IDENTIFYING) & set(withdrawn.values)
    assert withdrawn.values["sex"] == "female" and withdrawn.values["age_band"] == "25_34"
    assert store.records.count(form_id="victim_screening") == 2  # still counted
    [listed] = [item for item in store.records.page().items if item.id == before.id]
    assert listed.consent_withdrawn and listed.stats["age_band"] == "25_34"
    assert store.records.get(other.id).values["given_name"] == "Bravo"  # only this record goes

    outbox = {entry.record_id: entry.envelope for entry in store.outbox.pending()}
    if status == "draft":  # never reached the server: nothing to tell it
        assert before.id not in outbox and withdrawn.status == "draft"
    else:
        envelope = RecordEnvelope.model_validate_json(outbox[before.id])
        crypto.verify(store.keyring.public_key, envelope.signature, envelope.signing_bytes())
        assert (envelope.consent_withdrawn, envelope.sealed) == (True, None)
        assert envelope.stats == listed.stats
        base = before.revision if before.status == "queued" else before.base_revision
        generation = int(base.split("-")[0]) + 1 if base else 1
        assert (envelope.revision, envelope.base_revision) == (withdrawn.revision, base)
        assert envelope.revision.startswith(f"{generation}-")
        assert envelope.revision != before.revision
        assert withdrawn.status == "final" and withdrawn.problems == []

    with pytest.raises(StoreError, match="consent was withdrawn"):
        store.records.save_draft(before.id, screening_values())
    with pytest.raises(StoreError, match="consent was withdrawn"):
        store.records.finalise(before.id, screening_values())
    again = store.consent.withdraw(before.id)  # nothing more to do
    assert (again.revision, again.updated_at) == (withdrawn.revision, withdrawn.updated_at)
    store.close()
    assert traces.found_in(store_path) == []
    assert scan_paths(store_files(store_path), CANARY)[0] == []


def test_a_copy_erases_itself_when_consent_was_withdrawn_elsewhere(
    store: Store, store_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record, traces = in_status(store, "edited_after_sent")
    withdrawal = "2-" + "a" * 32
    store.keyring.lock()  # a sync applies it, the app may well be locked

    assert store.consent.erase_withdrawn(record.id, withdrawal)

    assert traces.found_in(store_path) == []
    assert scan_paths(store_files(store_path), CANARY)[0] == []
    assert store.outbox.pending() == []  # the pending edit does not go either
    assert not store.consent.erase_withdrawn(record.id, withdrawal)  # applying it again: nothing
    store.keyring.unlock(PASSPHRASE)
    erased = store.records.get(record.id)
    assert (erased.status, erased.revision, erased.base_revision) == (
        "sent",
        withdrawal,
        withdrawal,
    )
    assert erased.consent_withdrawn and erased.values["sex"] == "female"
    assert not set(IDENTIFYING) & set(erased.values)
    with pytest.raises(StoreError, match="consent was withdrawn"):
        store.records.save_draft(record.id, screening_values())


def test_withdrawal_needs_the_passphrase_but_not_a_server(store: Store) -> None:
    """It signs a new revision; sealing is not needed, so no recipient has to be known."""
    record = store.records.create_final("victim_screening", screening_values())
    store.keyring.lock()
    with pytest.raises(StoreError, match="locked"):
        store.consent.withdraw(record.id)
    store.keyring.unlock(PASSPHRASE)
    assert store.consent.withdraw(record.id).consent_withdrawn
    [(record_id, _, _, envelope)] = store.outbox.pending()
    assert record_id == record.id and RecordEnvelope.model_validate_json(envelope).consent_withdrawn


def test_without_consent_to_record_no_identifying_field_is_stored_or_sealed(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    """The first half of check 19, through the store: identifying answers typed before the
    refusal are dropped when the record is finalised, from its values and its sealed part."""
    store.outbox.set_recipients([org_key.recipient])
    refused = screening_values(consent_record="no", consent_refer="no", consent_share="no")
    record = store.records.create_final("victim_screening", refused)

    assert not set(IDENTIFYING) & set(record.values)
    assert record.values["consent_record"] == "no" and record.values["sex"] == "female"
    [entry] = store.outbox.pending()
    envelope = RecordEnvelope.model_validate_json(entry.envelope)
    assert envelope.sealed is not None
    aad = crypto.record_aad(record.id, envelope.revision, "sealed")
    opened = json.loads(org_key.open(envelope.sealed, aad))
    assert not set(IDENTIFYING) & set(opened)
    assert CANARY not in json.dumps(opened)
    kept = store.records.create_final("victim_screening", screening_values())
    assert set(IDENTIFYING) <= set(kept.values)  # the same answers, with consent, are kept
