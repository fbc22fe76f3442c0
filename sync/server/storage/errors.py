"""What the server's storage raises, every error in one place.

StorageError                  the database cannot do what was asked
├── StorageUnwritable         it cannot store anything now (full, read-only, failing disk)
├── NotFound                  no such organisation, device, form, record or item
├── NotResolvable             a revision that is not in conflict cannot settle one
├── NotRecordOwner            the device may not write this record
├── AlreadyExists             the name, id or version is taken (with other content)
├── ReferralRefused           a referral cannot be sent or answered (its code says why)
└── EnrolmentRefused          an enrolment code cannot be redeemed
    ├── CodeInvalid           no code has this hash
    ├── CodeExpired           the code's time is up
    └── CodeUsed              another device (or key) redeemed it
"""

from __future__ import annotations

from fieldapp.errors import FieldappError

__all__ = [
    "AlreadyExists",
    "CodeExpired",
    "CodeInvalid",
    "CodeUsed",
    "EnrolmentRefused",
    "FormFileInvalid",
    "NotFound",
    "NotRecordOwner",
    "NotResolvable",
    "ReferralRefused",
    "StorageError",
    "StorageUnwritable",
]


class StorageError(FieldappError):
    """The server's database cannot do what was asked."""


class StorageUnwritable(StorageError):
    """The database cannot store anything now (its disk is full, it is read-only, its disk
    fails): nothing was written. `Storage.write_problem` says so until a write succeeds."""


class NotFound(StorageError):
    """No such organisation, device, form version, record or shared item (in that scope)."""


class NotResolvable(StorageError):
    """The revision is stored but is neither the head nor one of its conflicting siblings."""


class NotRecordOwner(StorageError):
    """The device may not write this record: it neither created it nor is the office of the
    record's region (see `sync.server.storage.base`)."""


class FormFileInvalid(StorageError):
    """A form version names an attached file that was not given, does not match its digest
    or is larger than allowed: nothing was published."""


class AlreadyExists(StorageError):
    """The name, device id or form version is taken (with different content)."""


class EnrolmentRefused(StorageError):
    """An enrolment code cannot be redeemed; the subclass says why."""


class CodeInvalid(EnrolmentRefused):
    """No enrolment code has this hash."""


class CodeExpired(EnrolmentRefused):
    """The code's expiry has passed (even a re-redeem by the same device is refused then)."""


class CodeUsed(EnrolmentRefused):
    """The code was redeemed by another device (or another key, or a since-revoked device)."""


class ReferralRefused(StorageError):
    """A referral cannot be sent or answered: `error` is the stable code the API answers
    (`no_consent_to_refer`, `not_in_directory`, `not_sealed_to_receiver`...), `status` its
    HTTP status; nothing was written."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
