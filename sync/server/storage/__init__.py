"""Server storage: `open_storage(url)` picks the backend by URL scheme.

`sqlite:///relative/or/absolute/path.db` (four slashes for an absolute path, as in
SQLAlchemy) opens the stdlib-sqlite3 backend; `postgresql://...` (or `postgres://...`) the
psycopg 3 backend. Backends are imported lazily so SQLite deployments never import psycopg.

The package: `Storage` (base.py), what it returns (models.py) and raises (errors.py); the SQL
both backends share, one query module per entity (organisations, devices, forms, shared,
records, changes, audit, server_key), run by `SqlStorage` (sql.py) in a backend's
transactions (tx.py; sqlite.py, postgres.py); the schema as numbered SQL files (migrations/).
"""

from __future__ import annotations

from sync.server.storage.base import Storage
from sync.server.storage.errors import (
    AlreadyExists,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    EnrolmentRefused,
    FormFileInvalid,
    NotFound,
    NotRecordOwner,
    NotResolvable,
    ReferralRefused,
    StorageError,
    StorageUnwritable,
)
from sync.server.storage.models import (
    ORG_WIDE_ROLES,
    Attendance,
    AuditEntry,
    Device,
    DeviceContact,
    DirectoryListing,
    DuplicateRow,
    EnrolCode,
    FormVersion,
    MatchDecisionStored,
    OfficeFilter,
    OfficePage,
    OfficeRow,
    Organisation,
    Owner,
    PendingEnrolment,
    PeopleCount,
    PushResult,
    RecordHead,
    ReferralRow,
    ReviewStored,
    RevisionStatus,
    RosterStatus,
    RosterWrite,
    SealedRecord,
    SharedKind,
    StatsRow,
    StoredRecord,
)

__all__ = [
    "ORG_WIDE_ROLES",
    "AlreadyExists",
    "Attendance",
    "AuditEntry",
    "CodeExpired",
    "CodeInvalid",
    "CodeUsed",
    "Device",
    "DeviceContact",
    "DirectoryListing",
    "DuplicateRow",
    "EnrolCode",
    "EnrolmentRefused",
    "FormFileInvalid",
    "FormVersion",
    "MatchDecisionStored",
    "NotFound",
    "NotRecordOwner",
    "NotResolvable",
    "OfficeFilter",
    "OfficePage",
    "OfficeRow",
    "Organisation",
    "Owner",
    "PendingEnrolment",
    "PeopleCount",
    "PushResult",
    "RecordHead",
    "ReferralRefused",
    "ReferralRow",
    "ReviewStored",
    "RevisionStatus",
    "RosterStatus",
    "RosterWrite",
    "SealedRecord",
    "SharedKind",
    "StatsRow",
    "Storage",
    "StorageError",
    "StorageUnwritable",
    "StoredRecord",
    "open_storage",
]


def open_storage(url: str) -> Storage:
    """Open (without migrating: call `migrate()`) the storage named by `url`."""
    if url.startswith("sqlite:///"):
        from sync.server.storage.sqlite import SqliteStorage

        path = url.removeprefix("sqlite:///")
        if not path:
            raise StorageError("sqlite URL needs a path: sqlite:///server.db")
        return SqliteStorage(path)
    if url.startswith(("postgresql://", "postgres://")):
        from sync.server.storage.postgres import PostgresStorage

        return PostgresStorage(url)
    raise StorageError("database URL must start with sqlite:/// or postgresql://")
