"""The office's reviews on the device: kept against the record (the latest by change seq, a
page pulled again harmless), what the UI's service reads, and gone with a wipe or with the
record's consent erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fieldapp.store import Store
from fieldapp.ui.services import Services
from tests.conftest import PASSPHRASE, screening_values

AT = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_the_latest_review_wins_and_a_replay_changes_nothing(store: Store) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    store.reviews.keep(record.id, "1-" + "a" * 32, "has_issues", "check the age", AT, seq=5)
    store.reviews.keep(record.id, "1-" + "a" * 32, "approved", None, AT, seq=3)  # older
    review = store.reviews.get(record.id)
    assert review is not None and (review.state, review.comment) == ("has_issues", "check the age")
    assert review.needs_action and review.reviewed_at == AT
    store.reviews.keep(record.id, "2-" + "b" * 32, "received", None, AT, seq=9)
    store.reviews.keep(record.id, "2-" + "b" * 32, "received", None, AT, seq=9)  # pulled again
    review = store.reviews.get(record.id)
    assert review is not None and review.state == "received" and not review.needs_action
    assert store.reviews.get("no-such-record") is None


def test_a_consent_erasure_and_a_wipe_take_the_comment_with_them(store: Store) -> None:
    first = store.records.create_final("victim_screening", screening_values())
    second = store.records.create_final("victim_screening", screening_values())
    for n, record in enumerate((first, second)):
        store.reviews.keep(record.id, "1-" + "a" * 32, "has_issues", "Sokha's age?", AT, seq=n)
    store.consent.withdraw(first.id)
    assert store.reviews.get(first.id) is None
    assert store.reviews.get(second.id) is not None
    store.wipe()
    assert store.core.db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0


def test_the_ui_service_reads_a_records_review(tmp_path: Path) -> None:
    services = Services(tmp_path / "device")
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    store = services.device.store
    record = store.records.create_final("victim_screening", screening_values())
    assert services.records.review(record.id) is None and services.records.sent_back() == []
    store.reviews.keep(record.id, "1-" + "a" * 32, "has_issues", "check the age", AT, seq=1)
    review = services.records.review(record.id)
    assert review is not None and review.comment == "check the age"
    assert [r.record_id for r in services.records.sent_back()] == [record.id]
