"""Referrals between organisations for the screens: the directory (from the server when it
answers, else the copy kept on the device), a record of this device referred to another
organisation's service, the referrals sent with their status, and, for a case manager or
admin, the referrals received (opened with the case files' key), accepted, declined or
reported delivered. No Flet in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from fieldapp.errors import FieldappError
from fieldapp.ui.services.case_files import CaseFiles
from fieldapp.ui.services.device import Device
from sync.client import (
    STATE_ROLE,
    ReferralContents,
    ReferralRefused,
    ReferralsClient,
    SyncError,
    cached_directory,
)
from sync.protocol import DECLINE_REASONS, DeclineReason, DirectoryEntry, Referral

__all__ = [
    "DECLINE_REASONS",
    "RECEIVING_ROLES",
    "DeclineReason",
    "DirectoryEntry",
    "IncomingReferral",
    "Referral",
    "ReferralFailed",
    "Referrals",
]

# Who answers the referrals to the organisation (the server's OFFICE_ROLES).
RECEIVING_ROLES: frozenset[str] = frozenset({"case_manager", "admin"})
_T = TypeVar("_T")


class ReferralFailed(FieldappError):
    """The referral could not be sent or answered; `error` is the server's code when it
    refused (`no_consent_to_refer`, `not_in_directory`...), else None (not reachable)."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class IncomingReferral:
    """A referral to this organisation, and what it holds once opened (None: locked case
    files, or the survivor withdrew consent)."""

    referral: Referral
    contents: ReferralContents | None


class Referrals:
    """This device's referrals, with its enrolment."""

    def __init__(self, device: Device, case_files: CaseFiles) -> None:
        self._device = device
        self._case_files = case_files

    @property
    def receives(self) -> bool:
        """Whether this device answers the organisation's incoming referrals."""
        if self._device.state != "unlocked":
            return False
        return self._device.store.settings.get(STATE_ROLE) in RECEIVING_ROLES

    @contextmanager
    def _client(self) -> Iterator[ReferralsClient]:
        try:
            with ReferralsClient(self._device.store) as client:
                yield client
        except ReferralRefused as exc:
            raise ReferralFailed(str(exc), exc.error) from exc
        except SyncError as exc:
            raise ReferralFailed(str(exc)) from exc

    def _ask(self, call: Callable[[ReferralsClient], _T]) -> _T:
        with self._client() as client:
            return call(client)

    def directory(self) -> list[DirectoryEntry]:
        """The participating organisations: fetched when the server answers, else the copy
        the last fetch kept on the device (the directory works offline)."""
        try:
            return self._ask(lambda client: client.directory()).organisations
        except ReferralFailed:
            return cached_directory(self._device.store).organisations

    def refer(self, record_id: str, to_org: str, service: str, note: str | None) -> Referral:
        """Refer a sent record of this device; ReferralFailed says why not (no consent, not
        in the directory, the server not reachable)."""
        return self._ask(lambda client: client.refer(record_id, to_org, service, note or None))

    def outgoing(self) -> list[Referral]:
        return self._ask(lambda client: client.referrals("outgoing"))

    def incoming(self) -> list[IncomingReferral]:
        """The referrals to this organisation, opened where the case files are unlocked."""
        listed = self._ask(lambda client: client.referrals("incoming"))
        return [IncomingReferral(r, self._case_files.open_referral(r)) for r in listed]

    def answer(
        self, referral_id: str, action: str, reason: DeclineReason | None = None
    ) -> Referral:
        """`accept`, `decline` (with `reason`) or `delivered`."""
        if action == "decline":
            return self._ask(lambda client: client.decline(referral_id, reason or "other"))
        if action == "accept":
            return self._ask(lambda client: client.accept(referral_id))
        return self._ask(lambda client: client.delivered(referral_id))
