"""The encrypted local store (one SQLite file, on sqlite-utils)."""

from fieldapp.errors import RecordNotFound, StoreError, StoreLocked
from fieldapp.store._store import (
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
    "Outcome",
    "Page",
    "Record",
    "RecordNotFound",
    "RecordSummary",
    "Status",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreWiped",
    "TeamKey",
    "ValidationFailed",
]
