"""The UI's only gateway to the domain: the encrypted store and the sync client.

Plain Python with no Flet in it, so every rule the screens rely on (what is locked, what is
waiting, what a sync said, who the team registered) is tested without a browser. The rest of
`fieldapp.ui` never imports the store, the sync client or the protocol (import contract
`screens-through-services`): what it needs of them, types included, comes from here.

One `Services` per device, in rooms of one job each (as the store has):
`services.device` (the store file, first run, unlock, preferences), `services.enrolment`,
`services.records` (forms, drafts, lists), `services.cases` (a survivor's case and its
services), `services.sync` (client, monitor, "Sync now"),
`services.team` (the team's participants), `services.merging` (compare and merge a conflict),
`services.office` (the office's requests to the server, for office roles only),
`services.case_files` (the organisation's key for one session: sealed records opened, for
case managers and admins only).
`services.bundles` (offline bundle files: export the outbox, import the centre's bundle),
`services.referrals` (referrals between organisations: the directory, sent and received).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fieldapp.crypto import WrongPassphrase
from fieldapp.store import (
    FormFileMissing,
    Record,
    RecordSummary,
    Status,
    StoreWiped,
    ValidationFailed,
)
from fieldapp.ui.services.attachments import (
    AttachedFile,
    Attachments,
    AttachmentsStored,
    MediaRejected,
)
from fieldapp.ui.services.bundles import BundleFile, BundleRead, Bundles
from fieldapp.ui.services.case_files import CASE_FILE_ROLES, CaseFiles, NotACaseManager
from fieldapp.ui.services.cases import CASE_FORMS, CaseReferral, Cases, CaseTimeline
from fieldapp.ui.services.device import (
    AUTOLOCK_CHOICES,
    DEFAULT_AUTOLOCK_MINUTES,
    Device,
    DeviceState,
    Theme,
)
from fieldapp.ui.services.enrolment import Enrolment
from fieldapp.ui.services.errors import BundleFailed, MergeUnavailable, SetupFailed
from fieldapp.ui.services.merge import MergeOffer, Merging
from fieldapp.ui.services.office import (
    DEFAULT_SILENT_DAYS,
    DUPLICATE_ROLES,
    OFFICE_ROLES,
    REVIEW_STATES,
    DeviceRevoked,
    DuplicatePair,
    NotAnOfficeDevice,
    Office,
    OfficeDevice,
    OfficeFailed,
    OfficeRecord,
    OfficeRecordsPage,
    PeopleReport,
    ReviewDecision,
    ReviewResult,
    ReviewState,
    is_silent,
)
from fieldapp.ui.services.records import (
    STATUS_GROUPS,
    TRAINING_FORM,
    VICTIM_FORM,
    ListedRecord,
    RecordQuery,
    Records,
    RecordsPage,
    StatusGroup,
)
from fieldapp.ui.services.referrals import (
    DECLINE_REASONS,
    RECEIVING_ROLES,
    DeclineReason,
    DirectoryEntry,
    IncomingReferral,
    Referral,
    ReferralFailed,
    Referrals,
)
from fieldapp.ui.services.sync import Sync, SyncOutcome, SyncStatus, describe_report
from fieldapp.ui.services.team import PERSON_FIELDS, ParticipantMatch, Team, match_participants
from sync.protocol import EnrolmentLink

__all__ = [
    "AUTOLOCK_CHOICES",
    "CASE_FILE_ROLES",
    "CASE_FORMS",
    "DECLINE_REASONS",
    "DEFAULT_AUTOLOCK_MINUTES",
    "DEFAULT_SILENT_DAYS",
    "DUPLICATE_ROLES",
    "OFFICE_ROLES",
    "PERSON_FIELDS",
    "RECEIVING_ROLES",
    "REVIEW_STATES",
    "STATUS_GROUPS",
    "TRAINING_FORM",
    "VICTIM_FORM",
    "AttachedFile",
    "Attachments",
    "AttachmentsStored",
    "BundleFailed",
    "BundleFile",
    "BundleRead",
    "CaseFiles",
    "CaseReferral",
    "CaseTimeline",
    "Cases",
    "DeclineReason",
    "DeviceRevoked",
    "DeviceState",
    "DirectoryEntry",
    "DuplicatePair",
    "EnrolmentLink",
    "FormFileMissing",
    "IncomingReferral",
    "ListedRecord",
    "MediaRejected",
    "MergeOffer",
    "MergeUnavailable",
    "NotACaseManager",
    "NotAnOfficeDevice",
    "Office",
    "OfficeDevice",
    "OfficeFailed",
    "OfficeRecord",
    "OfficeRecordsPage",
    "ParticipantMatch",
    "PeopleReport",
    "Record",
    "RecordQuery",
    "RecordSummary",
    "RecordsPage",
    "Referral",
    "ReferralFailed",
    "Referrals",
    "ReviewDecision",
    "ReviewResult",
    "ReviewState",
    "Services",
    "SetupFailed",
    "Status",
    "StatusGroup",
    "StoreWiped",
    "SyncOutcome",
    "SyncStatus",
    "Theme",
    "ValidationFailed",
    "WrongPassphrase",
    "describe_report",
    "is_silent",
    "match_participants",
]


class Services:
    """One device: its store file under `data_dir`, its server, its background sync.

    The moves that involve more than one room (unlocking starts sync, wiping and closing stop
    it first) are made here. Thread-safe where it matters: the store serialises itself, and
    one sync client is shared by "Sync now" and the monitor.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        server_url: str | None = None,
        probe_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        background_sync: bool = True,
    ) -> None:
        self.device = Device(Path(data_dir), server_url=server_url, clock=clock)
        self.sync = Sync(self.device, probe_interval=probe_interval, background=background_sync)
        self.enrolment = Enrolment(self.device, self.sync)
        self.records = Records(self.device)
        self.cases = Cases(self.device)
        self.team = Team(self.device, self.records)
        self.merging = Merging(self.records, self.team, self.sync)
        self.office = Office(self.device)
        self.case_files = CaseFiles(self.device, self.office)
        self.bundles = Bundles(self.device, self.sync)
        self.attachments = Attachments(self.device)
        self.referrals = Referrals(self.device, self.case_files)

    def unlock(self, passphrase: str) -> None:
        """Unlock, then sync in the background if enrolled. Raises WrongPassphrase, or
        StoreWiped once too many tries erased the key."""
        try:
            self.device.unlock(passphrase)
        except StoreWiped:
            self.sync.stop()
            raise
        self.sync.start()

    def lock(self) -> None:
        """Lock the store; the office's client (and its token) and the organisation's key go
        with the store's key."""
        self.case_files.close()
        self.office.close()
        self.device.lock()

    def wipe(self) -> None:
        """Sign out and wipe: sync stopped, keys and records erased."""
        self.case_files.close()
        self.office.close()
        self.sync.stop()
        self.device.wipe()
        self.sync.refresh()

    def close(self) -> None:
        self.case_files.close()
        self.office.close()
        self.sync.stop()
        self.device.close()
