"""The encrypted local store (one SQLite file, on sqlite-utils): `Store.create` or `Store(path)`,
then its rooms, e.g. `store.records.finalise(...)`, `store.outbox.pending()`."""

from fieldapp.errors import (
    RecordNotFound,
    StorageFull,
    StoreError,
    StoreLocked,
    StoreUnreadable,
)
from fieldapp.store._attachments import StoredAttachment
from fieldapp.store._cases import CASE_FORM, SERVICE_FORM, CaseReferral, CaseTimeline
from fieldapp.store._keyring import DEFAULT_MAX_FAILED_UNLOCKS, MAX_FAILED_UNLOCKS_CEILING
from fieldapp.store._reviews import Review
from fieldapp.store._store import Store
from fieldapp.store._types import (
    FormFileMissing,
    FormUnusable,
    InvalidSetting,
    OutboxEntry,
    Outcome,
    Page,
    Record,
    RecordSummary,
    Status,
    StoreWiped,
    TeamKey,
    ValidationFailed,
)

__all__ = [
    "CASE_FORM",
    "DEFAULT_MAX_FAILED_UNLOCKS",
    "MAX_FAILED_UNLOCKS_CEILING",
    "SERVICE_FORM",
    "CaseReferral",
    "CaseTimeline",
    "FormFileMissing",
    "FormUnusable",
    "InvalidSetting",
    "OutboxEntry",
    "Outcome",
    "Page",
    "Record",
    "RecordNotFound",
    "RecordSummary",
    "Review",
    "Status",
    "StorageFull",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreUnreadable",
    "StoreWiped",
    "StoredAttachment",
    "TeamKey",
    "ValidationFailed",
]
