"""The store's migrations on sqlite-utils' `Migrations`: a store made before them (a copy of
tests/fixtures/store-m008.db, made by the earlier code, see tests/fixtures/README.md) opens with
nothing applied twice and nothing lost, and each outgoing envelope gets its revision and digest
in columns of their own."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldapp import crypto
from fieldapp.store import Record, Store, TeamKey
from fieldapp.store._migrations import STORE_MIGRATIONS
from sync.protocol import RecordEnvelope
from tests.conftest import PASSPHRASE, screening_values

FIXTURE = Path(__file__).parent / "fixtures" / "store-m008.db"
LEGACY_STEPS = [
    "m001_initial",
    "m002_outbox_index",
    "m003_shared_items",
    "m004_purged_records",
    "m005_team_roster",
    "m006_consent_withdrawn",
    "m007_conflict_settled",
    "m008_receipt_times",
]

Snapshot = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "device" / "fieldapp.db"
    path.parent.mkdir()
    shutil.copyfile(FIXTURE, path)
    return path


def snapshot(path: Path, columns: Snapshot | None = None) -> Snapshot:
    """Every table's columns and rows, read with plain sqlite3 (with `columns`: only the
    tables and columns named there)."""
    with closing(sqlite3.connect(path)) as conn:
        if columns is None:
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            names = {table: [] for (table,) in tables}
        else:
            names = {table: listed for table, (listed, _) in columns.items()}
        result: Snapshot = {}
        for table, wanted in names.items():
            cursor = conn.execute(f"SELECT {', '.join(wanted) or '*'} FROM {table}")
            header = [column[0] for column in cursor.description]
            result[table] = (header, sorted(cursor.fetchall(), key=repr))
        return result


def test_a_store_made_before_the_migration_set_opens_with_nothing_applied_twice_or_lost(
    old_store: Path,
) -> None:
    before = snapshot(old_store)
    legacy = before.pop("_migrations")[1]
    assert sorted(name for name, _ in legacy) == LEGACY_STEPS

    Store(old_store).close()  # opening migrates: the bridge, then m009 to m012

    with closing(sqlite3.connect(old_store)) as conn:
        legacy_table = conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_migrations'")
        assert legacy_table.fetchall() == []  # the old record moved, not copied
        applied = conn.execute(
            "SELECT name, applied_at FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id",
            [STORE_MIGRATIONS.name],
        ).fetchall()
    after_bridge = [
        "m009_envelope_digests",
        "m010_reviews",
        "m011_form_files",
        "m012_attachments",
    ]
    assert applied[: -len(after_bridge)] == sorted(
        legacy, key=lambda step: LEGACY_STEPS.index(step[0])
    )
    assert [name for name, _ in applied[-len(after_bridge) :]] == after_bridge
    assert snapshot(old_store, before) == before  # every row of every table as it was

    again = Store(old_store)  # opening again applies nothing
    try:
        assert [step.name for step in STORE_MIGRATIONS.applied(again.core.db)] == [
            name for name, _ in applied
        ]
        assert STORE_MIGRATIONS.pending(again.core.db) == []
    finally:
        again.close()


def test_the_upgraded_store_reads_sends_and_shares_what_the_old_one_held(old_store: Path) -> None:
    store = Store(old_store)
    try:
        store.keyring.unlock(PASSPHRASE)
        records = [store.records.get(item.id) for item in store.records.page(limit=20).items]
        by_code = {_label(record): record for record in records}
        assert {code: record.status for code, record in by_code.items()} == {
            "FX-DRAFT": "draft",
            "FX-0001": "final",
            "event": "queued",
            "FX-0003": "sent",
            "purged": "sent",
            "FX-0005": "conflict",
            "FX-0006": "rejected",
            "withdrawn": "final",
        }
        assert by_code["FX-0001"].values["given_name"] == "Fixture Final"
        assert by_code["FX-0003"].values["given_name"] == "Fixture Sent"
        assert store.keyring.secret("token") == "fixture-bearer-token"
        assert store.roster.team_key() == TeamKey(bytes(range(32)), "org-fixture", "north")
        assert store.settings.get("cursor") == "42"
        assert store.settings.clock_offset() is not None
        assert store.roster.shared("event") == {"ev-1": {"title": "Training of trainers"}}

        pending = store.outbox.pending()
        assert {entry.record_id for entry in pending} == {
            by_code[code].id for code in ("FX-0001", "event", "withdrawn")
        }
        for entry in pending:
            envelope = RecordEnvelope.model_validate_json(entry.envelope)
            assert (entry.revision, entry.content_digest) == (
                envelope.revision,
                envelope.content_digest,
            )
            crypto.verify(store.keyring.public_key, envelope.signature, envelope.signing_bytes())
        # A sent envelope gets them when the server loses it and it goes back to the outbox.
        sent = by_code["FX-0003"]
        assert store.outbox.requeue_missing({sent.id: sent.revision}) == ([sent.id], [])
        assert sent.id in {
            entry.content_digest and entry.record_id for entry in store.outbox.pending()
        }

        # The event's participant not yet shared waits for the server to take the event.
        event = by_code["event"]
        assert store.roster.pending() == []
        store.outbox.record_outcome(event.id, event.revision, "sent", receipt="{}")
        assert len(store.roster.pending()) == 1
    finally:
        store.close()


def test_an_envelope_that_no_longer_parses_is_kept_without_a_digest(old_store: Path) -> None:
    with closing(sqlite3.connect(old_store)) as conn, conn:
        [(damaged,)] = conn.execute("SELECT id FROM records WHERE status = 'queued'").fetchall()
        conn.execute("UPDATE records SET sealed = '{\"id\": 1' WHERE id = ?", [damaged])
    store = Store(old_store)
    try:
        found = {entry.record_id: entry for entry in store.outbox.pending()}
        assert (found[damaged].revision, found[damaged].content_digest) == (None, None)
        assert all(entry.content_digest for key, entry in found.items() if key != damaged)
    finally:
        store.close()


def _label(record: Record) -> str:
    """The fixture's name for a record: its case code, or what sets it apart."""
    if record.purged:
        return "purged"
    if record.consent_withdrawn:
        return "withdrawn"
    return str(record.values.get("case_code", "event"))


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
        purged = reopened.outbox.purge_sent(older_than=timedelta(days=1))
        assert purged == 1  # months old, by the server
    finally:
        reopened.close()
