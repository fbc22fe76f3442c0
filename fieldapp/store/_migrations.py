"""Schema migrations of the local store: one `sqlite_utils.migrations.Migrations` set, each
step applied in its own transaction and recorded in the library's `_sqlite_migrations` table.

Stores made before the set existed recorded m001..m008 in a table of their own,
`_migrations`: `migrate` first moves that record into the library's table (the bridge), so
an existing device upgrades with nothing applied twice and nothing lost. A step's name is its
identity forever: never rename one, only add the next.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from sync.protocol import RecordEnvelope

__all__ = ["STORE_MIGRATIONS", "envelope_columns", "envelope_sha256", "migrate"]

STORE_MIGRATIONS = Migrations("fieldapp_store")
_LEGACY_TABLE = "_migrations"  # where stores made before the set recorded their steps
_BACKFILL_PAGE = 500  # envelopes read at a time by m009 (never the whole outbox in memory)


def envelope_sha256(stored: str | bytes) -> str:
    """The sha256 of an envelope as the outbox stores it (its JSON text, UTF-8: given as
    text, or already encoded)."""
    return hashlib.sha256(stored.encode() if isinstance(stored, str) else stored).hexdigest()


def envelope_columns(stored: str) -> dict[str, str] | None:
    """What the outbox keeps beside an envelope stored before it did (see m009), read from
    the envelope once; None if it no longer parses."""
    try:
        envelope = RecordEnvelope.model_validate_json(stored)
    except ValidationError:
        return None
    return {
        "envelope_revision": envelope.revision,
        "envelope_digest": envelope.content_digest,
        "envelope_sha256": envelope_sha256(stored),
    }


def migrate(db: Database) -> None:
    """Bring the store's schema up to date (a new file gets every step)."""
    with db.atomic():  # the library's table with its unique index, and the bridge: all or none
        STORE_MIGRATIONS.ensure_migrations_table(db)
        _adopt_legacy_record(db)
    STORE_MIGRATIONS.apply(db)


def _adopt_legacy_record(db: Database) -> None:
    """The bridge: copy the steps a store recorded in its own `_migrations` table (name and
    time, in the order applied) into the library's table, and drop the old table (the caller
    holds the transaction: a crash half-way leaves the old record whole, moved next time)."""
    if not db.table(_LEGACY_TABLE).exists():
        return
    recorded = {step.name for step in STORE_MIGRATIONS.applied(db)}
    legacy = db.execute(f"SELECT name, applied_at FROM {_LEGACY_TABLE} ORDER BY rowid")  # noqa: S608
    for name, applied_at in legacy.fetchall():
        if name not in recorded:
            db.table(STORE_MIGRATIONS.migrations_table).insert(
                {"migration_set": STORE_MIGRATIONS.name, "name": name, "applied_at": applied_at}
            )
    db.execute(f"DROP TABLE {_LEGACY_TABLE}")


