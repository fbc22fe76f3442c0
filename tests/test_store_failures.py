"""The device's storage failing: a full disk, a damaged or missing store file, a bad setting.
Each is a named error with a message (never a traceback) and loses nothing: a full disk
leaves every record as it was and the store usable once space returns; a store file that
cannot be opened is never overwritten or deleted.

A full disk is real here: the store's connection may not grow its database by one page
(SQLite's PRAGMA max_page_count), so SQLite answers "database or disk is full" exactly as
when the disk fills up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import InvalidSetting, Outcome, StorageFull, Store, StoreUnreadable
from tests.conftest import PASSPHRASE, screening_values


@contextmanager
def storage_full(store: Store) -> Iterator[None]:
    """The store's database full until the block ends (VACUUM first uses up its free
    pages)."""
    db = store.core.db
    with store.core.lock:
        db.execute("VACUUM")
        before: int = db.execute("PRAGMA max_page_count").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA max_page_count = {before}")


NOTES = secrets.token_hex(10_000)  # 20,000 characters that do not compress: new pages
# Records enough that moving all their index entries (a new status) needs new index pages.
MANY = 300


def intact(store: Store) -> None:
    assert store.core.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def finals(store: Store, count: int) -> dict[str, str]:
    """`count` final records (sealed: recipients are set): id -> revision."""
    made = [
        store.records.create_final("victim_screening", screening_values()) for _ in range(count)
    ]
    return {record.id: record.revision for record in made}


@pytest.fixture
def sealing(store: Store, org_key: crypto.OrgKeyPair) -> Store:
    """The store with the organisation's key: finalised records go to the outbox."""
    store.outbox.set_recipients([org_key.recipient])
    return store


def test_a_draft_saved_on_a_full_device_stays_as_last_saved(store: Store) -> None:
    draft = store.records.new_draft("victim_screening", screening_values())
    with storage_full(store), pytest.raises(StorageFull) as full:
        store.records.save_draft(draft.id, screening_values(case_notes=NOTES))
    assert str(full.value).startswith("the device storage is full: nothing was changed")
    assert "Free some space" in str(full.value)
    assert store.records.get(draft.id).values == draft.values
    intact(store)
    saved = store.records.save_draft(draft.id, screening_values(case_notes=NOTES))
    assert saved.values["case_notes"] == NOTES


def test_a_record_finalised_on_a_full_device_stays_a_draft_out_of_the_outbox(
    sealing: Store,
) -> None:
    draft = sealing.records.new_draft("victim_screening", screening_values())
    with storage_full(sealing), pytest.raises(StorageFull):
        sealing.records.finalise(draft.id, screening_values(case_notes=NOTES))
    assert sealing.records.get(draft.id).status == "draft"
    assert sealing.records.get(draft.id).values == draft.values
    assert sealing.outbox.pending() == []
    intact(sealing)
    assert sealing.records.finalise(draft.id, screening_values(case_notes=NOTES)).status == "final"
    assert [entry.record_id for entry in sealing.outbox.pending()] == [draft.id]


def test_records_marked_queued_on_a_full_device_stay_final_in_the_outbox(sealing: Store) -> None:
    revisions = finals(sealing, MANY)
    outbox = sealing.outbox.pending(limit=1000)
    with storage_full(sealing), pytest.raises(StorageFull):
        sealing.outbox.mark_queued(revisions)
    assert sealing.records.status_counts() == {"final": MANY}
    assert sealing.outbox.pending(limit=1000) == outbox
    intact(sealing)
    assert sealing.outbox.mark_queued(revisions) == set(revisions)


def test_outcomes_written_on_a_full_device_leave_the_records_queued(sealing: Store) -> None:
    revisions = finals(sealing, MANY)
    sealing.outbox.mark_queued(revisions)
    receipt = "r" * 600  # a signed receipt with its proof is about this long
    outcomes = [Outcome(i, rev, "sent", receipt=receipt) for i, rev in revisions.items()]
    with storage_full(sealing), pytest.raises(StorageFull):
        sealing.outbox.record_outcomes(outcomes)
    assert sealing.records.status_counts() == {"queued": MANY}
    intact(sealing)
    assert sealing.outbox.record_outcomes(outcomes) == MANY
    assert sealing.records.status_counts() == {"sent": MANY}


def _damaged(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "truncated":
        store = Store.create(path, PASSPHRASE)
        for _ in range(30):
            store.records.create_final("victim_screening", screening_values())
        store.close()
        whole = path.read_bytes()
        path.write_bytes(whole[: len(whole) // 3])
    else:
        path.mkdir()


def _snapshot(path: Path) -> bytes | list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else path.read_bytes()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "directory"])
def test_a_store_file_that_cannot_be_opened_is_named_and_left_untouched(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "device" / STORE_FILENAME
    _damaged(kind, path)
    before = _snapshot(path)
    for attempt in (lambda: Store(path), lambda: Store.create(path, PASSPHRASE)):
        with pytest.raises(StoreUnreadable) as unreadable:
            attempt()
        assert str(unreadable.value).startswith(f"the store file {path} cannot be opened")
        assert "left exactly as it is" in str(unreadable.value)
    assert _snapshot(path) == before


@pytest.mark.parametrize("limit", [-1, 0, 101])
def test_a_failed_unlock_limit_out_of_range_is_refused_before_anything_is_made(
    store_path: Path, limit: int
) -> None:
    """-1 used to be accepted, and the first wrong passphrase then erased the key."""
    with pytest.raises(InvalidSetting, match=f"max_failed_unlocks must be .* not {limit}"):
        Store.create(store_path, PASSPHRASE, max_failed_unlocks=limit)
    assert not store_path.exists()
