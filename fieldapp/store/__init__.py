"""The encrypted local store (one SQLite file, on sqlite-utils)."""

from fieldapp.errors import RecordNotFound, StoreError, StoreLocked
from fieldapp.store._store import (
    Page,
    Record,
    RecordSummary,
    Status,
    Store,
    StoreWiped,
    ValidationFailed,
)

__all__ = [
    "Page",
    "Record",
    "RecordNotFound",
    "RecordSummary",
    "Status",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreWiped",
    "ValidationFailed",
]
