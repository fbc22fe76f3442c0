"""Named exceptions. Every error a person can cause says what is wrong and where."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "FieldappError",
    "FormError",
    "MediaProblem",
    "MediaRejected",
    "QRError",
    "QRNotFound",
    "QRUnreadable",
    "RecordNotFound",
    "StorageFull",
    "StoreError",
    "StoreLocked",
    "StoreUnreadable",
]


class FieldappError(Exception):
    """Base of every error fieldapp raises on purpose."""


class FormError(FieldappError):
    """A form specification (built-in or imported) is invalid."""


MediaProblem = Literal[
    "not_an_image", "damaged", "too_many_pixels", "empty", "too_large", "record_full", "setting"
]


class MediaRejected(FieldappError):
    """A captured photo, signature or file cannot be attached: the message names the question
    and the problem; `field` and `problem` let a screen say it in the person's language."""

    def __init__(self, field: str, problem: MediaProblem, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.problem: MediaProblem = problem


class StoreError(FieldappError):
    """The local store cannot do what was asked."""


class StoreLocked(StoreError):
    """The store is locked: unlock it with the passphrase first."""


class RecordNotFound(StoreError):
    """No record has that id on this device."""


class StorageFull(StoreError):
    """The device's storage is full: the write was undone, everything saved before is kept."""


class StoreUnreadable(StoreError):
    """The store file cannot be opened (damaged, truncated, a folder, not a store): it is left
    exactly as it is, never overwritten or deleted."""


class QRError(FieldappError):
    """An image could not be read as a QR code; the message says why."""


class QRNotFound(QRError):
    """The image holds no QR code that could be found (or is not a readable image)."""


class QRUnreadable(QRError):
    """A QR code was found but its content could not be recovered."""
