"""The sync wire protocol, version 1: every model that crosses the wire, defined once.

See docs/sync-protocol.md for the exchange. The protocol is built so that relays (a server that
is also a client of an upstream server) and offline file bundles reuse it unchanged: a record
envelope is self-contained (sealed content, clear statistics, the device's signature), and
its identity is `(id, revision)`, so replaying it anywhere, any number of times, is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from fieldapp.crypto import canonical_json

__all__ = [
    "MAX_BATCH_RECORDS",
    "PROTOCOL_VERSION",
    "REVISION_RE",
    "B64Bytes",
    "Change",
    "ChangeKind",
    "ChangesPage",
    "EnrolRequest",
    "EnrolResponse",
    "ErrorBody",
    "Health",
    "OutcomeStatus",
    "PublishedForm",
    "PushRequest",
    "PushResponse",
    "Receipt",
    "RecordEnvelope",
    "RecordOutcome",
    "RecordView",
    "Role",
    "WireFieldError",
]

PROTOCOL_VERSION: Literal[1] = 1
MAX_BATCH_RECORDS = 500
REVISION_RE = re.compile(r"^[1-9][0-9]{0,8}-[0-9a-f]{32}$")

Role = Literal["collector", "trainer", "coordinator", "case_manager", "admin"]


def _b64decode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError("not valid base64") from exc


B64Bytes = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
    # What /openapi.json publishes: base64 text (OpenAPI's "byte" format), not raw octets.
    WithJsonSchema({"type": "string", "format": "byte"}),
]
# A revision as /openapi.json publishes it; `RecordEnvelope` checks it with REVISION_RE.
_Revision = Annotated[str, WithJsonSchema({"type": "string", "pattern": REVISION_RE.pattern})]


def _iso_text(value: Any) -> Any:
    """Timestamps cross the wire as ISO 8601 text only: pydantic alone would also take numbers
    (and digit strings) as Unix times, which the published schema does not allow."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME.match(value)):
        return value
    raise ValueError("timestamps must be ISO 8601 text, e.g. 2026-11-02T09:30:00Z")


def _exact_protocol(value: Any) -> Any:
    if type(value) is not int:  # not True, not 1.0: the schema says the integer 1
        raise ValueError(f"protocol must be the integer {PROTOCOL_VERSION}")
    return value


_ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
_Timestamp = Annotated[datetime, BeforeValidator(_iso_text)]
_Protocol = Annotated[Literal[1], BeforeValidator(_exact_protocol)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordEnvelope(_Wire):
    """One revision of one record, as a device pushes it (and a relay forwards it, unchanged).

    `stats` holds only the fields the form marks statistical; everything else is in `sealed`,
    an HPKE envelope only the organisation's keys open (see fieldapp.crypto.seal). `sealed` is
    None when the record is a tombstone (`deleted`) or its sealed part was withdrawn (consent).
    `signature` is the device's Ed25519 signature over `signing_bytes()`.
    """

    id: UUID
    form_id: str = Field(min_length=1, max_length=64)
    form_version: str = Field(min_length=1, max_length=32)
    revision: _Revision
    base_revision: _Revision | None = None
    created_at: _Timestamp
    updated_at: _Timestamp
    device_id: str = Field(min_length=1, max_length=64)
    stats: dict[str, Any] = Field(default_factory=dict)
    sealed: B64Bytes | None = None
    deleted: StrictBool = False
    signature: B64Bytes

    @field_validator("revision", "base_revision")
    @classmethod
    def _revision_shape(cls, value: str | None) -> str | None:
        if value is not None and not REVISION_RE.fullmatch(value):
            raise ValueError("revision must look like '<generation>-<32 hex digits>'")
        return value

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a UTC offset")
        return value

    def signing_bytes(self) -> bytes:
        """What the device signs: every field but the signature, canonically encoded."""
        body = self.model_dump(mode="json", exclude={"signature"})
        return b"fieldapp-record-v1\n" + canonical_json(body)

    @property
    def content_digest(self) -> str:
        """sha256 of the signed content: two pushes of one (id, revision) must agree on it."""
        return hashlib.sha256(self.signing_bytes()).hexdigest()


class PushRequest(_Wire):
    protocol: _Protocol = PROTOCOL_VERSION
    records: list[RecordEnvelope] = Field(max_length=MAX_BATCH_RECORDS)


class WireFieldError(_Wire):
    """A field-level reason for rejection; `field` is the field name, `path` locates it."""

    field: str
    path: str
    code: str
    message: str


class Receipt(_Wire):
    """The server's signed acknowledgement that it holds `(record_id, revision)` durably.

    Only with a receipt may a device purge its local copy of a sent record (by policy).
    """

    record_id: UUID
    revision: str
    content_digest: str
    seq: int
    received_at: datetime
    server_key_id: str
    signature: B64Bytes

    def signing_bytes(self) -> bytes:
        body = self.model_dump(mode="json", exclude={"signature"})
        return b"fieldapp-receipt-v1\n" + canonical_json(body)


OutcomeStatus = Literal["accepted", "duplicate", "conflict", "rejected"]


class RecordOutcome(_Wire):
    """What became of one pushed record.

    - accepted: stored; `receipt` is set.
    - duplicate: this (id, revision) was already stored, identical: nothing written; `receipt`
      is set again (permanently idempotent, not a time-limited key).
    - conflict: the edit was based on a stale revision: both versions are kept and flagged for
      review; `current_revision` is the server's head; `receipt` is set (the pushed version is
      stored durably as a conflicting sibling).
    - rejected: not stored; `errors` say why, field by field; the device keeps the record.
    """

    id: UUID
    revision: str
    status: OutcomeStatus
    errors: list[WireFieldError] = Field(default_factory=list)
    receipt: Receipt | None = None
    current_revision: str | None = None


class PushResponse(_Wire):
    protocol: _Protocol = PROTOCOL_VERSION
    outcomes: list[RecordOutcome]


ChangeKind = Literal["form", "reference", "event", "record", "revocation"]


class Change(_Wire):
    """One entry of the server's change log; `deleted` marks a tombstone."""

    seq: int
    kind: ChangeKind
    key: str
    deleted: bool = False
    data: dict[str, Any] = Field(default_factory=dict)


class ChangesPage(_Wire):
    """A page of changes after the client's cursor, in `seq` order.

    `next_cursor` is the cursor to send next; the client stores it only after it has stored
    the page. The server never hands out a change with a seq below a cursor it already gave.
    """

    protocol: _Protocol = PROTOCOL_VERSION
    changes: list[Change]
    next_cursor: int
    has_more: bool


class EnrolRequest(_Wire):
    """A device asks to join with a one-time code, presenting its Ed25519 public key."""

    code: str = Field(min_length=6, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)
    # Exactly the base64 texts of 32 bytes (the validator checks the length).
    device_public_key: Annotated[
        B64Bytes, WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$"})
    ]
    device_label: str = Field(default="", max_length=100)

    @field_validator("device_public_key")
    @classmethod
    def _ed25519(cls, value: bytes) -> bytes:
        if len(value) != 32:
            raise ValueError("device_public_key must be a 32-byte Ed25519 public key")
        return value


class EnrolResponse(_Wire):
    device_id: str
    token: str
    organisation_id: str
    region: str | None
    role: Role
    server_public_key: B64Bytes
    server_key_id: str
    recipients: list[dict[str, Any]]  # fieldapp.crypto.RecipientKey dumps: whom to seal to


class Health(_Wire):
    """`GET /v1/health`: the server is up and speaks this protocol version."""

    status: Literal["ok"] = "ok"
    protocol: int = PROTOCOL_VERSION


class PublishedForm(_Wire):
    """A form version as the server publishes it (`GET /v1/forms/{form_id}/{version}`).

    `spec` is the FormSpec JSON, the same as a `form` change's `data.spec`.
    """

    form_id: str
    version: str
    spec: dict[str, Any]


class RecordView(_Wire):
    """Every stored revision of one record (`GET /v1/records/{id}`), as the devices signed
    them: `head_revision` is current; `siblings` are revisions kept as conflicting with it."""

    protocol: _Protocol = PROTOCOL_VERSION
    id: UUID
    form_id: str
    head_revision: str
    deleted: bool
    in_conflict: bool
    siblings: list[str]
    revisions: list[RecordEnvelope]


class ErrorBody(_Wire):
    """Every 4xx/5xx body: a stable `error` code and a human message."""

    error: str
    message: str
    fields: list[WireFieldError] = Field(default_factory=list)
