"""The storage contract of the change log: pages in seq order, who sees what, and readers
that never skip a change while writers push."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import pytest

from sync.protocol import ChangesPage
from sync.server.storage import (
    Device,
    Storage,
    changes,
)
from sync.server.storage.models import ORG_WIDE_ROLES
from sync.server.storage.sql import SqlStorage
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


def _quoted(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _by_the_rule(backend: Backend, viewer: Device) -> list[dict[str, Any]]:
    """Every change `viewer` may see, read with the visibility rule as one WHERE clause over
    the whole log (the query the pages had before keyset arms), as the page's JSON gives it."""
    region, no_region = _quoted(viewer.region), 1 if viewer.region is None else 0
    roster = f"(c.region = {region} OR (c.region IS NULL AND {no_region} = 1))"
    audience = (
        "EXISTS (SELECT 1 FROM change_audience a"
        f" WHERE a.device_id = {_quoted(viewer.id)} AND a.seq = c.seq)"
    )
    if viewer.role in ORG_WIDE_ROLES:
        rule = (
            f"(c.kind <> 'roster' OR {roster}) AND (c.kind <> 'review'"
            f" OR c.region = {region} OR {no_region} = 1 OR {audience})"
        )
    else:
        rule = (
            "((c.kind NOT IN ('record', 'review', 'roster')"
            f" AND (c.region IS NULL OR c.region = {region}))"
            f" OR (c.kind IN ('record', 'review') AND {audience})"
            f" OR (c.kind = 'roster' AND {roster}))"
        )
    rows = backend.raw(
        "SELECT seq, kind, key, deleted, data FROM changes c WHERE (c.org_id ="
        f" {_quoted(viewer.org_id)} OR c.org_id IS NULL) AND {rule} ORDER BY c.seq"
    )
    return [
        {"seq": seq, "kind": kind, "key": key, "deleted": bool(deleted), "data": json.loads(data)}
        for seq, kind, key, deleted, data in rows
    ]


def test_pages_hold_what_the_visibility_rule_gives_at_every_page_size(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    """Pages are built by the database from keyset arms (a device's own audience, the shared
    changes' partial index, the global changes): for every role and region, and pages of 1,
    2, 3 or 1000 changes, they hold exactly the changes the rule gives over the whole log, in
    seq order, content for content (tombstones too), each page's `next_cursor` its last seq
    and `has_more` false on the last page only. Kinds and arms interleave in the log."""
    north = Member(storage, org_id, "collector", "north")
    south = Member(storage, org_id, "collector", "south")
    trainer = Member(storage, org_id, "trainer", "north")
    office = Member(storage, org_id, "case_manager", None)
    regional = Member(storage, org_id, "coordinator", "south")
    other_org = storage.create_organisation("Org B", NOW).id
    stranger = Member(storage, other_org, "collector", "north")
    storage.publish_form(None, "global", "1", {}, NOW)
    first = north.envelope()
    storage.push_records(north.device, [first, north.envelope()], NOW)
    storage.put_shared(org_id, "reference", "districts", {"items": ["a'b"]}, None, NOW)
    storage.put_roster(trainer.device, [("entry-1", b"sealed for north")], NOW)
    storage.push_records(south.device, [south.envelope(), south.envelope()], NOW)
    storage.put_shared(org_id, "event", "training-south", {"venue": "x"}, "south", NOW)
    storage.push_records(
        north.device, [north.envelope(record_id=first.id, rev=revision(2), base=first.revision,
                                      deleted=True)], NOW,
    )  # fmt: skip
    storage.review_record(office.device, first.id, "has_issues", "a tombstone?", NOW)
    storage.publish_form(org_id, "own", "1", {}, NOW)
    storage.delete_shared(org_id, "reference", "districts", NOW)
    storage.push_records(stranger.device, [stranger.envelope()], NOW)
    storage.put_roster(trainer.device, [("entry-1", None)], NOW)
    storage.publish_form(None, "global", "2", {}, NOW)
    storage.revoke_device(south.device.id, NOW)
    storage.push_records(north.device, [north.envelope() for _ in range(3)], NOW)
    kinds = set()
    for member in (north, south, trainer, office, regional, stranger):
        viewer = storage.get_device(member.device.id)
        expected = _by_the_rule(backend, viewer)
        kinds.update((change["kind"], change["deleted"]) for change in expected)
        for limit in (1, 2, 3, 1000):
            cursor, seen = 0, []
            while True:
                page = json.loads(storage.changes_since_json(viewer, cursor, limit))
                ChangesPage.model_validate(page)
                assert len(page["changes"]) <= limit
                seen += page["changes"]
                if page["changes"]:
                    assert page["next_cursor"] == page["changes"][-1]["seq"]
                else:
                    assert page["next_cursor"] == cursor
                assert page["has_more"] == (len(seen) < len(expected)), (viewer.role, limit)
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
            assert seen == expected, (viewer.role, viewer.region, limit)
    assert {("record", True), ("record", False), ("review", False), ("roster", True),
            ("reference", True), ("event", False), ("form", False),
            ("revocation", False)} <= kinds  # fmt: skip


def _work_of_a_page(backend: Backend, viewer: Device, cursor: int, limit: int) -> int:
    """What the page query reads: PostgreSQL, the rows its scans of the change log and the
    audience return (EXPLAIN ANALYZE, planned as `since_json` plans it); SQLite, the virtual
    machine instructions it runs."""
    storage = backend.storage
    assert isinstance(storage, SqlStorage)
    with storage._read() as tx:
        sql, params = changes.page_query(tx, viewer, cursor, limit)
        if backend.name == "postgres":
            plan = tx.one("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)["QUERY PLAN"]
            return _rows_scanned(plan[0]["Plan"])
    conn = sqlite3.connect(backend.url.removeprefix("sqlite:///"))
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    try:
        conn.set_progress_handler(count, 1)
        conn.execute(sql, params).fetchall()
    finally:
        conn.close()
    return steps


def _rows_scanned(node: dict[str, Any]) -> int:
    own = 0
    if node.get("Relation Name") in {"changes", "change_audience"}:
        own = int(node["Actual Rows"]) * int(node["Actual Loops"])
    return own + sum(_rows_scanned(child) for child in node.get("Plans", []))


def test_a_page_reads_what_it_shows_however_long_the_log_after_it(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    """A collector's page is walked from its cursor and stops at its limit, on a database
    with no statistics (never analysed, as after a first big push): hundreds more changes
    after the cursor, its own and a teammate's in between, cost the same page no more. The
    planner without statistics used to sort every visible change after the cursor."""
    north = Member(storage, org_id, "collector", "north")
    south = Member(storage, org_id, "collector", "south")

    def push(member: Member, count: int) -> int:
        storage.push_records(member.device, [member.envelope() for _ in range(count)], NOW)
        return int(json.loads(storage.changes_since_json(north.device, 0, 1000))["next_cursor"])

    push(north, 6)
    push(south, 6)
    cursor = push(north, 6)
    later = push(north, 6)
    short = _work_of_a_page(backend, north.device, cursor, 5)
    push(south, 200)
    push(north, 200)
    long = _work_of_a_page(backend, north.device, later, 5)
    assert long <= short * 1.2, (short, long)
