"""The sync wire protocol, version 1: every model that crosses the wire, defined once.

See docs/sync-protocol.md for the exchange. The protocol is built so that relays (a server that
is also a client of an upstream server) and offline file bundles reuse it unchanged: a record
envelope is self-contained (sealed content, clear statistics, the device's signature), and
its identity is `(id, revision)`, so replaying it anywhere, any number of times, is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
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

__all__ = [
    "ENROL_CHECK_SYMBOLS",
    "ENROL_CODE_ALPHABET",
    "ENROL_SECRET_SYMBOLS",
    "MAX_BATCH_RECORDS",
    "MAX_FIELD_ERRORS",
    "MAX_RECEIPT_CHECK",
    "MAX_ROSTER_ENTRIES",
    "MAX_ROSTER_ENTRY_BYTES",
    "MAX_STATS_DEPTH",
    "MORE_ERRORS",
    "PROTOCOL_VERSION",
    "REVISION_RE",
    "ROSTER_ROLES",
    "B64Bytes",
    "BadEnrolmentCode",
    "BadEnrolmentLink",
    "Change",
    "ChangeKind",
    "ChangesPage",
    "EnrolRequest",
    "EnrolResponse",
    "EnrolmentCode",
    "EnrolmentLink",
    "ErrorBody",
    "Health",
    "InsecureServerURL",
    "OutcomeStatus",
    "ProtocolError",
    "PublishedForm",
    "PushRequest",
    "PushResponse",
    "Receipt",
    "ReceiptCheck",
    "ReceiptCheckResponse",
    "ReceiptMode",
    "ReceiptProof",
    "RecordEnvelope",
    "RecordOutcome",
    "RecordView",
    "RevisionRef",
    "Role",
    "RosterEntry",
    "RosterOutcome",
    "RosterPush",
    "RosterPushResponse",
    "RosterStatus",
    "WireFieldError",
    "batch_receipt_signing_bytes",
    "canonical_json",
    "capped_field_errors",
    "check_server_url",
    "normalise_enrol_code",
    "parse_fingerprint",
    "receipt_tree",
]

PROTOCOL_VERSION: Literal[1] = 1
MAX_BATCH_RECORDS = 500
MAX_RECEIPT_CHECK = 500  # revisions one `POST /v1/receipts:check` asks about
# Statistical values are scalars, lists of choices and repeat instances: a few levels deep.
MAX_STATS_DEPTH = 32
# An error list the server answers (a rejected record's `errors`, a 4xx body's `fields`) names
# at most this many problems, then one entry with code MORE_ERRORS counting the rest.
MAX_FIELD_ERRORS = 20
MORE_ERRORS = "more_errors"
REVISION_RE = re.compile(r"^[1-9][0-9]{0,8}-[0-9a-f]{32}$")

Role = Literal["collector", "trainer", "coordinator", "case_manager", "admin"]
# The roles that register people in the field, and so share them with their team's roster.
ROSTER_ROLES: frozenset[Role] = frozenset({"collector", "trainer"})
MAX_ROSTER_ENTRIES = 500
# One participant's details, sealed with the team key: a few hundred bytes in practice.
MAX_ROSTER_ENTRY_BYTES = 16 * 1024


class ProtocolError(Exception):
    """Base of the protocol's own errors: it sits below the app and the server, so it names
    no error of theirs (the CLI and the UI catch it beside `FieldappError`)."""


def canonical_json(obj: Any) -> bytes:
    """The one byte form of a JSON value that is signed and hashed everywhere.

    Sorted keys, no whitespace, UTF-8 without escapes. NaN and infinities are refused (ValueError)
    because they are not JSON and would not survive a round trip.
    """
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ValueError(f"cannot be canonical JSON: {exc}") from exc
    return text.encode("utf-8")


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
    None when the record is a tombstone (`deleted`) or its sealed part was withdrawn:
    `consent_withdrawn` says the person withdrew their consent, so the server erases the sealed
    part of every stored revision of the record and never stores one again. It is signed like
    every field, and left out of the JSON when false, so other envelopes sign as before.
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
    consent_withdrawn: StrictBool = Field(default=False, exclude_if=lambda withdrawn: not withdrawn)
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
    """A field-level reason for rejection; `field` is the field name, `path` locates it.

    Lists of them are capped (see `capped_field_errors`): the last entry of a capped list has
    code `more_errors`, empty `field` and `path`, and says how many problems were left out.
    """

    field: str
    path: str
    code: str
    message: str


def capped_field_errors(
    errors: Sequence[WireFieldError], left_out: int = 0
) -> list[WireFieldError]:
    """At most MAX_FIELD_ERRORS of `errors`, then one `more_errors` entry counting the rest
    and `left_out` (problems counted but never built): an answer stays small whatever it
    refuses, and old clients read the count as one more problem."""
    more = max(0, len(errors) - MAX_FIELD_ERRORS) + left_out
    kept = list(errors[:MAX_FIELD_ERRORS])
    if more:
        plural = "s" if more != 1 else ""
        message = f"... and {more} more problem{plural}"
        kept.append(WireFieldError(field="", path="", code=MORE_ERRORS, message=message))
    return kept


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


ChangeKind = Literal["form", "reference", "event", "record", "revocation", "roster"]


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
    """`recipients` and `server_public_key` are what the device trusts from then on: it
    accepts them only if their fingerprint (fieldapp.crypto.enrolment_fingerprint) is the one
    its enrolment code was issued with (`EnrolmentCode.confirms`).

    `wrapped_team_key`: the team key of the device's organisation and region, wrapped by
    the enrolment code (fieldapp.crypto.wrap_team_key) when the code was issued with one; the
    server cannot open it. Left out of the JSON when absent, as version 1 had it."""

    device_id: str
    token: str
    organisation_id: str
    region: str | None
    role: Role
    server_public_key: B64Bytes
    server_key_id: str
    recipients: list[dict[str, Any]]  # fieldapp.crypto.RecipientKey dumps: whom to seal to
    wrapped_team_key: B64Bytes | None = Field(
        default=None, exclude_if=lambda wrapped: wrapped is None
    )


# Sealed roster bytes as /openapi.json publishes them: base64 of 1 to MAX_ROSTER_ENTRY_BYTES.
_SealedEntry = Annotated[
    B64Bytes,
    WithJsonSchema(
        {
            "type": "string",
            "format": "byte",
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|"
            "[A-Za-z0-9+/]{4})$",
            "maxLength": 4 * math.ceil(MAX_ROSTER_ENTRY_BYTES / 3),
        }
    ),
]


class RosterEntry(_Wire):
    """One person of a team roster (`PUT /v1/team/roster`): `key` is the repeat instance's
    `_id`; `sealed` its details AES-256-GCM-encrypted with the team key (fieldapp.crypto:
    `encrypt(team key, ..., team_aad("roster", org, region, key))`), which the server does not
    hold. `sealed` None withdraws the entry (the person was removed from the event)."""

    key: UUID
    sealed: _SealedEntry | None

    @field_validator("sealed")
    @classmethod
    def _bounded(cls, value: bytes | None) -> bytes | None:
        if value is not None and not 0 < len(value) <= MAX_ROSTER_ENTRY_BYTES:
            raise ValueError(f"a sealed roster entry is 1 to {MAX_ROSTER_ENTRY_BYTES} bytes")
        return value


class RosterPush(_Wire):
    """A batch of roster entries, taken in order (a key named twice: the later one counts)."""

    protocol: _Protocol = PROTOCOL_VERSION
    entries: list[RosterEntry] = Field(min_length=1, max_length=MAX_ROSTER_ENTRIES)


RosterStatus = Literal["stored", "unchanged", "withdrawn", "refused"]
"""stored: new or changed, other devices of the team get it by pull; unchanged: the server
holds exactly this already (a repeated push); withdrawn: removed, the team gets a tombstone;
refused: the key belongs to another region's entry (nothing written)."""


