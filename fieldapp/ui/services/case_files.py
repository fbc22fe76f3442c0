"""Case files for the screens: a case manager's (or admin's) device unlocking the
organisation's private key from its key file's bytes and passphrase, for this session only,
and opening records' sealed parts fetched from the server (which audits every opening). No
Flet in it.

The key lives in this object's memory only (`fieldapp.crypto.CaseFileKey`), never in the
store, a file or a log; it is forgotten by "Lock case files", when the device locks, after
the device's auto-lock minutes without opening a record, and when the app closes. A
coordinator's device is refused here, before anything leaves the device (the server refuses
it too, 403).
"""

from __future__ import annotations

import threading

from fieldapp.crypto import (
    CaseFileKey,
    CaseFilesLocked,
    CryptoError,
    IntegrityError,
    NotAKeyFile,
    WrongOrganisationKey,
    WrongPassphrase,
)
from fieldapp.ui.services.device import Device
from fieldapp.ui.services.office import NotAnOfficeDevice, Office, OfficeFailed
from sync.client import (
    OpenedRecord,
    OpenedRevision,
    ReferralContents,
    SyncError,
    open_record,
    open_referral,
)
from sync.protocol import OfficeRecordsPage, Referral

__all__ = [
    "CASE_FILE_ROLES",
    "CaseFiles",
    "CaseFilesLocked",
    "CryptoError",
    "IntegrityError",
    "NotACaseManager",
    "NotAKeyFile",
    "OpenedRecord",
    "OpenedRevision",
    "WrongKeyPassphrase",
    "WrongOrganisationKey",
]

# Who holds the organisation's key (the server's OFFICE_ROLES): not coordinators.
CASE_FILE_ROLES: frozenset[str] = frozenset({"case_manager", "admin"})
WrongKeyPassphrase = WrongPassphrase  # the key file's passphrase, not the device's


class NotACaseManager(NotAnOfficeDevice):
    """This device is not a case manager's or an admin's: case files are refused to it."""


class CaseFiles:
    """The organisation's key for this session, and the records it opens."""

    def __init__(self, device: Device, office: Office) -> None:
        self._device = device
        self._office = office
        self._lock = threading.Lock()
        self._key: CaseFileKey | None = None

    @property
    def available(self) -> bool:
        """Whether this device may open case files (an office device of a key-holding role)."""
        return self._office.available and self._office.role in CASE_FILE_ROLES

    def require(self) -> None:
        """NotACaseManager unless this device is a case manager's or an admin's."""
        role = self._office.role
        if role not in CASE_FILE_ROLES:
            raise NotACaseManager(
                f"case files are for case managers and admins, not {role or 'this device'}"
            )

    @property
    def unlocked(self) -> bool:
        """Whether the key is held now (False once forgotten, by hand or when idle)."""
        with self._lock:
            return self._key is not None and not self._key.locked

    def unlock(self, key_file: bytes, passphrase: str, source: str = "the key file") -> str:
        """Unwrap the organisation's key from the bytes of its file; its key id. Raises
        NotACaseManager, NotAKeyFile, WrongKeyPassphrase, WrongOrganisationKey (a key this
        device's organisation does not seal to)."""
        self.require()
        key = CaseFileKey.unlock(
            key_file,
            passphrase,
            organisation=self._device.store.outbox.recipients(),
            source=source,
            idle_minutes=self._device.autolock_minutes,
        )
        with self._lock:
            if self._key is not None:
                self._key.close()
            self._key = key
        return key.key_id

    def records(self, *, cursor: str | None = None, limit: int = 50) -> OfficeRecordsPage:
        """A page of the organisation's records to open (statistics only, newest first)."""
        self.require()
        return self._office.records(cursor=cursor, limit=limit)

    def open(self, record_id: str, *, history: bool = False) -> OpenedRecord:
        """The record opened (its head, or every revision with `history`). Raises
        NotACaseManager, CaseFilesLocked, OfficeFailed (the server refused or could not be
        reached), WrongOrganisationKey, IntegrityError (altered on the way or on the server)."""
        self.require()
        with self._lock:
            key = self._key
        if key is None:
            raise CaseFilesLocked("the case files are locked: unlock them with the key file")
        try:
            return open_record(
                self._office.client(),
                key,
                record_id,
                self._device.store.forms.get,
                history=history,
            )
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def open_referral(self, referral: Referral) -> ReferralContents | None:
        """An incoming referral opened with the key; None while the case files are locked
        or once the survivor's consent was withdrawn."""
        with self._lock:
            key = self._key
        if key is None or key.locked:
            return None
        return open_referral(key, referral)

    def lock(self) -> None:
        """Forget the key (idempotent): "Lock case files", the device's lock, the app's end."""
        with self._lock:
            if self._key is not None:
                self._key.close()
            self._key = None

    close = lock
