"""What the services raise for the UI to say: each names the message the person reads."""

from __future__ import annotations

from fieldapp.errors import FieldappError
from fieldapp.ui.messages import MessageKey

__all__ = ["BundleFailed", "MergeUnavailable", "SetupFailed"]


class SetupFailed(FieldappError):
    """First run or enrolment could not finish; `key` names the message the UI shows."""

    def __init__(self, key: MessageKey, **params: object) -> None:
        super().__init__(key)
        self.key: MessageKey = key
        self.params = params


class MergeUnavailable(FieldappError):
    """The other version of a record in conflict could not be fetched to compare with; `key`
    names the message the UI shows."""

    def __init__(self, key: MessageKey) -> None:
        super().__init__(key)
        self.key: MessageKey = key


class BundleFailed(FieldappError):
    """A bundle file could not be written or used; `key` names the message the UI shows."""

    def __init__(self, key: MessageKey, **params: object) -> None:
        super().__init__(key)
        self.key: MessageKey = key
        self.params = params
