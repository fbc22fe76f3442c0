"""What goes wrong in cryptography, as the caller may catch it."""

from __future__ import annotations

from fieldapp.errors import FieldappError


class CryptoError(FieldappError):
    """A cryptographic operation failed or was asked to do something unsafe."""


class IntegrityError(CryptoError):
    """Ciphertext was altered, truncated, or belongs to another record, revision or key."""


class AttachmentDamaged(IntegrityError):
    """An attachment's chunks do not open as that attachment: one is missing, extra, altered,
    reordered or swapped for another attachment's (the message says which)."""


class WrongPassphrase(CryptoError):
    """The passphrase does not unlock this key."""


class WeakPassphrase(CryptoError):
    """The passphrase is too easy to guess; the message says what is required."""


class SignatureError(CryptoError):
    """A signature does not match the data and public key."""


class WrongEnrolCode(CryptoError):
    """A team key does not open with this enrolment code (or belongs to another scope)."""


class NotAKeyFile(CryptoError):
    """The file is not an organisation key file (or is damaged)."""


class WrongOrganisationKey(CryptoError):
    """The key belongs to another organisation, or the record is not sealed to it."""


class CaseFilesLocked(CryptoError):
    """The organisation's key was forgotten (locked by hand or after idle time)."""
