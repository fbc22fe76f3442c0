"""The review desk and the sent-back loop against the real server: a coordinator filters
incoming records, marks one "Has issues" (a comment required, said by its field), the
trainer's device syncs and shows the comment on that record, the trainer fixes and resends,
the office sees it received again and approves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.ui.state import AppState
from fieldapp.ui.state.office_review import REVIEW_PAGE
from tests.ui._office import OfficeWorld, office_world, screening_values


@pytest.fixture
def world(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[OfficeWorld]:
    with office_world(tmp_path, org_key) as made:
        yield made


def test_a_comment_goes_back_to_the_device_and_the_fix_comes_back(world: OfficeWorld) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    other = world.enrol("other", "trainer", "south")
    record = world.collect(trainer, "victim_screening", screening_values())
    world.collect(other, "victim_screening", screening_values())
    office = world.services(world.enrol("coordinator", "coordinator"))
    try:
        state = AppState(services=office)
        state.go("office")
        desk = state.office.review
        desk.load()
        assert len(desk.rows) == 2
        desk.set_filter("region", "north")
        desk.load()
        assert [str(r.id) for r in desk.rows] == [record.id]
        assert any(line.endswith(": Female") for line in desk.stats_lines(desk.rows[0]))
        desk.select(record.id)
        assert not desk.decide("has_issues")  # no comment: said by the comment's field
        assert desk.errors["comment"].startswith("Comment for the collector: required")
        desk.set_comment("The age looks wrong: check the birth date.")
        assert desk.decide("has_issues")
        assert desk.rows[0].review_state == "has_issues" and desk.selected is None
    finally:
        office.close()

    world.sync(trainer)
    phone = world.services(trainer)
    try:
        state = AppState(services=phone)
        assert state.sent_back == {record.id: "The age looks wrong: check the birth date."}
        state.open_record(record.id)
        assert state.form is not None
        assert state.form.sent_back == "The age looks wrong: check the birth date."
        fixed = {**phone.records.get(record.id).values, "sex": "male"}
        phone.records.save_draft(record.id, fixed)
        assert phone.records.sent_back_notes() == {record.id: state.form.sent_back}
        phone.records.finalise(record.id, fixed, "en")
        assert phone.records.sent_back_notes() == {}  # fixed: waits to go, no longer listed
    finally:
        phone.close()
    world.sync(trainer)

    office = world.services(world.data_dir("coordinator"))
    try:
        state = AppState(services=office)
        state.go("office")
        desk = state.office.review
        desk.set_filter("status", "received")
        desk.set_filter("region", "north")
        desk.load()
        assert [(str(r.id), r.stats.get("sex")) for r in desk.rows] == [(record.id, "male")]
        desk.select(record.id)
        assert desk.decide("approved")
        assert desk.rows[0].review_state == "approved"
    finally:
        office.close()
    world.sync(trainer)
    phone = world.services(trainer)
    try:
        assert phone.records.sent_back_notes() == {}
        review = phone.records.review(record.id)
        assert review is not None and review.state == "approved"
    finally:
        phone.close()


def test_filters_are_checked_and_pages_follow_the_cursor(world: OfficeWorld) -> None:
    trainer = world.enrol("trainer", "trainer", "north")
    with world.store(trainer) as store:
        for _ in range(REVIEW_PAGE + 3):
            store.records.create_final("victim_screening", screening_values())
    world.sync(trainer)
    office = world.services(world.enrol("coordinator", "coordinator"))
    try:
        desk = AppState(services=office).office.review
        desk.set_filter("since", "2026-13-01")
        desk.load()
        assert "since" in desk.errors and desk.rows == []
        desk.set_filter("since", "2026-01-01")
        desk.set_filter("until", "2025-12-31")
        desk.load()
        assert desk.errors["until"] == "Received until: must be on or after the first day."
        desk.set_filter("until", "")
        desk.load()
        assert len(desk.rows) == REVIEW_PAGE and desk.next_cursor is not None
        desk.more()
        assert len(desk.rows) == REVIEW_PAGE + 3 and desk.next_cursor is None
        assert len({r.id for r in desk.rows}) == REVIEW_PAGE + 3
        received = [r.received_at for r in desk.rows]
        assert received == sorted(received, reverse=True)
    finally:
        office.close()
