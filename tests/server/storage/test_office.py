"""The storage contract of the office: the records list (newest first, keyset pages, filters,
organisation and region scoping, statistics only) and reviews (kept, sent as `review`
changes to the devices that wrote the record, moved on by a new revision)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync.protocol import ReviewChange
from sync.server.storage import NotFound, OfficeFilter, Storage
from tests.server.conftest import Backend
from tests.server.storage._support import NOW, Member, all_changes, revision


def _all(storage: Storage, viewer: Member, query: OfficeFilter, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = storage.office_records(viewer.device, query, after, limit)
        pages.append([str(row.id) for row in page.rows])
        if page.next_after is None:
            return pages
        after = page.next_after


def test_newest_first_in_keyset_pages_with_statistics_only(storage: Storage, org_id: str) -> None:
    alice = Member(storage, org_id, "collector", "north")
    office = Member(storage, org_id, "coordinator", None)
    pushed = [alice.envelope(stats={"n": n}) for n in range(7)]
    for envelope in pushed:
        storage.push_records(alice.device, [envelope], NOW)
    pages = _all(storage, office, OfficeFilter(), 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [rid for p in pages for rid in p] == [str(e.id) for e in reversed(pushed)]
    [first] = storage.office_records(office.device, OfficeFilter(), None, 1).rows
    assert first.stats == {"n": 6} and first.region == "north"
    assert first.device_id == alice.device.id and first.review_state == "received"
    assert not hasattr(first, "sealed")
    # An edit moves the record to the top.
    edit = alice.envelope(record_id=pushed[0].id, rev=revision(2), base=pushed[0].revision,
                          stats={"n": 100})  # fmt: skip
    storage.push_records(alice.device, [edit], NOW)
    [top] = storage.office_records(office.device, OfficeFilter(), None, 1).rows
    assert (top.id, top.revision, top.stats) == (edit.id, edit.revision, {"n": 100})


def test_filters_and_scopes(storage: Storage, org_id: str) -> None:
    north = Member(storage, org_id, "collector", "north")
    south = Member(storage, org_id, "collector", "south")
    other_org = storage.create_organisation("Org B", NOW).id
    stranger = Member(storage, other_org, "collector", None)
    storage.push_records(north.device, [north.envelope(form_id="a") for _ in range(3)], NOW)
    storage.push_records(south.device, [south.envelope(form_id="b") for _ in range(2)], NOW)
    later = NOW + timedelta(days=3)
    storage.push_records(south.device, [south.envelope(form_id="a")], later)
    storage.push_records(stranger.device, [stranger.envelope(form_id="a")], NOW)

    office = Member(storage, org_id, "coordinator", None)
    regional = Member(storage, org_id, "coordinator", "north")

    def count(viewer: Member, **query: object) -> int:
        page = storage.office_records(viewer.device, OfficeFilter(**query), None, 100)  # type: ignore[arg-type]
        return len(page.rows)

    assert count(office) == 6
    assert count(office, form_id="a") == 4
    assert count(office, region="south") == 3
    assert count(office, device_id=north.device.id) == 3
    assert count(office, received_from=later) == 1
    assert count(office, received_to=later) == 5
    assert count(office, review_state="approved") == 0
    assert count(regional) == 3  # its region only
    assert count(regional, region="south") == 0
    assert count(Member(storage, other_org, "coordinator", None)) == 1


def test_a_review_reaches_the_writer_and_a_resend_moves_it_back(
    storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    bob = Member(storage, org_id, "collector", "north")
    office = Member(storage, org_id, "coordinator", None)
    record = alice.envelope()
    storage.push_records(alice.device, [record], NOW)

    stored = storage.review_record(office.device, record.id, "has_issues", "age missing", NOW)
    assert (stored.state, stored.revision, stored.comment) == (
        "has_issues", record.revision, "age missing",
    )  # fmt: skip
    reviews = [c for c in all_changes(storage, alice.device) if isinstance(c, ReviewChange)]
    assert [(c.key, c.data.state, c.data.comment) for c in reviews] == [
        (str(record.id), "has_issues", "age missing")
    ]
    assert not [c for c in all_changes(storage, bob.device) if isinstance(c, ReviewChange)]
    assert (
        storage.office_records(office.device, OfficeFilter(review_state="has_issues"), None, 10)
        .rows[0]
        .id
        == record.id
    )

    fixed = alice.envelope(record_id=record.id, rev=revision(2), base=record.revision)
    storage.push_records(alice.device, [fixed], NOW)
    [row] = storage.office_records(office.device, OfficeFilter(), None, 10).rows
    assert (row.review_state, row.revision) == ("received", fixed.revision)
    reviews = [c for c in all_changes(storage, alice.device) if isinstance(c, ReviewChange)]
    assert [(c.data.state, c.data.revision) for c in reviews][-1] == ("received", fixed.revision)

    storage.review_record(office.device, record.id, "approved", None, NOW)
    edit = alice.envelope(record_id=record.id, rev=revision(3), base=fixed.revision)
    storage.push_records(alice.device, [edit], NOW)
    [row] = storage.office_records(office.device, OfficeFilter(), None, 10).rows
    assert row.review_state == "edited"


def test_reviews_stay_in_their_organisation_and_region(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    record = alice.envelope()
    storage.push_records(alice.device, [record], NOW)
    other_org = storage.create_organisation("Org B", NOW).id
    for viewer in (
        Member(storage, other_org, "coordinator", None),
        Member(storage, org_id, "coordinator", "south"),
    ):
        with pytest.raises(NotFound):
            storage.review_record(viewer.device, record.id, "approved", None, NOW)
    with pytest.raises(NotFound):
        storage.review_record(alice.device, uuid.uuid4(), "approved", None, NOW)
    assert backend.count("record_reviews") == 0
    storage.review_record(
        Member(storage, org_id, "coordinator", "north").device, record.id, "rejected", "dup", NOW
    )
    assert backend.raw("SELECT state, comment FROM record_reviews") == [("rejected", "dup")]


def test_a_reviews_comment_reaches_no_other_regions_office(storage: Storage, org_id: str) -> None:
    """The office of the south reads the north's record changes (their statistics) but not
    the north's reviews, whose comment is free text; the whole organisation's office does."""
    alice = Member(storage, org_id, "collector", "north")
    record = alice.envelope()
    storage.push_records(alice.device, [record], NOW)
    north_office = Member(storage, org_id, "coordinator", "north")
    storage.review_record(north_office.device, record.id, "has_issues", "age missing", NOW)

    def reviews(member: Member) -> list[str | None]:
        changes = all_changes(storage, member.device)
        return [c.data.comment for c in changes if isinstance(c, ReviewChange)]

    assert reviews(Member(storage, org_id, "coordinator", "south")) == []
    assert reviews(Member(storage, org_id, "case_manager", "south")) == []
    assert reviews(north_office) == ["age missing"]
    assert reviews(Member(storage, org_id, "admin", None)) == ["age missing"]
    assert reviews(alice) == ["age missing"]


def test_sealed_parts_for_the_office_by_organisation_and_region(
    storage: Storage, org_id: str
) -> None:
    north = Member(storage, org_id, "collector", "north")
    first = north.envelope(sealed=b"\x01first")
    edit = north.envelope(record_id=first.id, rev=revision(2), base=first.revision,
                          sealed=b"\x01second")  # fmt: skip
    storage.push_records(north.device, [first], NOW)
    storage.push_records(north.device, [edit], NOW)
    manager = Member(storage, org_id, "case_manager", None)
    found = storage.office_sealed(manager.device, first.id, history=False)
    assert (found.head.head_revision, found.region) == (edit.revision, "north")
    assert [(r.revision, r.sealed) for r in found.revisions] == [(edit.revision, b"\x01second")]
    assert found.revisions[0].to_envelope() == edit  # exactly as signed
    every = storage.office_sealed(manager.device, first.id, history=True)
    assert [r.sealed for r in every.revisions] == [b"\x01first", b"\x01second"]
    assert storage.office_sealed(
        Member(storage, org_id, "case_manager", "north").device, first.id, history=False
    ).revisions
    other_org = storage.create_organisation("Org B", NOW).id
    for viewer in (
        Member(storage, org_id, "case_manager", "south"),
        Member(storage, other_org, "case_manager", None),
    ):
        with pytest.raises(NotFound):
            storage.office_sealed(viewer.device, first.id, history=False)
    with pytest.raises(NotFound):
        storage.office_sealed(manager.device, uuid.uuid4(), history=False)
