"""The store's records on a real SQLite file: drafts, finalising, revisions, what is encrypted
and what stays in clear, lists and counts."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.forms.validate import Checked, check
from fieldapp.store import RecordNotFound, Store, StoreError, ValidationFailed
from tests.conftest import CANARY, PASSPHRASE, attendance_values, screening_values


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


def test_an_autosave_reads_its_record_once_and_returns_what_it_wrote(store: Store) -> None:
    """Every keystroke saves the draft: one read of the record, one write, and the record
    returned is the one written (never read back from disk)."""
    draft = store.records.new_draft("training_attendance", attendance_values(participants=2))
    typed = {**draft.values, "venue": "Court room 2", "participants": [{"full_name": "Dara"}]}
    statements: list[str] = []
    with store.core.db.tracer(lambda sql, _: statements.append(sql)):
        saved = store.records.save_draft(draft.id, typed)
    read, write = statements
    assert read == "SELECT * FROM records WHERE id = ?"
    assert write.startswith("UPDATE records SET ")
    assert saved == store.records.get(draft.id)
    assert saved.values["venue"] == "Court room 2" and saved.status == "draft"
    final = store.records.finalise(draft.id, attendance_values(participants=1))
    assert final == store.records.get(draft.id)


def test_a_draft_the_caller_already_checked_is_saved_as_judged_and_judged_again_to_finalise(
    store: Store,
) -> None:
    """The UI hands its own `check` of a keystroke to the store (not validated twice); the
    draft is saved as it was judged, and stays a draft: finalising checks it fully again,
    whatever the caller said."""
    draft = store.records.new_draft("victim_screening")
    spec = store.forms.get("victim_screening")
    typed = {"consent_record": "yes", "age_years": "15", "case_code": "Zz"}
    judged = check(spec, typed)
    assert not judged.ok  # missing answers and a bad case code: a draft all the same
    saved = store.records.save_draft(draft.id, judged)
    assert saved.status == "draft"
    assert saved.values == judged.values and saved.values["age_years"] == 15
    made_up = Checked(values={**judged.values, "case_code": "not a code"}, errors=[])
    assert store.records.save_draft(draft.id, made_up).status == "draft"
    with pytest.raises(ValidationFailed) as refused:
        store.records.finalise(draft.id)
    assert "case_code" in {e.field for e in refused.value.errors}
    assert store.records.get(draft.id).status == "draft"
