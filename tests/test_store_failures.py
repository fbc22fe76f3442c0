"""The device's storage failing: a full disk, a damaged or missing store file, a bad setting.
Each is a named error with a message (never a traceback) and loses nothing: a full disk
leaves every record as it was and the store usable once space returns; a store file that
cannot be opened is never overwritten or deleted.

A full disk is real here: the store's connection may not grow its database by one page
(SQLite's PRAGMA max_page_count), so SQLite answers "database or disk is full" exactly as
when the disk fills up."""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fieldapp import cli, crypto
from fieldapp.i18n import LANGUAGES, words
from fieldapp.office.records_io import import_records
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import InvalidSetting, Outcome, StorageFull, Store, StoreUnreadable
from fieldapp.ui.messages import MESSAGES
from fieldapp.ui.services import Services, SetupFailed
from fieldapp.ui.state import AppState
from tests.conftest import PASSPHRASE, Clock, screening_values

_CASES = ["case_code", "given_name", "sex", "consent_record", "consent_refer", "consent_share"]
_OTHERS = {
    "age_band": "18_24",
    "nationality": "KH",
    "identification_country": "TH",
    "identified_by": "ngo",
    "screening_outcome": "presumed_victim",
    "exploitation_types": "forced_labour",
}


def make_full(store: Store) -> int:
    """The store's database full from now on (VACUUM first uses up its free pages); returns
    the page limit it had, to give the space back."""
    with store.core.lock:
        store.core.db.execute("VACUUM")
        before: int = store.core.db.execute("PRAGMA max_page_count").fetchone()[0]
        pages = store.core.db.execute("PRAGMA page_count").fetchone()[0]
        store.core.db.execute(f"PRAGMA max_page_count = {pages}")
    return before


@contextmanager
def storage_full(store: Store) -> Iterator[None]:
    """The store's database full until the block ends."""
    before = make_full(store)
    try:
        yield
    finally:
        store.core.db.execute(f"PRAGMA max_page_count = {before}")


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


def write_cases(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*_CASES, *_OTHERS])
        for number in range(count):
            row = [f"KH-2026-{number:04d}", f"Person {number}", "female", "yes", "yes", "no"]
            writer.writerow([*row, *_OTHERS.values()])
    return path


@pytest.fixture
def sealing(store: Store, org_key: crypto.OrgKeyPair) -> Store:
    """The store with the organisation's key: finalised records go to the outbox."""
    store.outbox.set_recipients([org_key.recipient])
    return store


# -- a full disk ----------------------------------------------------------------------------


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
    assert [row[0] for row in sealing.outbox.pending()] == [draft.id]


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


def test_an_import_on_a_full_device_saves_nothing_and_saves_every_row_once_later(
    sealing: Store, tmp_path: Path
) -> None:
    cases = write_cases(tmp_path / "cases.csv", 40)
    with storage_full(sealing), pytest.raises(StorageFull):
        import_records(sealing, "victim_screening", cases)
    assert sealing.records.count() == 0
    intact(sealing)
    assert import_records(sealing, "victim_screening", cases).rows_saved == 40
    assert sealing.records.count() == 40


def test_the_cli_says_in_one_line_that_the_device_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Store.create(data / STORE_FILENAME, PASSPHRASE).close()
    opened: list[Store] = []

    class FullStore(Store):
        """The CLI's store, its database full from the moment it is opened."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pages = self.core.db.execute("PRAGMA page_count").fetchone()[0]
            self.core.db.execute(f"PRAGMA max_page_count = {pages}")
            opened.append(self)

    monkeypatch.setattr("fieldapp.store.Store", FullStore)
    monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)
    cases = write_cases(tmp_path / "cases.csv", 40)
    argv = ["--data-dir", str(data), "records", "import", str(cases), "--form", "victim_screening"]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: the device storage is full: nothing was changed")
    assert err.count("\n") == 1
    store = Store(data / STORE_FILENAME)
    assert store.records.count() == 0
    store.close()


# -- a store file that cannot be opened -------------------------------------------------------


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


KINDS = ["garbage", "truncated", "directory"]


@pytest.mark.parametrize("kind", KINDS)
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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", [["records", "list"], ["init"]], ids=" ".join)
def test_the_cli_says_the_store_file_cannot_be_opened_and_leaves_it(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    data = tmp_path / "data"
    path = data / STORE_FILENAME
    _damaged(kind, path)
    before = _snapshot(path)
    env = {**os.environ, "FIELDAPP_PASSPHRASE": PASSPHRASE, "FIELDAPP_DATA_DIR": str(data)}
    result = subprocess.run(
        [sys.executable, "-m", "fieldapp", *command],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the store file {path} cannot be opened")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert _snapshot(path) == before


def test_the_app_says_the_store_file_cannot_be_opened_and_never_replaces_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "device" / STORE_FILENAME
    _damaged("garbage", path)
    before = path.read_bytes()
    services = Services(tmp_path / "device")
    app = AppState(services=services)
    assert (services.device.state, app.screen) == ("unreadable", "unreadable")
    assert services.device.unreadable is not None and str(path) in services.device.unreadable
    with pytest.raises(SetupFailed) as refused:
        services.device.create(PASSPHRASE, PASSPHRASE)
    assert refused.value.key == "store_unreadable"
    assert not app.create_device(PASSPHRASE, PASSPHRASE)
    assert app.message_key == "store_unreadable"
    assert str(path) in app.text("store_unreadable", path=str(path))
    assert path.read_bytes() == before


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [-1, 0, 101])
def test_a_failed_unlock_limit_out_of_range_is_refused_before_anything_is_made(
    store_path: Path, limit: int
) -> None:
    """-1 used to be accepted, and the first wrong passphrase then erased the key."""
    with pytest.raises(InvalidSetting, match=f"max_failed_unlocks must be .* not {limit}"):
        Store.create(store_path, PASSPHRASE, max_failed_unlocks=limit)
    assert not store_path.exists()


# -- the app on a full device -----------------------------------------------------------------


def test_the_app_says_the_device_is_full_and_keeps_what_was_typed(
    tmp_path: Path, clock: Clock
) -> None:
    services = Services(tmp_path / "device", clock=clock)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    app = AppState(services=services)
    app.new_record("victim_screening")
    form = app.form
    assert form is not None
    for name in ("consent_record", "consent_refer", "consent_share"):
        form.set_value(name, "yes")
    form.set_value("given_name", "Dara")
    with storage_full(services.device.store):
        with pytest.raises(StorageFull):
            services.records.save_draft(form.record_id, {**form.values, "case_notes": NOTES})
        form.set_value("case_notes", NOTES)
        assert form.message_key == "storage_full"
        assert services.records.get(form.record_id).values.get("case_notes") is None
        assert not form.finalise()
        assert form.message_key == "storage_full"
        assert services.records.get(form.record_id).status == "draft"
    form.set_value("family_name", "Sokha")
    assert form.message_key is None
    assert services.records.get(form.record_id).values["case_notes"] == NOTES
    texts = {words(lang).entry(MESSAGES["storage_full"]) for lang in LANGUAGES}
    assert len(texts) == len(LANGUAGES) == 4
    services.close()
