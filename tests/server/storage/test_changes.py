"""The storage contract of the change log: pages in seq order, who sees what, and readers
that never skip a change while writers push."""

from __future__ import annotations

import json
import threading

import pytest

from sync.protocol import ChangesPage
from sync.server.storage import (
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Conflict,
    Member,
    all_changes,
    revision,
)


def test_changes_page_in_seq_order(storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "coordinator", None)
    results = storage.push_records(member.device, [member.envelope() for _ in range(25)], NOW)
    seqs = [r.seq or 0 for r in results]
    assert seqs == sorted(seqs) and len(set(seqs)) == 25

    cursor, pages = 0, []
    while True:
        page = storage.changes_since(member.device, cursor, 10)
        pages.append([c.seq for c in page.changes])
        if page.changes:
            assert page.next_cursor == page.changes[-1].seq
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [s for p in pages for s in p] == seqs
    empty = storage.changes_since(member.device, cursor, 10)
    assert (empty.changes, empty.next_cursor, empty.has_more) == ([], cursor, False)
    with pytest.raises(ValueError, match="limit"):
        storage.changes_since(member.device, 0, 0)


def test_organisation_b_never_sees_organisation_a(storage: Storage, org_id: str) -> None:
    b_org = storage.create_organisation("Org B", NOW).id
    a_admin = Member(storage, org_id, "admin", None)
    a_collector = Member(storage, org_id, "collector", None)
    b_viewers = [Member(storage, b_org, role, None).device for role in ("admin", "collector")]
    storage.push_records(a_collector.device, [a_collector.envelope()], NOW)
    storage.put_shared(org_id, "reference", "districts", {"items": []}, None, NOW)
    storage.publish_form(org_id, "private", "1", {}, NOW)
    storage.revoke_device(a_collector.device.id, NOW)
    assert len(all_changes(storage, a_admin.device)) == 4
    for viewer in b_viewers:
        assert all_changes(storage, viewer) == []


def test_collectors_see_only_their_own_records(storage: Storage, org_id: str) -> None:
    north = Member(storage, org_id, "collector", "north")
    other_north = Member(storage, org_id, "collector", "north")
    coordinator = Member(storage, org_id, "coordinator", "south")
    env = north.envelope()
    storage.push_records(north.device, [env], NOW)
    assert [c.key for c in all_changes(storage, north.device)] == [str(env.id)]
    assert all_changes(storage, other_north.device) == []
    assert [c.key for c in all_changes(storage, coordinator.device)] == [str(env.id)]


def test_concurrent_writers_never_make_a_polling_reader_skip(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    """Writers push batches (each also editing one shared record) while a reader polls with
    its cursor; afterwards the reader has seen every change exactly once, in seq order."""
    # The record they contend for is the collector's; the others are the office, which may
    # edit it too.
    writers = [Member(storage, org_id, "collector", None)]
    writers += [Member(storage, org_id, "case_manager", None) for _ in range(3)]
    reader = Member(storage, org_id, "admin", None).device
    hot = writers[0].envelope()
    storage.push_records(writers[0].device, [hot], NOW)
    batches, batch_size = 12, 15
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def write(member: Member) -> None:
        try:
            for number in range(batches):
                batch = [member.envelope() for _ in range(batch_size)]
                if number % 4 == 0:  # now and then, contend for one record (locks serialise)
                    batch.append(
                        member.envelope(record_id=hot.id, rev=revision(2), base=hot.revision)
                    )
                results = storage.push_records(member.device, batch, NOW)
                assert {r.status for r in results} <= {"accepted", "conflict"}
        except BaseException as exc:
            failures.append(exc)

    def read() -> None:
        cursor = 0
        try:
            while True:
                finished = done.is_set()
                page = storage.changes_since(reader, cursor, 7)
                seen.extend(c.seq for c in page.changes)
                cursor = page.next_cursor
                if finished and not page.has_more:
                    return
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(m,)) for m in writers]
    polling = threading.Thread(target=read)
    polling.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    polling.join()
    assert failures == []

    hot_edits = len(writers) * len(range(0, batches, 4))
    expected = len(writers) * batches * batch_size + hot_edits + 1
    assert backend.count("records") == expected
    assert len(storage.list_revisions(org_id, hot.id)) == hot_edits + 1
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)
    assert seen == sorted(int(row[0]) for row in backend.raw("SELECT seq FROM changes"))


def test_the_spliced_page_is_the_page_the_models_give(storage: Storage, org_id: str) -> None:
    """`GET /v1/changes` answers the stored change JSON spliced into a page: the same content,
    value for value, as the `ChangesPage` the kinds' models make of it (what the route
    answered before), for records, a conflict and its resolution, a form and a revocation."""
    conflict = Conflict(storage, org_id)
    storage.resolve_conflict(
        org_id, conflict.v1.id, conflict.alice_v2.revision, NOW, actor="test", by=None
    )
    member = Member(storage, org_id, "collector", "north")
    storage.push_records(member.device, [member.envelope() for _ in range(3)], NOW)
    storage.publish_form(org_id, "spliced", "1", {}, NOW)
    storage.revoke_device(member.device.id, NOW)
    for viewer in (conflict.bob.device, conflict.alice.device):
        cursor, kinds = 0, set()
        while True:
            raw = storage.changes_since_json(viewer, cursor, 4)
            page = storage.changes_since(viewer, cursor, 4)
            assert json.loads(raw) == json.loads(page.model_dump_json())
            assert ChangesPage.model_validate_json(raw) == page
            kinds.update(change.kind for change in page.changes)
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert {"record", "form", "revocation"} <= kinds
