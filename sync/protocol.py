"""The sync wire protocol, version 1: every model that crosses the wire, defined once.

See docs/sync-protocol.md for the exchange. The protocol is built so that relays (a server that
is also a client of an upstream server) and offline file bundles reuse it unchanged: a record
envelope is self-contained (sealed content, clear statistics, the device's signature), and
its identity is `(id, revision)`, so replaying it anywhere, any number of times, is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import math
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
    model_validator,
)

from fieldapp.crypto import canonical_json

__all__ = [
    "MAX_BATCH_RECORDS",
    "MAX_STATS_DEPTH",
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
    "ReceiptMode",
    "ReceiptProof",
    "RecordEnvelope",
    "RecordOutcome",
    "RecordView",
    "Role",
    "WireFieldError",
    "batch_receipt_signing_bytes",
    "receipt_tree",
]

PROTOCOL_VERSION: Literal[1] = 1
MAX_BATCH_RECORDS = 500
# Statistical values are scalars, lists of choices and repeat instances: a few levels deep.
MAX_STATS_DEPTH = 32
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

    @field_validator("stats")
    @classmethod
    def _signable(cls, value: dict[str, Any]) -> dict[str, Any]:
        """`stats` must have a canonical JSON form to be signed and stored: UTF-8 text only
        (no lone surrogates), finite numbers and bounded nesting; else signing it would crash
        or quietly change it (NaN becomes null), not refuse it."""
        pending: list[tuple[Any, int]] = [(value, 1)]
        while pending:
            node, depth = pending.pop()
            if depth > MAX_STATS_DEPTH:
                raise ValueError(f"stats may nest at most {MAX_STATS_DEPTH} levels deep")
            if isinstance(node, dict):
                pending.extend((key, depth) for key in node)
                pending.extend((item, depth + 1) for item in node.values())
            elif isinstance(node, list):
                pending.extend((item, depth + 1) for item in node)
            elif isinstance(node, str):
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("stats text must be valid Unicode") from None
            elif isinstance(node, float) and not math.isfinite(node):
                raise ValueError("stats numbers must be finite (NaN and Infinity are not JSON)")
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


ReceiptMode = Literal["record", "batch"]
"""`POST /v1/records:push?receipts=...`: one signature per record (the default) or per batch."""

_LEAF, _NODE = b"\x00", b"\x01"  # RFC 9162 domain separation of leaves and inner nodes


class ReceiptProof(_Wire):
    """Where a receipt's entry sits in a batch the server signed once: the Merkle audit path
    (RFC 9162 tree shape, SHA-256) from leaf `index` of a tree of `size` leaves to its root,
    sibling hashes from the leaf upwards."""

    index: int = Field(ge=0, lt=MAX_BATCH_RECORDS)
    size: int = Field(ge=1, le=MAX_BATCH_RECORDS)
    path: list[B64Bytes] = Field(max_length=16)

    @model_validator(mode="after")
    def _fits_the_tree(self) -> ReceiptProof:
        if self.index >= self.size:
            raise ValueError("index must be below size")
        if any(len(node) != 32 for node in self.path):
            raise ValueError("each path node must be a 32-byte SHA-256 hash")
        if len(self.path) != _path_length(self.index, self.size):
            raise ValueError("the path does not fit a tree of this size")
        return self

    def root(self, leaf: bytes) -> bytes:
        """The root this path leads to from `leaf`, the entry's leaf hash."""
        return _climb(leaf, self.index, self.size, self.path)


def _split(size: int) -> int:
    """Where RFC 9162 splits a tree of `size` > 1 leaves: the largest power of two below."""
    return 1 << ((size - 1).bit_length() - 1)


def _path_length(index: int, size: int) -> int:
    if size == 1:
        return 0
    split = _split(size)
    return 1 + (
        _path_length(index, split) if index < split else _path_length(index - split, size - split)
    )


def _climb(node: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    if size == 1:
        return node
    split = _split(size)
    if index < split:
        below = _climb(node, index, split, path[:-1])
        return hashlib.sha256(_NODE + below + path[-1]).digest()
    below = _climb(node, index - split, size - split, path[:-1])
    return hashlib.sha256(_NODE + path[-1] + below).digest()


class Receipt(_Wire):
    """The server's signed acknowledgement that it holds `(record_id, revision)` durably.

    Only with a receipt may a device purge its local copy of a sent record (by policy).
    Without `proof`, `signature` signs this receipt alone. With `proof` (batch receipts),
    `signature` signs the root of the batch's Merkle tree, and this receipt's entry is a leaf
    of it: `signing_bytes()` recomputes that root, so the receipt verifies on its own either
    way, with `verify(server key, signature, signing_bytes())`.
    """

    record_id: UUID
    revision: str
    content_digest: str
    seq: int
    received_at: datetime
    server_key_id: str
    signature: B64Bytes
    # Left out of the JSON when absent, so per-record receipts stay as version 1 had them.
    proof: ReceiptProof | None = Field(default=None, exclude_if=lambda proof: proof is None)

    def entry_bytes(self) -> bytes:
        """What the server vouches for: every field but the signature and the proof."""
        body = self.model_dump(mode="json", exclude={"signature", "proof"})
        return b"fieldapp-receipt-v1\n" + canonical_json(body)

    def signing_bytes(self) -> bytes:
        """What `signature` signs: the entry itself, or the root of the batch its proof
        places the entry in."""
        entry = self.entry_bytes()
        if self.proof is None:
            return entry
        root = self.proof.root(hashlib.sha256(_LEAF + entry).digest())
        return batch_receipt_signing_bytes(root, self.proof.size, self.server_key_id)


def batch_receipt_signing_bytes(root: bytes, size: int, server_key_id: str) -> bytes:
    """What the server signs once per batch: the Merkle root over the batch's receipt entries."""
    root_text = base64.b64encode(root).decode("ascii")
    body = {"root": root_text, "size": size, "server_key_id": server_key_id}
    return b"fieldapp-receipt-batch-v1\n" + canonical_json(body)


def receipt_tree(entries: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The Merkle root (RFC 9162) over receipt entries (`Receipt.entry_bytes()`, in batch
    order) and each entry's audit path, leaf to root."""
    if not entries:
        raise ValueError("a receipt tree needs at least one entry")
    return _subtree([hashlib.sha256(_LEAF + entry).digest() for entry in entries])


def _subtree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    if len(leaves) == 1:
        return leaves[0], [[]]
    split = _split(len(leaves))
    left, left_paths = _subtree(leaves[:split])
    right, right_paths = _subtree(leaves[split:])
    for path in left_paths:
        path.append(right)
    for path in right_paths:
        path.append(left)
    return hashlib.sha256(_NODE + left + right).digest(), left_paths + right_paths


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
