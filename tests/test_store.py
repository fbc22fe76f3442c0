"""The encrypted local store on a real SQLite file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import (
    RecordNotFound,
    Store,
    StoreError,
    StoreLocked,
    StoreWiped,
    ValidationFailed,
)
from sync.protocol import RecordEnvelope
from tests.conftest import CANARY, PASSPHRASE, Clock, attendance_values, screening_values


def test_create_refuses_weak_passphrases(store_path: Path) -> None:
    with pytest.raises(crypto.WeakPassphrase):
        Store.create(store_path, "123456")
    with pytest.raises(crypto.WeakPassphrase):
        Store.create(store_path, "short")
    Store.create(store_path, "123456", keystore_second_factor=True).close()


def test_wrong_passphrase_never_opens_the_store(store: Store, store_path: Path) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    store.close()
    reopened = Store(store_path)
    assert reopened.keyring.locked
    with pytest.raises(StoreLocked):
        reopened.records.get(record.id)
    for guess in ("correct horse battery stapl", "Correct horse battery staple", ""):
        with pytest.raises(crypto.WrongPassphrase):
            reopened.keyring.unlock(guess)
        assert reopened.keyring.locked
    reopened.keyring.unlock(PASSPHRASE)
    assert reopened.records.get(record.id).values["given_name"] == CANARY
    reopened.close()


def test_failed_unlocks_erase_the_key_by_policy(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE, max_failed_unlocks=3)
    record = store.records.create_final("victim_screening", screening_values())
    store.close()
    store = Store(store_path)
    for _ in range(2):
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase at all")
    with pytest.raises(StoreWiped):
        store.keyring.unlock("not the passphrase at all")
    # Even the right passphrase cannot open it now: the wrapped key is gone from the file.
    with pytest.raises(StoreWiped):
        store.keyring.unlock(PASSPHRASE)
    with pytest.raises(StoreLocked):
        store.records.get(record.id)
    store.close()
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("SELECT wrapped_key FROM keyring").fetchone() == (None,)


def test_a_successful_unlock_resets_the_failure_count(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE, max_failed_unlocks=3)
    store.close()
    store = Store(store_path)
    for _ in range(5):
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase at all")
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase either")
        store.keyring.unlock(PASSPHRASE)
    store.close()


def test_inactivity_locks_the_store(store_path: Path, clock: Clock) -> None:
    store = Store.create(store_path, PASSPHRASE, autolock_seconds=60, clock=clock)
    record = store.records.new_draft("victim_screening", {"case_code": "AB-1234"})
    clock.now += 59
    assert store.records.get(record.id).values["case_code"] == "AB-1234"
    clock.now += 59  # activity above postponed the lock
    assert not store.keyring.locked
    clock.now += 61
    assert store.keyring.locked
    with pytest.raises(StoreLocked):
        store.records.get(record.id)
    # Listing needs no key: the home screen can still count what waits.
    assert store.records.count(status="draft") == 1
    store.keyring.unlock(PASSPHRASE)
    assert store.records.get(record.id).values["case_code"] == "AB-1234"
    store.close()


def test_drafts_survive_a_restart(store: Store, store_path: Path) -> None:
    draft = store.records.new_draft("victim_screening", {"consent_record": "yes"})
    store.records.save_draft(
        draft.id, {"consent_record": "yes", "case_code": "half typed", "age_years": "abc"}
    )
    store.close()
    reopened = Store(store_path)
    reopened.keyring.unlock(PASSPHRASE)
    again = reopened.records.get(draft.id)
    assert again.status == "draft"
    assert again.values["case_code"] == "half typed"
    reopened.close()


def test_finalise_reports_every_error_and_keeps_the_draft(store: Store) -> None:
    draft = store.records.new_draft("victim_screening")
    values = {"consent_record": "yes", "case_code": "Zz", "given_name": CANARY}
    with pytest.raises(ValidationFailed) as failure:
        store.records.finalise(draft.id, values, lang="fr")
    fields = {e.field for e in failure.value.errors}
    assert {"consent_refer", "sex", "age_band", "nationality"} <= fields
    assert all(e.message for e in failure.value.errors)
    kept = store.records.get(draft.id)
    assert kept.status == "draft" and kept.values["given_name"] == CANARY


def test_finalise_then_edit_revisions(store: Store) -> None:
    draft = store.records.new_draft("victim_screening")
    final = store.records.finalise(draft.id, screening_values())
    assert final.status == "final"
    assert final.revision.startswith("1-")
    assert final.base_revision is None
    # The same content on the same base always gets the same revision name.
    again = store.records.save_draft(final.id, screening_values())
    assert again.revision == final.revision
    changed = store.records.save_draft(final.id, screening_values(case_notes="more"))
    assert changed.revision != final.revision


def test_flipped_ciphertext_byte_is_a_clear_integrity_error(store: Store, store_path: Path) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    with sqlite3.connect(store_path) as conn:
        blob = bytearray(conn.execute("SELECT fields FROM records").fetchone()[0])
        blob[len(blob) // 2] ^= 0x01
        conn.execute("UPDATE records SET fields = ?", [bytes(blob)])
    with pytest.raises(crypto.IntegrityError, match=record.id):
        store.records.get(record.id)


def test_ciphertext_is_bound_to_its_record(store: Store, store_path: Path) -> None:
    """Swapping two records' ciphertexts is detected, not silently accepted."""
    one = store.records.create_final("victim_screening", screening_values("Alpha"))
    two = store.records.create_final("victim_screening", screening_values("Bravo"))
    with sqlite3.connect(store_path) as conn:
        blob = conn.execute("SELECT fields FROM records WHERE id = ?", [one.id]).fetchone()[0]
        conn.execute("UPDATE records SET fields = ? WHERE id = ?", [blob, two.id])
    with pytest.raises(crypto.IntegrityError):
        store.records.get(two.id)