class RosterOutcome(_Wire):
    key: UUID
    status: RosterStatus


class RosterPushResponse(_Wire):
    protocol: _Protocol = PROTOCOL_VERSION
    outcomes: list[RosterOutcome]


class RevisionRef(_Wire):
    """One revision of one record, by its identity."""

    id: UUID
    revision: _Revision

    @field_validator("revision")
    @classmethod
    def _revision_shape(cls, value: str) -> str:
        if not REVISION_RE.fullmatch(value):
            raise ValueError("revision must look like '<generation>-<32 hex digits>'")
        return value


class ReceiptCheck(_Wire):
    """`POST /v1/receipts:check`: does the server still hold these revisions it receipted?
    A device asks now and then, and sends again any revision the answer leaves out."""

    protocol: _Protocol = PROTOCOL_VERSION
    revisions: list[RevisionRef] = Field(min_length=1, max_length=MAX_RECEIPT_CHECK)


class ReceiptCheckResponse(_Wire):
    """The asked revisions the server holds, in the order asked. One left out is not held, or
    not one the device may read (the answer does not tell which)."""

    protocol: _Protocol = PROTOCOL_VERSION
    held: list[RevisionRef]


class Health(_Wire):
    """`GET /v1/health`: the server is up and speaks this protocol version; `degraded`, with
    a `reason`, while its storage cannot write (a device then keeps its records). `reason` is
    left out when ok, so the answer is the same as before `degraded` existed; a client older
    than it sees a 200 and pushes, and the push is refused with 503 `storage_unavailable`."""

    status: Literal["ok", "degraded"] = "ok"
    protocol: int = PROTOCOL_VERSION
    reason: str | None = None


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


