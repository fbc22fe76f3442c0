"""The office for the screens: a coordinator's, case manager's or admin's device asking the
server's office API with its own enrolment (server, token, role, region), never the server's
database. No Flet in it.

`services.office.available` says whether this device may open the office at all (its role);
every request made for another role raises `NotAnOfficeDevice` here, before anything leaves
the device, and the server refuses it too (403). One `OfficeClient` per device, built from the
enrolment the first time it is needed, rebuilt when the enrolment changed, closed on lock.
"""

from __future__ import annotations

import threading
from datetime import datetime

from fieldapp.errors import FieldappError
from fieldapp.ui.services.device import Device
from sync.client import (
    DEFAULT_SILENT_DAYS,
    STATE_REGION,
    STATE_ROLE,
    STATE_SERVER_URL,
    OfficeClient,
    SyncError,
    is_silent,
)
from sync.protocol import (
    DeviceRevoked,
    DuplicatePair,
    MatchDecisionResult,
    OfficeDevice,
    OfficeRecord,
    OfficeRecordsPage,
    PeopleReport,
    ReviewDecision,
    ReviewResult,
    ReviewState,
)

__all__ = [
    "DEFAULT_SILENT_DAYS",
    "DUPLICATE_ROLES",
    "OFFICE_ROLES",
    "REVIEW_STATES",
    "DeviceRevoked",
    "DuplicatePair",
    "MatchDecisionResult",
    "NotAnOfficeDevice",
    "Office",
    "OfficeDevice",
    "OfficeFailed",
    "OfficeRecord",
    "OfficeRecordsPage",
    "PeopleReport",
    "ReviewDecision",
    "ReviewResult",
    "ReviewState",
    "is_silent",
]
_PREF_SILENT_DAYS = "ui_office_silent_days"

# The roles the office opens for (the server's ORG_WIDE_ROLES): collectors and trainers
# see their own records only.
OFFICE_ROLES: frozenset[str] = frozenset({"coordinator", "case_manager", "admin"})
# Who merges or dismisses possible duplicate victim records (the server's OFFICE_ROLES).
DUPLICATE_ROLES: frozenset[str] = frozenset({"case_manager", "admin"})
REVIEW_STATES: tuple[ReviewState, ...] = (
    "received",
    "has_issues",
    "edited",
    "approved",
    "rejected",
)


class NotAnOfficeDevice(FieldappError):
    """This device is not enrolled with an office role (coordinator, case manager, admin):
    the office is refused to it, not only hidden."""


class OfficeFailed(FieldappError):
    """The server could not be asked, or refused (its sentence is the message)."""


class Office:
    """The office's requests, with this device's enrolment."""

    def __init__(self, device: Device) -> None:
        self._device = device
        self._lock = threading.Lock()
        self._client: OfficeClient | None = None
        self._client_for: tuple[str | None, str | None] | None = None

    # -- who this device is ------------------------------------------------------------------
    def _setting(self, key: str) -> str | None:
        if self._device.state != "unlocked":
            return None
        return self._device.store.settings.get(key)

    @property
    def role(self) -> str | None:
        """The role this device enrolled with (None: not enrolled, or locked)."""
        return self._setting(STATE_ROLE)

    @property
    def region(self) -> str | None:
        """The device's region: a regional office sees that region's records only."""
        return self._setting(STATE_REGION)

    @property
    def available(self) -> bool:
        """Whether this device may open the office (an unlocked device with an office role)."""
        return self.role in OFFICE_ROLES and bool(self._setting(STATE_SERVER_URL))

    def require(self) -> str:
        """The device's office role; NotAnOfficeDevice for any other role (or none)."""
        role = self.role
        if role is None or role not in OFFICE_ROLES:
            who = role or "a device not enrolled"
            raise NotAnOfficeDevice(
                f"the office is for coordinators, case managers and admins, not {who}"
            )
        return role

    def client(self) -> OfficeClient:
        """The device's office client (built from its enrolment on first use)."""
        self.require()
        key = (self._setting(STATE_SERVER_URL), self.role)
        with self._lock:
            if self._client is None or self._client_for != key:
                if self._client is not None:
                    self._client.close()
                try:
                    self._client = OfficeClient(self._device.store)
                except SyncError as exc:
                    raise OfficeFailed(str(exc)) from exc
                self._client_for = key
            return self._client

    # -- the requests ------------------------------------------------------------------------
    def records(
        self,
        *,
        form: str | None = None,
        region: str | None = None,
        device: str | None = None,
        status: ReviewState | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> OfficeRecordsPage:
        """One page of incoming records, newest received first (`next_cursor` for more)."""
        client = self.client()
        try:
            return client.page(
                form=form,
                region=region,
                device=device,
                status=status,
                received_from=received_from,
                received_to=received_to,
                cursor=cursor,
                limit=limit,
            )
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def review(
        self, record_id: str, state: ReviewDecision, comment: str | None = None
    ) -> ReviewResult:
        """Review a record's head. ValueError when a comment is required and missing (the
        caller says so by its field before asking); OfficeFailed when the server refused."""
        client = self.client()
        try:
            return client.review(record_id, state, comment)
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    # -- people, not rows ----------------------------------------------------------------------
    def duplicates(self) -> list[DuplicatePair]:
        """Open pairs of records that may be one person (case managers and admins)."""
        client = self.client()
        try:
            return client.duplicates().pairs
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def decide_duplicate(self, pair: str, merge: bool) -> MatchDecisionResult:
        """Merge the pair (the record received first is kept) or dismiss it."""
        client = self.client()
        try:
            return client.merge(pair) if merge else client.dismiss(pair)
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def people(self, form: str) -> PeopleReport:
        """A training form's attendances, the people they are, same-name pairs to confirm."""
        client = self.client()
        try:
            return client.people(form)
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def decide_person(self, pair: str, same: bool) -> MatchDecisionResult:
        """Confirm the pair as one person, or reject it."""
        client = self.client()
        try:
            return client.confirm_person(pair) if same else client.reject_person(pair)
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def devices(self) -> list[OfficeDevice]:
        """The organisation's devices (the region's, for a regional office)."""
        client = self.client()
        try:
            return client.devices().devices
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    def revoke(self, device_id: str) -> DeviceRevoked:
        """Revoke a device (the server decides whether this role may); OfficeFailed says
        why not."""
        client = self.client()
        try:
            return client.revoke(device_id)
        except SyncError as exc:
            raise OfficeFailed(str(exc)) from exc

    @property
    def silent_days(self) -> int:
        """Devices that have not synced for more than this many days are highlighted."""
        stored = self._setting(_PREF_SILENT_DAYS)
        return int(stored) if stored and stored.isdigit() else DEFAULT_SILENT_DAYS

    def set_silent_days(self, days: int) -> None:
        if self._device.state == "unlocked":
            self._device.store.settings.set(_PREF_SILENT_DAYS, str(days))

    def close(self) -> None:
        """Forget the client (on lock, wipe and close): the token is not kept in memory."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None
            self._client_for = None