def test_statistical_fields_in_clear_sensitive_only_encrypted(
    store: Store, store_path: Path
) -> None:
    store.records.create_final("victim_screening", screening_values())
    with sqlite3.connect(store_path) as conn:
        stats = json.loads(conn.execute("SELECT stats FROM records").fetchone()[0])
    assert stats["sex"] == "female" and stats["age_band"] == "25_34"
    for secret_field in (
        "given_name",
        "case_code",
        "case_notes",
        "age_years",
        "identification_place",
    ):
        assert secret_field not in stats


def test_canary_never_on_disk(store: Store, store_path: Path, org_key: crypto.OrgKeyPair) -> None:
    store.outbox.set_recipients([org_key.recipient])
    draft = store.records.new_draft("victim_screening", {"given_name": CANARY})
    store.records.save_draft(draft.id, screening_values())
    store.records.finalise(draft.id)
    store.records.create_final("victim_screening", screening_values())
    store.records.create_final("training_attendance", attendance_values(participants=3))
    hits = _canary_hits(store_path.parent)
    store.close()
    hits += _canary_hits(store_path.parent)
    assert hits == []


def _canary_hits(folder: Path) -> list[str]:
    needles = [CANARY.encode(), CANARY.encode("utf-16-le"), CANARY.lower().encode()]
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]


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


def test_paging_lists_every_record_once_in_order(store: Store) -> None:
    ids = set()
    for index in range(120):
        status_values = screening_values(case_code=f"CASE-{index:04d}")
        ids.add(store.records.create_final("victim_screening", status_values).id)
    for index in range(30):
        store.records.new_draft("victim_screening", {"case_code": f"D-{index}"})
    seen: list[str] = []
    stamps: list[tuple[str, str]] = []
    after = None
    while True:
        page = store.records.page(status="final", limit=25, after=after)
        seen += [item.id for item in page.items]
        stamps += [(item.updated_at, item.id) for item in page.items]
        after = page.next_after
        if after is None:
            break
    assert len(seen) == 120 and set(seen) == ids
    assert stamps == sorted(stamps, reverse=True)
    assert store.records.count(status="final") == 120
    assert store.records.count(status="draft", form_id="victim_screening") == 30
    assert store.records.status_counts() == {"final": 120, "draft": 30}


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"status": "final"}, "records_by_status"),
        ({"form_id": "victim_screening", "status": "draft"}, "records_by_form"),
        ({}, "records_by_updated"),
    ],
)
def test_listing_uses_an_index(store: Store, filters: dict[str, str], index: str) -> None:
    """Lists page through an index, so 100,000 records list as fast as 10 (see bench/)."""
    where = " AND ".join(f"{k} = ?" for k in filters) or "1"
    plan = store.core.db.execute(
        f"EXPLAIN QUERY PLAN SELECT id FROM records WHERE {where}"
        " ORDER BY updated_at DESC, id DESC LIMIT 50",
        list(filters.values()),
    ).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert index in text and "TEMP B-TREE" not in text


def test_discard_only_new_drafts(store: Store) -> None:
    draft = store.records.new_draft("training_attendance")
    store.records.discard_draft(draft.id)
    with pytest.raises(RecordNotFound):
        store.records.get(draft.id)
    final = store.records.create_final("victim_screening", screening_values())
    with pytest.raises(StoreError):
        store.records.discard_draft(final.id)
    with pytest.raises(RecordNotFound):
        store.records.get(str(uuid.uuid4()))


