"""Named exceptions. Every error a person can cause says what is wrong and where."""

from __future__ import annotations

__all__ = [
    "FieldappError",
    "FormError",
    "RecordNotFound",
    "StoreError",
    "StoreLocked",
]


class FieldappError(Exception):
    """Base of every error fieldapp raises on purpose."""


class FormError(FieldappError):
    """A form specification (built-in or imported) is invalid."""


class StoreError(FieldappError):
    """The local store cannot do what was asked."""


class StoreLocked(StoreError):
    """The store is locked: unlock it with the passphrase first."""


class RecordNotFound(StoreError):
    """No record has that id on this device."""