class InsecureServerURL(ProtocolError):
    """An `http://` server URL that is not on this machine (loopback): traffic would be clear."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_server_url(url: str) -> str:
    """The URL without a trailing slash, scheme and host in lower case and without the default
    port; InsecureServerURL unless https:// or loopback http://. Devices and the server
    (which prints it into enrolment links) apply this one rule."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InsecureServerURL(f"{url!r} is not a server address: {exc}") from None
    if not host:
        raise InsecureServerURL(f"{url!r} is not a server address: it names no host")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InsecureServerURL(
            f"{url} would send records unencrypted over the network: use https://"
        )
    if parts.scheme not in _DEFAULT_PORTS:
        raise InsecureServerURL(f"{url}: only https:// server addresses are supported")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # as the HTTP client will send it
        except UnicodeError as exc:
            raise InsecureServerURL(f"{url!r} is not a server address: {exc}") from None
    user, at, _ = parts.netloc.rpartition("@")
    address = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        address += f":{port}"
    netloc = f"{user}{at}{address}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BadEnrolmentCode(ProtocolError):
    """Text that is not a whole enrolment code of this version; the message says what to do."""


_MISREAD_SYMBOLS = str.maketrans("OIL", "011")
# An enrolment code starts with its secret: 16 symbols of 5 bits, 80 random bits.
ENROL_SECRET_SYMBOLS = 16


def normalise_enrol_code(code: str) -> str:
    """An enrolment code as typed, made canonical: case, spaces and dashes do not matter, and
    the letters O, I and L read as the digits they look like."""
    return "".join(code.split()).replace("-", "").upper().translate(_MISREAD_SYMBOLS)


# Crockford's base32 without I, L, O, U: nothing to misread when a code is typed from paper.
ENROL_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The check that follows the secret: 16 symbols, 80 bits of the fingerprint (see below).
ENROL_CHECK_SYMBOLS = 16
_CODE_GROUP = 4
_CHECK_INFO = b"fieldapp/enrol-code-check/v1"
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


def _base32(value: int, symbols: int) -> str:
    return "".join(
        ENROL_CODE_ALPHABET[(value >> (5 * (symbols - 1 - i))) & 31] for i in range(symbols)
    )


@dataclass(frozen=True)
class EnrolmentCode:
    """A one-time enrolment code: an 80-bit random `secret` (16 symbols), then a `check` of
    the keys the device will trust (16 symbols), typed as 8 groups of 4, e.g.
    `7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGY`.

    `check` is the first 80 bits of HMAC-SHA256 keyed by the secret over the enrolment
    fingerprint (fieldapp.crypto.enrolment_fingerprint: the organisation's recipient keys and
    the server's receipt-signing key, when the code was issued). Only the secret is sent to
    the server; the device recomputes the check from the keys the server answers with and
    refuses them if it differs. Keys that pass for the organisation's cost a second preimage:
    2^80 hashes for each code (keyed by its secret, nothing can be computed in advance), after
    the secret is seen on the wire and before the code expires (30 days at most).
    """

    secret: str
    check: str

    @classmethod
    def issue(cls, secret: str, fingerprint: bytes) -> EnrolmentCode:
        """The code for a new random `secret` (16 symbols) and the keys' fingerprint."""
        return cls(secret, cls._check_of(secret, fingerprint))

    @classmethod
    def parse(cls, text: str) -> EnrolmentCode:
        """A code as typed: case, spaces and dashes do not matter, O reads 0 and I, L read 1."""
        symbols = normalise_enrol_code(text)
        strange = sorted(set(symbols) - set(ENROL_CODE_ALPHABET))
        if strange:
            raise BadEnrolmentCode(
                f"an enrolment code holds only letters and digits ({''.join(strange)!r} is not"
                " used in codes)"
            )
        whole = ENROL_SECRET_SYMBOLS + ENROL_CHECK_SYMBOLS
        if len(symbols) == ENROL_SECRET_SYMBOLS:
            raise BadEnrolmentCode(
                "this enrolment code is of the earlier, shorter kind, which cannot prove the"
                " server's keys to this device: ask your coordinator for a new code"
            )
        if len(symbols) != whole:
            raise BadEnrolmentCode(
                f"an enrolment code has {whole} letters and digits ({whole // _CODE_GROUP}"
                f" groups of {_CODE_GROUP}); this one has {len(symbols)}"
            )
        return cls(symbols[:ENROL_SECRET_SYMBOLS], symbols[ENROL_SECRET_SYMBOLS:])

    @staticmethod
    def _check_of(secret: str, fingerprint: bytes) -> str:
        mac = hmac.new(secret.encode("ascii"), _CHECK_INFO + fingerprint, hashlib.sha256)
        return _base32(int.from_bytes(mac.digest()[:10], "big"), ENROL_CHECK_SYMBOLS)

    def confirms(self, fingerprint: bytes) -> bool:
        """Whether the code was issued with keys of this fingerprint."""
        return hmac.compare_digest(self.check, self._check_of(self.secret, fingerprint))

    @property
    def secret_text(self) -> str:
        """The secret as the device sends it to the server (the check never leaves it)."""
        return _grouped(self.secret)

    def __str__(self) -> str:
        return _grouped(self.secret + self.check)


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i : i + _CODE_GROUP] for i in range(0, len(symbols), _CODE_GROUP))