def test_change_passphrase(store: Store, store_path: Path) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    store.keyring.change_passphrase(PASSPHRASE, "a much better passphrase")
    store.close()
    reopened = Store(store_path)
    with pytest.raises(crypto.WrongPassphrase):
        reopened.keyring.unlock(PASSPHRASE)
    reopened.keyring.unlock("a much better passphrase")
    assert reopened.records.get(record.id).values["given_name"] == CANARY
    reopened.close()


def test_wipe_leaves_nothing_readable(store: Store, store_path: Path) -> None:
    store.records.create_final("victim_screening", screening_values())
    store.keyring.set_secret("token", "secret-token-value")
    store.wipe()
    assert store.records.count() == 0
    with pytest.raises(StoreWiped):
        store.keyring.unlock(PASSPHRASE)
    store.close()
    assert _canary_hits(store_path.parent) == []


def test_secrets_are_encrypted(store: Store, store_path: Path) -> None:
    store.keyring.set_secret("token", "bearer-Zorblaxqua-token")
    assert store.keyring.secret("token") == "bearer-Zorblaxqua-token"
    assert _canary_hits(store_path.parent) == []


def test_metadata_is_recorded_by_the_app(store: Store) -> None:
    from fieldapp.forms.spec import FormSpec

    spec = FormSpec.model_validate(
        {
            "id": "visit",
            "version": "1",
            "title": {"en": "Visit"},
            "children": [
                {"name": "start", "type": "datetime", "metadata": "start"},
                {"name": "end", "type": "datetime", "metadata": "end"},
                {"name": "today", "type": "date", "metadata": "today"},
                {"name": "people", "type": "integer", "label": {"en": "People"}},
            ],
        }
    )
    store.forms.add(spec)
    draft = store.records.new_draft("visit")
    started = draft.values["start"]
    assert "end" not in draft.values and draft.values["today"] == started[:10]
    final = store.records.finalise(draft.id, {**draft.values, "people": 3})
    assert final.values["start"] == started
    assert final.values["end"] >= started


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
    assert _canary_hits(store_path.parent) == []  # the canary was only in the purged record


def test_migration_8_takes_the_servers_time_from_receipts_already_held(
    store_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    store = Store.create(store_path, PASSPHRASE)
    store.outbox.set_recipients([org_key.recipient])
    sent = store.records.create_final("victim_screening", screening_values())
    receipt = json.dumps({"seq": 4, "received_at": "2026-05-01T10:00:00Z"})
    store.outbox.record_outcome(sent.id, sent.revision, "sent", receipt=receipt)
    for column in ("received_at", "receipt_lost_at"):  # as a store made before migration 8
        store.core.db.execute(f"ALTER TABLE records DROP COLUMN {column}")
    store.core.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_receipt_times'")
    store.close()

    reopened = Store(store_path)
    try:
        [(taken,)] = reopened.core.db.execute("SELECT received_at FROM records").fetchall()
        assert taken == "2026-05-01T10:00:00.000000+00:00"
        reopened.keyring.unlock(PASSPHRASE)
        assert (
            reopened.outbox.purge_sent(older_than=timedelta(days=1)) == 1
        )  # months old, by the server
    finally:
        reopened.close()


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


def test_a_write_from_another_thread_survives_a_rolled_back_transaction(store: Store) -> None:
    """The sync thread's bookkeeping must not join (and vanish with) the UI thread's
    transaction on the shared connection."""
    inside, release = threading.Event(), threading.Event()

    def failing_batch() -> None:
        with contextlib.suppress(RuntimeError), store.batch():
            inside.set()
            release.wait(5)
            raise RuntimeError("rolled back")

    holder = threading.Thread(target=failing_batch)
    holder.start()
    assert inside.wait(5)
    writer = threading.Thread(
        target=lambda: (
            store.settings.set("cursor", "42"),
            store.roster.put_shared("reference", "regions", {"names": ["north"]}, 1),
        )
    )
    writer.start()
    writer.join(0.3)  # with the lock it waits for the transaction; without, it joins it
    release.set()
    holder.join(5)
    writer.join(5)
    assert store.settings.get("cursor") == "42"
    assert store.roster.shared("reference") == {"regions": {"names": ["north"]}}


def test_a_record_edited_after_the_outbox_was_read_is_not_queued(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    [(record_id, *_)] = store.outbox.pending()
    store.records.finalise(record.id, screening_values(case_notes="changed meanwhile"))
    assert store.outbox.mark_queued({record_id: record.revision}) == set()
    assert store.records.get(record.id).status == "final"  # its new revision goes next time
