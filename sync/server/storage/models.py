"""What the server's storage hands back: plain, frozen records of its rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sync.protocol import (
    AttachmentsStored,
    OutcomeStatus,
    ReceiptProof,
    RecordEnvelope,
    ReviewState,
    Role,
    RosterStatus,
    WireFieldError,
)

__all__ = [
    "ORG_WIDE_ROLES",
    "Attendance",
    "AuditEntry",
    "Device",
    "DeviceContact",
    "DuplicateRow",
    "EnrolCode",
    "FormVersion",
    "MatchDecisionStored",
    "OfficeFilter",
    "OfficePage",
    "OfficeRow",
    "Organisation",
    "Owner",
    "PendingEnrolment",
    "PeopleCount",
    "PushResult",
    "RecordHead",
    "ReviewStored",
    "RevisionStatus",
    "RosterStatus",
    "RosterWrite",
    "SealedRecord",
    "SharedKind",
    "StatsRow",
    "StoredRecord",
]

ORG_WIDE_ROLES: frozenset[Role] = frozenset({"admin", "coordinator", "case_manager"})

SharedKind = Literal["reference", "event"]
# current: the head or an accepted ancestor; conflict: a sibling waiting for review;
# superseded: set aside when the office resolved the conflict (kept: nothing is deleted).
RevisionStatus = Literal["current", "conflict", "superseded"]


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    created_at: datetime
    # fieldapp.crypto.RecipientKey dumps: the organisation's keys devices seal records to.
    recipients: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EnrolCode:
    code_hash: str
    org_id: str
    role: Role
    region: str | None
    created_at: datetime
    expires_at: datetime
    device_id: str | None = None  # set once redeemed
    redeemed_at: datetime | None = None
    # The team key wrapped by the code itself (fieldapp.crypto.wrap_team_key): opaque here.
    wrapped_team_key: bytes | None = None
    # The organisation's match key wrapped the same way (fieldapp.crypto.wrap_match_key).
    wrapped_match_key: bytes | None = None
    # The relay the code was issued for (migration 17): at the centre, only that relay may
    # pass up its enrolment; at that relay, a code it may check while its upstream is away.
    relay_id: str | None = None
    # At the centre only: the code's proof key (`auth.enrol_proof_key`), never sent out.
    proof_key: str | None = None


@dataclass(frozen=True, slots=True)
class PendingEnrolment:
    """At a relay: a device it enrolled while its upstream was away, with a pre-issued code
    (by hash) and the proof that the device gave the code itself (`auth.enrol_proof`)."""

    device_id: str
    code_hash: str
    proof: str
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class RosterWrite:
    """A roster change a device wrote (`author`), as a relay forwards it upstream: the
    entry's sealed bytes, None for a withdrawal."""

    seq: int
    key: str
    sealed: bytes | None
    author: str


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    org_id: str
    role: Role
    region: str | None
    public_key: bytes  # Ed25519, verifies the device's record signatures
    label: str
    enrolled_at: datetime
    revoked_at: datetime | None = None
    # what the office's device list shows (migration 9): when the server last heard from the
    # device and when it last pulled, and what its last sync said of it (None: not said)
    last_seen_at: datetime | None = None
    last_sync_at: datetime | None = None
    records_waiting: int | None = None
    app_version: str | None = None
    # the relay it enrolled through (migration 17), None if it enrolled here
    enrolled_via: str | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a record, or a team roster entry, belongs to: the device that stored it first (for a
    record, the signer of its first revision) and that device's organisation and region."""

    org_id: str
    device_id: str
    region: str | None