def parse_fingerprint(text: str) -> bytes:
    """The enrolment fingerprint written as 64 hex digits (as links carry it), as bytes."""
    if not _FINGERPRINT_RE.match(text.strip().lower()):
        raise BadEnrolmentCode("an enrolment fingerprint is 64 hexadecimal digits")
    return bytes.fromhex(text.strip())


class BadEnrolmentLink(ProtocolError):
    """Text that is not a well-formed enrolment link; the message names the part at fault."""


_ENROL_CODE_RE = re.compile(r"^[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$")
_ENROL_LINK_PREFIX = "fieldapp://enrol?"
_MAX_ENROL_LINK = 2048


@dataclass(frozen=True)
class EnrolmentLink:
    """What an enrolment QR code holds: `fieldapp://enrol?server=<url>&code=<code>` and, from
    codes of this version, `&fingerprint=<64 hex digits>` (the full SHA-256 enrolment
    fingerprint, fieldapp.crypto.enrolment_fingerprint), values URL-encoded. It carries the
    one-time code, so it is a secret until used or expired.

    The server address must be http(s) with a host and nothing after its path; whether the
    device accepts it (https, or http on loopback) is `check_server_url`'s rule, at enrolment.
    """

    server: str
    code: str
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.server)
            web_address = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # such as an unclosed [IPv6 address
            web_address = False
        if not web_address:
            raise BadEnrolmentLink(
                f"the enrolment link's server {self.server!r} is not an http(s) address"
            )
        if parts.username is not None or parts.query or parts.fragment:
            raise BadEnrolmentLink(
                "the enrolment link's server address must not hold a user name, query or fragment"
            )
        if not (6 <= len(self.code) <= 64 and _ENROL_CODE_RE.match(self.code)):
            raise BadEnrolmentLink(
                "the enrolment link's code must be 6 to 64 letters and digits, in groups"
                " joined by dashes"
            )
        if self.fingerprint is not None and not _FINGERPRINT_RE.match(self.fingerprint):
            raise BadEnrolmentLink(
                "the enrolment link's fingerprint must be 64 lowercase hexadecimal digits"
            )

    def uri(self) -> str:
        values = {"server": self.server, "code": self.code}
        if self.fingerprint is not None:
            values["fingerprint"] = self.fingerprint
        return _ENROL_LINK_PREFIX + urlencode(values)

    @classmethod
    def parse(cls, text: str) -> EnrolmentLink:
        """The link in `text`: exactly one `server` and one `code`, at most one `fingerprint`,
        nothing else."""
        if len(text) > _MAX_ENROL_LINK:
            raise BadEnrolmentLink("the text is too long to be an enrolment link")
        if not text.strip().lower().startswith(_ENROL_LINK_PREFIX):
            raise BadEnrolmentLink(
                f"this is not a fieldapp enrolment link (it should start {_ENROL_LINK_PREFIX})"
            )
        query = text.strip()[len(_ENROL_LINK_PREFIX) :]
        if "#" in query:
            raise BadEnrolmentLink("the enrolment link must not end with a #fragment")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise BadEnrolmentLink("the enrolment link's parameters are malformed") from None
        names = [name for name, _ in pairs]
        for name in names:
            if name not in ("server", "code", "fingerprint"):
                raise BadEnrolmentLink(f"the enrolment link has an unknown parameter {name!r}")
        for name in ("server", "code"):
            if names.count(name) != 1:
                raise BadEnrolmentLink(f"the enrolment link must have exactly one {name!r}")
        if names.count("fingerprint") > 1:
            raise BadEnrolmentLink("the enrolment link must have at most one 'fingerprint'")
        values = dict(pairs)
        return cls(
            server=values["server"], code=values["code"], fingerprint=values.get("fingerprint")
        )
