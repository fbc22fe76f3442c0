"""The schema migrations, on SQLite and on real PostgreSQL (marker `postgres`): recorded,
idempotent, and taken by databases that older schemas made."""

from __future__ import annotations

from typing import Any

import pytest

from sync.server.storage import (
    open_storage,
)
from sync.server.storage.sql import SqlStorage
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Conflict,
    Member,
    Victim,
    revision,
)


def test_migrations_are_recorded_and_idempotent(backend: Backend) -> None:
    storage = backend.storage
    storage.migrate()
    second = open_storage(backend.url)
    try:
        second.migrate()
        assert second.applied_migrations() == list(range(1, 21))
    finally:
        second.close()
    assert storage.applied_migrations() == list(range(1, 21))
    assert backend.count("schema_migrations") == 20
    assert backend.count("change_counter") == 1


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_2_keeps_every_stored_revision(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    """A database made by the v1 schema takes migration 2 with its records intact."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'v1.db'}"
        target = url.removeprefix("sqlite:///")
    else:
        url = target = request.getfixturevalue("pg_schema_url")
    unopened = open_storage(url)  # connects on first use only: nothing to close
    assert isinstance(unopened, SqlStorage)
    backend_class = type(unopened)
    # The v1 schema, with the owner columns (migration 5) and the office's head columns
    # (migration 6) today's code writes with each record; migration 2 rebuilds `records`,
    # which they leave alone.
    later = tuple(m for m in backend_class.migrations if m.version in (5, 6))
    v1_class = type("V1", (backend_class,), {"migrations": (backend_class.migrations[0], *later)})
    old = v1_class(target)
    old.migrate()
    org = old.create_organisation("Org", NOW).id
    conflict = Conflict(old, org)
    revisions = old.list_revisions(org, conflict.v1.id)
    old.close()

    upgraded = open_storage(url)
    try:
        upgraded.migrate()
        assert upgraded.applied_migrations() == list(range(1, 21))
        assert upgraded.list_revisions(org, conflict.v1.id) == revisions
        keep = conflict.bob_v2.revision
        head = upgraded.resolve_conflict(org, conflict.v1.id, keep, NOW, actor="admin:cli", by=None)
        assert head.head_revision == keep
        assert {r.status for r in upgraded.list_revisions(org, conflict.v1.id)} == {
            "current",
            "superseded",
        }
    finally:
        upgraded.close()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_5_gives_each_stored_record_the_signer_of_its_first_revision(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    """A database as migration 4 left it (no owner anywhere) takes migration 5: each record
    belongs to its first revision's signer and region, whoever wrote its head since."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'v4.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    db = Backend(kind, url, open_storage(url), Exception)
    try:
        db.storage.migrate()
        org = db.storage.create_organisation("Org", NOW).id
        victim = Victim(db.storage, org)
        office = Member(db.storage, org, "admin", None)
        carol = Member(db.storage, org, "collector", "north")
        trainer = Member(db.storage, org, "trainer", "north")
        office_v3 = office.envelope(record_id=victim.id, rev=revision(3), base=victim.v2.revision)
        office_own = office.envelope()
        db.storage.push_records(office.device, [office_v3, office_own], NOW)
        db.storage.put_roster(trainer.device, [("entry-1", b"trainer's")], NOW)
    finally:
        db.storage.close()
    for statement in (
        "DROP INDEX record_heads_office_region",  # migration 6's, on a column 5 adds
        "ALTER TABLE record_heads DROP COLUMN owner_device_id",
        "ALTER TABLE record_heads DROP COLUMN owner_region",
        "ALTER TABLE shared_items DROP COLUMN owner_device_id",
        "DELETE FROM schema_migrations WHERE version = 5",
    ):
        db.raw(statement)

    upgraded = open_storage(url)
    try:
        upgraded.migrate()
        assert upgraded.applied_migrations() == list(range(1, 21))
        owners = db.raw("SELECT id, owner_device_id, owner_region FROM record_heads ORDER BY id")
        assert owners == sorted(
            [
                (str(victim.id), victim.alice.device.id, "north"),
                (str(office_own.id), office.device.id, None),
            ]
        )
        intrusion = carol.envelope(record_id=victim.id, rev=revision(4), base=office_v3.revision)
        assert [
            e.code for e in upgraded.push_records(carol.device, [intrusion], NOW)[0].errors
        ] == ["not_record_owner"]
        edit = victim.alice.envelope(record_id=victim.id, rev=revision(4), base=office_v3.revision)
        assert upgraded.push_records(victim.alice.device, [edit], NOW)[0].status == "accepted"
        # Who stored a roster entry was never recorded: the next device of its region to
        # write it becomes its owner.
        assert upgraded.put_roster(trainer.device, [("entry-1", b"again")], NOW) == ["stored"]
        assert upgraded.put_roster(carol.device, [("entry-1", b"carol's")], NOW) == ["refused"]
    finally:
        upgraded.close()
