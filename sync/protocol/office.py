"""The office's view of the server (`/v1/office/...`): incoming records as the office may see
them (statistical fields only, never sealed parts), one page at a time, and reviews.

Review states follow ODK Central's (received, has_issues, edited, approved, rejected): the
server sets `received` on a new record, and a new revision pushed after a review moves it on
(`has_issues` back to `received`, `approved`/`rejected` to `edited`); people set the other
three, with a comment required for `has_issues` and `rejected`.

Case managers and admins (who hold the organisation's private key) also fetch a record's
sealed part (`SealedRecordView`), to open on their own device: the server cannot.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter, model_validator

from sync.protocol.records import RecordEnvelope
from sync.protocol.wire import B64Bytes, Revision, Role, Timestamp, WireModel

__all__ = [
    "APP_VERSION_HEADER",
    "MAX_APP_VERSION",
    "MAX_OFFICE_PAGE",
    "MAX_RECORDS_WAITING",
    "MAX_REVIEW_COMMENT",
    "REVIEW_REQUEST",
    "WAITING_HEADER",
    "Approval",
    "AttachmentsStored",
    "DeviceRevoked",
    "Objection",
    "OfficeDevice",
    "OfficeDevices",
    "OfficeRecord",
    "OfficeRecordsPage",
    "ReviewDecision",
    "ReviewRequest",
    "ReviewResult",
    "ReviewState",
    "SealedRecordView",
]

ReviewState = Literal["received", "has_issues", "edited", "approved", "rejected"]
ReviewDecision = Literal["approved", "has_issues", "rejected"]
# Characters of a review comment: a note for the collector, not a case file.
MAX_REVIEW_COMMENT = 500
MAX_OFFICE_PAGE = 1000

# Optional headers a device's sync requests (push and pull) carry about the device itself, for
# the office's device list: how many records wait on it to be sent, and its app's version. An
# older app sends neither and keeps working; the server keeps the last ones said.
WAITING_HEADER = "X-Fieldapp-Records-Waiting"
APP_VERSION_HEADER = "X-Fieldapp-App-Version"
MAX_RECORDS_WAITING = 10_000_000
MAX_APP_VERSION = 40


class _Review(WireModel):
    comment: str | None

    @model_validator(mode="after")
    def _comment_trimmed(self) -> _Review:
        self.comment = (self.comment or "").strip() or None
        return self


class Approval(_Review):
    """An approval: a comment is welcome, not required."""

    state: Literal["approved"]
    comment: str | None = Field(default=None, max_length=MAX_REVIEW_COMMENT)


class Objection(_Review):
    """has_issues or rejected: the collector is told why, so a comment with some text in it
    is required (in the schema too, so a client generated from it cannot send none)."""

    state: Literal["has_issues", "rejected"]
    comment: str = Field(min_length=1, max_length=MAX_REVIEW_COMMENT, pattern=r"\S")


# `POST /v1/office/records/{id}:review`: the office's decision on a record's head.
ReviewRequest = Annotated[Approval | Objection, Field(discriminator="state")]
REVIEW_REQUEST: TypeAdapter[Approval | Objection] = TypeAdapter(ReviewRequest)


class ReviewResult(WireModel):
    """What a review stored: the state of the record's head `revision`, when."""

    record_id: UUID
    revision: Revision
    state: ReviewState
    comment: str | None = None
    reviewed_at: Timestamp


class AttachmentsStored(WireModel):
    """Of the chunks a record's head revision's attachments need, how many the server has:
    the record waits for attachments until `stored` reaches `needed`."""

    stored: int = Field(ge=0)
    needed: int = Field(ge=0)

    @property
    def complete(self) -> bool:
        return self.stored >= self.needed


class OfficeRecord(WireModel):
    """One record as the office lists it: its head revision's statistical fields, who sent
    it (`device_id`, the record's owner) from which `region`, when the server received its
    head (`received_at`), and its review state. Never sealed bytes."""

    id: UUID
    form_id: str
    form_version: str
    revision: Revision
    region: str | None
    device_id: str
    created_at: Timestamp
    updated_at: Timestamp
    received_at: Timestamp
    deleted: bool
    in_conflict: bool
    review_state: ReviewState
    stats: dict[str, object]
    # Set when the office merged this record into another as the same person: it stays
    # listed (nothing is deleted) and reports count the person once, by the kept record.
    duplicate_of: UUID | None = Field(default=None, exclude_if=lambda kept: kept is None)
    # None: the head revision has no attachments.
    attachments: AttachmentsStored | None = Field(
        default=None, exclude_if=lambda stored: stored is None
    )


class OfficeRecordsPage(WireModel):
    """A page of records, newest received first; `next_cursor` (opaque) asks for the next
    page, None when this one is the last."""

    records: list[OfficeRecord]
    next_cursor: str | None


class SealedRecordView(WireModel):
    """A record's sealed part for the office that holds the organisation's key
    (`GET /v1/office/records/{id}/sealed`): its head revision's envelope, as the device
    signed it (every stored revision, oldest first, when asked for its history). An envelope
    whose sealed part a consent withdrawal erased has `sealed` None. `epochs`: the headers
    of the sealing epochs its epoch envelopes name, by id (fieldapp.crypto.epochs; left out
    when none), which the office needs to open them."""

    id: UUID
    form_id: str
    region: str | None
    head_revision: Revision
    deleted: bool
    in_conflict: bool
    consent_withdrawn: bool
    revisions: list[RecordEnvelope]
    epochs: dict[str, B64Bytes] = Field(default_factory=dict, exclude_if=lambda epochs: not epochs)


class OfficeDevice(WireModel):
    """One enrolled device as the office lists it (`GET /v1/office/devices`): who it is
    (role, region, label), when it enrolled or was revoked, when the server last heard from it
    and when it last pulled (a sync's last step), and what its last sync said of it (records
    waiting to be sent, app version; None when it never said: an older app)."""

    id: str
    label: str
    role: Role
    region: str | None
    enrolled_at: Timestamp
    revoked_at: Timestamp | None
    last_seen_at: Timestamp | None
    last_sync_at: Timestamp | None
    records_waiting: int | None
    app_version: str | None


class OfficeDevices(WireModel):
    """The organisation's devices (the viewer's region's, for a regional office), revoked
    ones included, by enrolment time."""

    devices: list[OfficeDevice]


class DeviceRevoked(WireModel):
    """Answer of `POST /v1/office/devices/{device_id}:revoke`."""

    device_id: str
    revoked_at: Timestamp