@dataclass(frozen=True, slots=True)
class FormVersion:
    form_id: str
    version: str
    org_id: str | None  # None: published for every organisation
    spec: dict[str, Any]  # FormSpec JSON
    published_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One stored revision; `to_envelope()` gives back exactly what the device signed, unless
    a consent withdrawal erased its sealed part since (its signature, over the sealed bytes,
    then no longer verifies: the signed withdrawal revision of the record says why)."""

    id: UUID
    revision: str
    base_revision: str | None
    org_id: str
    region: str | None
    device_id: str  # the author (signer)
    pushed_by: str  # the device that pushed it (differs for relays)
    form_id: str
    form_version: str
    created_at: datetime
    updated_at: datetime
    stats: dict[str, Any]
    sealed: bytes | None
    deleted: bool
    signature: bytes
    content_digest: str
    received_at: datetime
    seq: int
    status: RevisionStatus
    consent_withdrawn: bool = False  # this revision withdrew the consent (it seals nothing)
    # The relays it came through, nearest the device first (`RelayHop` JSON); () if none.
    hops: tuple[dict[str, str], ...] = ()
    # The attachments' manifest it was signed with (`AttachmentRef` JSON); () if none.
    attachments: tuple[dict[str, Any], ...] = ()
    # Batch-signed: the inclusion proof under its batch signature (`ReceiptProof` JSON).
    signature_proof: str | None = None

    def to_envelope(self) -> RecordEnvelope:
        return RecordEnvelope(
            id=self.id,
            form_id=self.form_id,
            form_version=self.form_version,
            revision=self.revision,
            base_revision=self.base_revision,
            created_at=self.created_at,
            updated_at=self.updated_at,
            device_id=self.device_id,
            stats=self.stats,
            sealed=self.sealed,
            deleted=self.deleted,
            consent_withdrawn=self.consent_withdrawn,
            attachments=list(self.attachments),
            signature=self.signature,
            proof=(
                None
                if self.signature_proof is None
                else ReceiptProof.model_validate_json(self.signature_proof)
            ),
        )


@dataclass(frozen=True, slots=True)
class RecordHead:
    """A record as a whole: its current revision and whether it waits for conflict review."""

    id: UUID
    org_id: str
    form_id: str
    head_revision: str
    deleted: bool
    in_conflict: bool
    siblings: list[str]  # revisions stored as conflicting with the head (oldest first)
    consent_withdrawn: bool = False  # every revision's sealed part was erased, for good
    region: str | None = None  # its owner's region (the record's region)


@dataclass(frozen=True, slots=True)
class DeviceContact:
    """What a pushing device said of itself (`waiting`, `app_version`: None if not said),
    noted with its push."""

    waiting: int | None = None
    app_version: str | None = None


@dataclass(frozen=True, slots=True)
class PushResult:
    """The storage outcome of one pushed envelope; the app turns it into a RecordOutcome.

    For accepted, duplicate and conflict, `seq`, `received_at` and `content_digest` are the
    stored revision's (a duplicate gets the first push's values again, so its receipt is
    identical) and `current_revision` is the record's head. For rejected, `errors` say why
    (codes `revision_reused`, `record_id_taken`).
    """

    record_id: UUID
    revision: str
    status: OutcomeStatus
    seq: int | None = None
    received_at: datetime | None = None
    content_digest: str | None = None
    current_revision: str | None = None
    errors: list[WireFieldError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which record, when (UTC). Never personal data, never stats values."""

    id: int
    at: datetime
    actor: str  # e.g. "device:<id>", "admin:cli"
    action: str  # e.g. "push", "enrol", "revoke", "read_record", "publish_form"
    outcome: str  # e.g. "accepted", "ok", "refused:code_expired"
    org_id: str | None = None
    device_id: str | None = None
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatsRow:
    """Number of records (not revisions) of one form in one organisation, by head status.

    status: "conflict" (flagged for review), "deleted" (head is a tombstone), else "current".
    """

    org_id: str
    form_id: str
    status: Literal["current", "conflict", "deleted"]
    records: int


@dataclass(frozen=True, slots=True)
class OfficeFilter:
    """What the office asks for; None: any. `received_from` inclusive, `received_to`
    exclusive (aware datetimes)."""

    form_id: str | None = None
    region: str | None = None
    device_id: str | None = None
    review_state: ReviewState | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class OfficeRow:
    id: UUID
    form_id: str
    form_version: str
    revision: str
    region: str | None
    device_id: str
    created_at: datetime
    updated_at: datetime
    received_at: datetime
    deleted: bool
    in_conflict: bool
    review_state: ReviewState
    stats: dict[str, Any]
    duplicate_of: UUID | None = None  # merged by the office into this record (same person)
    attachments: AttachmentsStored | None = None  # None: the head has no attachments


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record's sealed part as the office gets it: the head, the record's region, and its
    head revision (every stored revision, by seq, with `history`)."""

    head: RecordHead
    region: str | None
    revisions: list[StoredRecord]


@dataclass(frozen=True, slots=True)
class OfficePage:
    """Rows, newest first; `next_after`: the head seq to continue below, None at the end."""

    rows: list[OfficeRow]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class ReviewStored:
    record_id: UUID
    revision: str
    state: ReviewState
    comment: str | None
    reviewed_at: datetime


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    """Two records that may be one person: their office rows and the blocking keys shared."""

    pair: str
    rows: tuple[OfficeRow, OfficeRow]
    shared: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatchDecisionStored:
    pair: str
    decision: str
    kept: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class Attendance:
    record_id: UUID
    subject: str
    stats: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PeopleCount:
    """Participant instances (`attendances`) of a form's records and the `people` they are;
    `to_confirm`: pairs with the same name only, for a coordinator."""

    form_id: str
    attendances: int
    people: int
    to_confirm: list[tuple[str, Attendance, Attendance]]


@dataclass(frozen=True, slots=True)
class DirectoryListing:
    """An organisation in the referral directory: its services `(code, label)` and keys."""

    org_id: str
    org_name: str
    recipients: list[dict[str, Any]]
    services: list[tuple[str, str]]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralRow:
    """A stored referral, with both organisations' names; `sealed` None once erased."""

    id: str
    from_org: str
    from_org_name: str
    to_org: str
    to_org_name: str
    service: str
    record_id: str
    sent_by: str
    sealed: bytes | None
    digest: str
    status: str
    reason: str | None
    sent_at: datetime
    updated_at: datetime
    from_region: str | None = None  # the referred record's region (the sender's statistics)