@STORE_MIGRATIONS()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE keyring (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            kdf TEXT NOT NULL,
            wrapped_key BLOB,
            wrapped_signing_key BLOB,
            failed_unlocks INTEGER NOT NULL DEFAULT 0,
            max_failed_unlocks INTEGER,
            second_factor INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE forms (
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            spec TEXT NOT NULL,
            source TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (id, version)
        );
        CREATE TABLE recipients (
            key_id TEXT PRIMARY KEY,
            recipient TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE TABLE records (
            id TEXT PRIMARY KEY,
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('draft', 'final', 'queued', 'sent', 'rejected', 'conflict')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            device_id TEXT NOT NULL,
            revision TEXT NOT NULL,
            base_revision TEXT,
            stats TEXT NOT NULL DEFAULT '{}',
            fields BLOB,
            sealed BLOB,
            deleted INTEGER NOT NULL DEFAULT 0,
            problems TEXT,
            receipt TEXT,
            server_revision TEXT,
            sent_at TEXT
        );
        CREATE INDEX records_by_status ON records (status, updated_at, id);
        CREATE INDEX records_by_form ON records (form_id, status, updated_at, id);
        CREATE INDEX records_by_created ON records (created_at);
        CREATE INDEX records_by_updated ON records (updated_at, id);
        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


@STORE_MIGRATIONS()
def m002_outbox_index(db: Database) -> None:
    """The outbox pages by id over pending rows only: no sort of 100,000 rows per page."""
    db.execute(
        "CREATE INDEX records_outbox ON records (id)"
        " WHERE status IN ('final', 'queued') AND sealed IS NOT NULL"
    )


@STORE_MIGRATIONS()
def m003_shared_items(db: Database) -> None:
    """Reference lists and training events the organisation shares with its devices."""
    db.executescript(
        """
        CREATE TABLE shared_items (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            data TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (kind, key)
        );
        """
    )


@STORE_MIGRATIONS()
def m004_purged_records(db: Database) -> None:
    """When a sent record's local copy was purged (after a receipt, by policy)."""
    db.execute("ALTER TABLE records ADD COLUMN purged_at TEXT")


@STORE_MIGRATIONS()
def m005_team_roster(db: Database) -> None:
    """Participants this device shares with its team, sealed with the team key, waiting to be
    pushed (`pending`) or pushed already (kept to notice a change or a removal later).
    `sealed` NULL withdraws an entry; `digest` is a keyed hash of its content ('' withdrawn).
    """
    db.executescript(
        """
        CREATE TABLE roster_entries (
            entry_key TEXT PRIMARY KEY,
            record_id TEXT NOT NULL,
            digest TEXT NOT NULL,
            sealed BLOB,
            pending INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX roster_entries_pending ON roster_entries (entry_key) WHERE pending = 1;
        CREATE INDEX roster_entries_by_record ON roster_entries (record_id);
        """
    )


@STORE_MIGRATIONS()
def m006_consent_withdrawn(db: Database) -> None:
    """When the person a record is about withdrew their consent: its sensitive part was
    erased, and the record can no longer be edited (its statistics still count)."""
    db.execute("ALTER TABLE records ADD COLUMN consent_withdrawn_at TEXT")


@STORE_MIGRATIONS()
def m007_conflict_settled(db: Database) -> None:
    """When this device's user settled a conflict over the record (kept their version or
    merged both): the server keeps the record flagged for the office until it resolves it,
    and the device must not list it as a conflict again for its own settled revision."""
    db.execute("ALTER TABLE records ADD COLUMN conflict_settled_at TEXT")


@STORE_MIGRATIONS()
def m008_receipt_times(db: Database) -> None:
    """When the server took each receipted revision, by its own clock (the receipt's
    `received_at`): how long ago a record was sent is reckoned from it, never from this
    device's clock. `receipt_lost_at`: when the server was found no longer to hold a
    receipted revision this device could not send again (its copy purged)."""
    db.execute("ALTER TABLE records ADD COLUMN received_at TEXT")
    db.execute("ALTER TABLE records ADD COLUMN receipt_lost_at TEXT")
    receipted = db.execute("SELECT id, receipt FROM records WHERE receipt IS NOT NULL")
    for record_id, receipt in receipted.fetchall():
        try:
            taken = datetime.fromisoformat(json.loads(receipt)["received_at"])
        except (ValueError, TypeError, KeyError):
            continue  # not a receipt this version wrote: the record is never purged by age
        if taken.tzinfo is not None:
            db.execute(
                "UPDATE records SET received_at = ? WHERE id = ?",
                [taken.astimezone(UTC).isoformat(timespec="microseconds"), record_id],
            )


@STORE_MIGRATIONS()
def m009_envelope_digests(db: Database) -> None:
    """Each outgoing envelope's revision and content digest in columns of their own, written
    when it is signed, with the sha256 of the envelope as stored: the sync client reads what a
    receipt must name from there, and the outbox tells a damaged envelope by its sha256,
    without parsing every envelope it sends. Envelopes waiting in the outbox are read once
    here, a page at a time (one that no longer parses keeps NULLs: it is reported, never
    sent); a receipted one only if the server loses it and it goes back to the outbox, so a
    device holding many sent records upgrades as fast as one holding few."""
    for column in ("envelope_revision", "envelope_digest", "envelope_sha256"):
        db.execute(f"ALTER TABLE records ADD COLUMN {column} TEXT")
    after = ""
    while page := db.execute(
        "SELECT id, sealed FROM records WHERE status IN ('final', 'queued')"
        " AND sealed IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
        [after, _BACKFILL_PAGE],
    ).fetchall():
        for record_id, sealed in page:
            columns = envelope_columns(sealed)
            if columns is not None:
                assignments = ", ".join(f"{name} = ?" for name in columns)
                db.execute(
                    f"UPDATE records SET {assignments} WHERE id = ?",  # noqa: S608
                    [*columns.values(), record_id],
                )
        after = page[-1][0]


@STORE_MIGRATIONS()
def m010_reviews(db: Database) -> None:
    """The office's review of this device's records, as the last `review` change said it
    (state, the head revision it is about, the reviewer's comment, when): what the record's
    screen shows, and what the collector answers by fixing and sending the record again."""
    db.executescript(
        """
        CREATE TABLE reviews (
            record_id TEXT PRIMARY KEY,
            revision TEXT NOT NULL,
            state TEXT NOT NULL,
            comment TEXT,
            reviewed_at TEXT NOT NULL,
            seq INTEGER NOT NULL
        );
        """
    )


@STORE_MIGRATIONS()
def m011_form_files(db: Database) -> None:
    """Files attached to form versions (the CSVs of select_one_from_file and pulldata), by
    SHA-256, encrypted under the data key."""
    db.executescript(
        """
        CREATE TABLE form_files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            added_at TEXT NOT NULL
        );
        """
    )


@STORE_MIGRATIONS()
def m012_attachments(db: Database) -> None:
    """Records' attachments (photos, signatures, files): the manifest entry in clear (it is
    signed and sent in clear), the content key wrapped and the file name encrypted under the
    data key, and the ciphertext chunks by their sha256, as they travel, with when the server
    was found to hold each (a record is purged only once it holds them all)."""
    db.executescript(
        """
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            record_id TEXT NOT NULL,
            field TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            chunks TEXT NOT NULL,
            wrapped_key BLOB NOT NULL,
            filename BLOB,
            added_at TEXT NOT NULL
        );
        CREATE INDEX attachments_by_record ON attachments (record_id);
        CREATE TABLE attachment_chunks (
            digest TEXT PRIMARY KEY,
            attachment_id TEXT NOT NULL REFERENCES attachments (id),
            idx INTEGER NOT NULL,
            content BLOB NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX attachment_chunks_by_attachment ON attachment_chunks (attachment_id, idx);
        """
    )


@STORE_MIGRATIONS()
def m013_sealing_epochs(db: Database) -> None:
    """The headers of the sealing epochs this device sealed records in (crypto.epochs): public
    (the epoch secret is sealed to the organisation and kept only in memory), pushed with
    the records that name them."""
    db.executescript(
        """
        CREATE TABLE sealing_epochs (
            epoch_id TEXT PRIMARY KEY,
            header BLOB NOT NULL,
            started_at TEXT NOT NULL
        );
        """
    )
