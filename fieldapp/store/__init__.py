"""The encrypted local store (one SQLite file, on sqlite-utils)."""

from fieldapp.errors import (
    RecordNotFound,
    StorageFull,
    StoreError,
    StoreLocked,
    StoreUnreadable,
)
from fieldapp.store._store import (
    DEFAULT_MAX_FAILED_UNLOCKS,
    MAX_FAILED_UNLOCKS_CEILING,
    InvalidSetting,
    Outcome,
    Page,
    Record,
    RecordSummary,
    Status,
    Store,
    StoreWiped,
    TeamKey,
    ValidationFailed,
)

__all__ = [
    "DEFAULT_MAX_FAILED_UNLOCKS",
    "MAX_FAILED_UNLOCKS_CEILING",
    "InvalidSetting",
    "Outcome",
    "Page",
    "Record",
    "RecordNotFound",
    "RecordSummary",
    "Status",
    "StorageFull",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreUnreadable",
    "StoreWiped",
    "TeamKey",
    "ValidationFailed",
]
