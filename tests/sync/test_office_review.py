"""The office's review reaches the collector's device through a real pull and is answered by
a resend: a coordinator's own enrolled device reviews through the office API (OfficeClient),
the collector's sync client pulls a `review` change and keeps it against the record; fixing
and sending the record again moves the review back to `received`, on the server and on the
device. A client older than the `review` kind skips it (its models, frozen in tests/fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import get_args

import httpx

from fieldapp.store import Store
from sync.client import OfficeClient, SyncClient, enrol
from sync.protocol import ReviewChange
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment

COMMENT = "The age band does not match the age: check and send again"


def test_a_review_reaches_the_device_and_a_resend_answers_it(
    device: Store,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    record = device.records.create_final("victim_screening", screening_values())
    with SyncClient(device, transport=app_transport) as collector:
        assert collector.sync().ok
        office_store = Store.create(tmp_path / "office" / "store.db", PASSPHRASE)
        enrol(office_store, app_url, deployment.code("coordinator"), transport=app_transport)
        with OfficeClient(office_store, transport=app_transport) as office:
            [listed] = list(office.records(form="victim_screening"))
            assert str(listed.id) == record.id and listed.review_state == "received"
            assert "given_name" not in listed.stats and listed.stats["sex"] == "female"
            result = office.review(record.id, "has_issues", COMMENT)
            assert result.state == "has_issues"

            report = collector.sync()
            assert report.ok and report.reviews == 1
            review = device.reviews.get(record.id)
            assert review is not None and review.needs_action
            assert (review.state, review.comment, review.revision) == (
                "has_issues", COMMENT, listed.revision,
            )  # fmt: skip
            assert [r.record_id for r in device.reviews.waiting()] == [record.id]

            fixed = device.records.finalise(record.id, {**record.values, "age_band": "25_34"})
            assert collector.sync().ok
            [again] = list(office.records(form="victim_screening"))
            assert again.review_state == "received" and again.revision != listed.revision
            assert collector.sync().ok  # the server's `received` comes back on the next pull
            review = device.reviews.get(record.id)
            assert review is not None and review.state == "received" and review.comment is None
            assert device.reviews.waiting() == []
            assert device.records.get(fixed.id).status == "sent"
        office_store.close()


def _old_change_models() -> ModuleType:
    """sync/protocol/changes.py as it was before the `review` kind, frozen as text (so that
    nothing imports or lints it as today's code), loaded as a module of its own."""
    source = (Path(__file__).parents[1] / "fixtures" / "changes_before_review.py.txt").read_text()
    module = ModuleType("changes_before_review")
    sys.modules[module.__name__] = module  # pydantic resolves the models' annotations here
    try:
        exec(compile(source, "changes_before_review.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def test_a_client_older_than_the_review_kind_skips_it() -> None:
    """The change models as they were before `review` existed (a frozen copy) read a page
    holding one as an UnknownChange (skipped, the cursor moving past it), not as an error."""
    old = _old_change_models()
    assert "review" not in get_args(old.ChangeKind)
    change = ReviewChange.model_validate(
        {
            "seq": 7,
            "kind": "review",
            "key": "5b7e4c1e-2f0b-4a8e-9a57-0a0c5f3b9d11",
            "data": {"reviewed_at": "2026-12-03T10:00:00+00:00", "revision": "1-" + "a" * 32,
                     "state": "has_issues", "comment": COMMENT},
        }
    )  # fmt: skip
    page = '{"changes": [' + change.model_dump_json() + '], "next_cursor": 7, "has_more": false}'
    parsed = old.LenientChangesPage.model_validate_json(page)
    assert [type(c).__name__ for c in parsed.changes] == ["UnknownChange"]
    assert parsed.next_cursor == 7
