"""The sync client's errors, in one tree under `FieldappError` (the CLI and the UI catch that):

FieldappError
└── SyncError                  syncing cannot go on; the message says why, for people
    ├── NotEnrolled            no server, token or server key yet: enrol first
    ├── ServerUnreachable      no answer after every retry, or the server asked to wait
    ├── ServerRefused          a refusal (a revoked device, a protocol error), or an
    │   │                      answer that was not understood
    │   ├── EnrolRefused       the enrolment code was refused
    │   └── ReferralRefused    a referral cannot be sent or answered (`error` says why)
    │       ├── NoConsentToRefer  the survivor's consent to be referred is not recorded
    │       └── NotInDirectory    the organisation or service is not in the directory
    └── EnrolmentNotTrusted    the enrolment answer's keys are not the code's
"""

from __future__ import annotations

from fieldapp.errors import FieldappError

__all__ = [
    "EnrolRefused",
    "EnrolmentNotTrusted",
    "NoConsentToRefer",
    "NotEnrolled",
    "NotInDirectory",
    "ReferralRefused",
    "ServerRefused",
    "ServerUnreachable",
    "SyncError",
]


class SyncError(FieldappError):
    """Syncing cannot go on; the message says why in words a field worker can act on."""


class NotEnrolled(SyncError):
    """The store has no server, token or server key yet: enrol the device first."""


class ServerUnreachable(SyncError):
    """The server did not answer after every retry (offline, or it is down)."""


class ServerRefused(SyncError):
    """The server refused the request (a revoked device, a protocol error); see the message."""


class EnrolRefused(ServerRefused):
    """The enrolment code was refused (unknown, expired, or used by another device)."""


class EnrolmentNotTrusted(SyncError):
    """The keys in the server's enrolment answer are not those the code was issued with:
    someone in between may have swapped them. Nothing was stored."""


class ReferralRefused(ServerRefused):
    """A referral cannot be sent or answered; `error` is the server's code for it (the same
    code when the device refuses first, offline)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


class NoConsentToRefer(ReferralRefused):
    """The survivor's consent to be referred (`consent_refer`) is not recorded, or was
    withdrawn: nothing is sent."""


class NotInDirectory(ReferralRefused):
    """The organisation, or that service of it, is not in the referral directory."""
