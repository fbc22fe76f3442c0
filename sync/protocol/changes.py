"""The change log devices pull (`GET /v1/changes`): one model per kind of change, each with
the data of its kind, told apart by `kind`; and a form version as the server publishes it.

The data models list their fields in alphabetical order: the server has always sent data
with sorted keys, so a change serialises to the very bytes it was sent as.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from sync.protocol.wire import PROTOCOL_VERSION, B64Bytes, ProtocolVersion, Timestamp, WireModel

__all__ = [
    "Change",
    "ChangeKind",
    "ChangesPage",
    "EventChange",
    "FormChange",
    "FormChangeData",
    "LenientChangesPage",
    "PublishedForm",
    "RecordChange",
    "RecordChangeData",
    "ReferenceChange",
    "ReviewChange",
    "ReviewChangeData",
    "RevocationChange",
    "RevocationChangeData",
    "RosterChange",
    "RosterChangeData",
    "UnknownChange",
]

ChangeKind = Literal["form", "reference", "event", "record", "revocation", "roster", "review"]

# A time as the change log has always written it: `datetime.isoformat()` (an offset, never Z).
_IsoTimestamp = Annotated[
    Timestamp,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class FormChangeData(WireModel):
    """A form version published for the device's organisation (or for every one)."""

    form_id: str
    spec: dict[str, Any]  # the FormSpec JSON, as `PublishedForm.spec`
    version: str


class RecordChangeData(WireModel):
    """What happened to a record the device takes part in: metadata only, never stats or
    sealed bytes. `revision` is the revision stored (or, for a resolution, kept), by
    `device_id`; `head_revision` the record's head now; `conflict` whether it waits for
    review, with `siblings` the revisions kept beside the head. A resolution says `resolved`
    and which revisions it set aside (`superseded`); a consent withdrawal says
    `consent_withdrawn`: every copy of the record loses its sealed part. Those three are left
    out of the JSON unless set, as the server has always written them."""

    base_revision: str | None
    conflict: bool
    consent_withdrawn: bool = Field(default=False, exclude_if=lambda withdrawn: not withdrawn)
    device_id: str
    form_id: str
    form_version: str
    head_revision: str
    resolved: bool = Field(default=False, exclude_if=lambda resolved: not resolved)
    revision: str
    # Tuples, not lists: a page holds thousands of these, and a tuple of text costs the
    # garbage collector nothing (measured: the pull of 2,000 changes, bench/sync_vs_kinto.py).
    siblings: tuple[str, ...]
    superseded: tuple[str, ...] = Field(default=(), exclude_if=lambda superseded: not superseded)


class RevocationChangeData(WireModel):
    """A device of the organisation was revoked: its token no longer works."""

    device_id: str
    revoked_at: _IsoTimestamp


class RosterChangeData(WireModel):
    """A participant of the team's roster, sealed with the team key (see `RosterEntry`);
    nothing in a tombstone (`{}` on the wire)."""

    sealed: B64Bytes | None = Field(default=None, exclude_if=lambda sealed: sealed is None)


class ReviewChangeData(WireModel):
    """The office reviewed a record this device wrote (or a new revision moved the review
    on): its `state` for the head `revision`, the reviewer's `comment` (required for
    has_issues and rejected), when. States as `sync.protocol.ReviewState`."""

    comment: str | None = Field(default=None, exclude_if=lambda comment: comment is None)
    reviewed_at: _IsoTimestamp
    revision: str
    state: Literal["received", "has_issues", "edited", "approved", "rejected"]


class _Change(WireModel):
    """What every change has; `deleted` marks a tombstone (the item is gone)."""

    seq: int
    kind: ChangeKind
    key: str
    deleted: bool = False


class FormChange(_Change):
    """key `<form_id>@<version>`."""

    kind: Literal["form"]
    data: FormChangeData


class ReferenceChange(_Change):
    """A reference list the organisation shares: its data is the organisation's own JSON."""

    kind: Literal["reference"]
    data: dict[str, Any] = Field(default_factory=dict)


class EventChange(_Change):
    """A training event shared with trainers: its data holds the answers to the training
    form's event fields, by field name."""

    kind: Literal["event"]
    data: dict[str, Any] = Field(default_factory=dict)


class RecordChange(_Change):
    """key: the record id; `deleted` when its head is a tombstone."""

    kind: Literal["record"]
    data: RecordChangeData


class RevocationChange(_Change):
    """key: the revoked device's id."""

    kind: Literal["revocation"]
    data: RevocationChangeData


class RosterChange(_Change):
    """key: the roster entry's key (the participant's repeat instance id)."""

    kind: Literal["roster"]
    data: RosterChangeData = Field(default_factory=RosterChangeData)


class ReviewChange(_Change):
    """key: the record id. Reaches the devices that wrote or pushed a revision of it."""

    kind: Literal["review"]
    data: ReviewChangeData


Change = Annotated[
    FormChange
    | ReferenceChange
    | EventChange
    | RecordChange
    | RevocationChange
    | RosterChange
    | ReviewChange,
    Field(discriminator="kind"),
]
"""One entry of the server's change log, of one of the kinds above."""


class ChangesPage(WireModel):
    """A page of changes after the client's cursor, in `seq` order.

    `next_cursor` is the cursor to send next; the client stores it only after it has stored
    the page. The server never hands out a change with a seq below a cursor it already gave.
    """

    protocol: ProtocolVersion = PROTOCOL_VERSION
    changes: list[Change]
    next_cursor: int
    has_more: bool


def _not_a_known_kind(kind: str) -> str:
    if kind in get_args(ChangeKind):
        raise ValueError(f"a {kind!r} change must have the fields of its kind")
    return kind


class UnknownChange(WireModel):
    """A change of a kind this version does not know (a newer server's, a relay's): read only
    to be skipped, so new kinds can be added without breaking older clients (see
    docs/sync-protocol.md, Versioning). Whatever else it carries is ignored. A change of a
    known kind is never read as one: if it is malformed, the page is refused."""

    model_config = ConfigDict(extra="ignore")

    seq: int
    kind: Annotated[str, AfterValidator(_not_a_known_kind)]


class LenientChangesPage(WireModel):
    """A page of changes as a client reads it: as `ChangesPage`, but a change of a kind this
    version does not know is read as an `UnknownChange` instead of refusing the whole page."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    changes: list[Annotated[Change | UnknownChange, Field(union_mode="left_to_right")]]
    next_cursor: int
    has_more: bool


class PublishedForm(WireModel):
    """A form version as the server publishes it (`GET /v1/forms/{form_id}/{version}`).

    `spec` is the FormSpec JSON, the same as a `form` change's `data.spec`.
    """

    form_id: str
    version: str
    spec: dict[str, Any]
