"""Records on the wire: the signed envelope of one revision, a push of a batch of them and
what became of each (`POST /v1/records:push`), and every stored revision of one record
(`GET /v1/records/{id}`)."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, StrictBool, field_validator

from sync.protocol.attachments import (
    MAX_ATTACHMENTS_PER_RECORD,
    AttachmentRef,
    check_record_attachments,
)
from sync.protocol.batch_signing import record_batch_signing_bytes, record_leaf
from sync.protocol.canonical import canonical_json
from sync.protocol.errors import WireFieldError
from sync.protocol.receipts import Receipt, ReceiptProof
from sync.protocol.wire import (
    MAX_BATCH_RECORDS,
    PROTOCOL_VERSION,
    B64Bytes,
    ProtocolVersion,
    Revision,
    Timestamp,
    WireModel,
)

__all__ = [
    "MAX_BATCH_EPOCHS",
    "MAX_RELAY_HOPS",
    "MAX_STATS_DEPTH",
    "SEALING_EPOCHS_HEADER",
    "SERVER_TIMING_HEADER",
    "OutcomeStatus",
    "PushRequest",
    "PushResponse",
    "RecordEnvelope",
    "RecordOutcome",
    "RecordView",
    "RelayHop",
    "ingest_seconds",
    "ingest_timing",
]

# Statistical values are scalars, lists of choices and repeat instances: a few levels deep.
MAX_STATS_DEPTH = 32


# Blocking keys: of a victim (`name`, `given_dob`, `family_dob`) and of a participant
# (`name`, `name_org`, `name_phone`).
MatchKind = Literal["name", "given_dob", "family_dob", "name_org", "name_phone"]
# A training of 500 participants, three keys each, and the record's own.
MAX_MATCH_KEYS = 1600


class MatchKey(WireModel):
    """One keyed digest of a person in a record: `subject` "" for the record's own person (a
    victim), else the repeat instance's `_id` (a participant)."""

    subject: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    kind: MatchKind
    digest: str = Field(pattern=r"^[0-9a-f]{32}$")


class RecordEnvelope(WireModel):
    """One revision of one record, as a device pushes it (and a relay forwards it, unchanged).

    `stats` holds only the fields the form marks statistical; everything else is in `sealed`,
    an HPKE envelope only the organisation's keys open (see fieldapp.crypto.seal). `sealed` is
    None when the record is a tombstone (`deleted`) or its sealed part was withdrawn:
    `consent_withdrawn` says the person withdrew their consent, so the server erases the sealed
    part of every stored revision of the record and never stores one again. It is signed like
    every field, and left out of the JSON when false, so other envelopes sign as before.
    `match`: keyed digests of the person's (or each participant's) normalised identifiers
    under the organisation's match key (sync.protocol.matching), signed too, left out when
    empty (a device without the match key, or a form that names nobody).
    `attachments`: the clear manifest of the record's photos, signatures and files
    (sync.protocol.attachments), signed too, left out when empty; their content keys are in
    `sealed`.
    `signature` is the device's Ed25519 signature over `signing_bytes()`, or, with `proof`
    (a batch-signed push, see sync.protocol.batch_signing), over the root of its batch's
    Merkle tree: `signed_message()` is what it signs either way. Neither is signed content.
    """

    id: UUID
    form_id: str = Field(min_length=1, max_length=64)
    form_version: str = Field(min_length=1, max_length=32)
    revision: Revision
    base_revision: Revision | None = None
    created_at: Timestamp
    updated_at: Timestamp
    device_id: str = Field(min_length=1, max_length=64)
    stats: dict[str, Any] = Field(default_factory=dict)
    sealed: B64Bytes | None = None
    deleted: StrictBool = False
    consent_withdrawn: StrictBool = Field(default=False, exclude_if=lambda withdrawn: not withdrawn)
    match: list[MatchKey] = Field(
        default_factory=list, max_length=MAX_MATCH_KEYS, exclude_if=lambda keys: not keys
    )
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS_PER_RECORD,
        exclude_if=lambda refs: not refs,
    )
    signature: B64Bytes
    # Left out of the JSON when absent: a record signed alone is as version 1 had it.
    proof: ReceiptProof | None = Field(default=None, exclude_if=lambda proof: proof is None)

    @field_validator("attachments")
    @classmethod
    def _attachments_fit(cls, refs: list[AttachmentRef]) -> list[AttachmentRef]:
        return check_record_attachments(refs)

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
        or quietly change it (NaN becomes null), not refuse it. The common case, stats that
        fit, is told by the C JSON encoder and a walk of the containers only; anything else
        is walked whole, which names the problem."""
        if _nesting_fits(value):
            try:
                json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError):
                pass  # the walk below names the problem, or lets through what it did before
            else:
                return value
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

    def signing_bytes(self, stats_json: bytes | None = None) -> bytes:
        """What the device signs: every field but the signature, canonically encoded.
        `stats_json`: `canonical_json(self.stats)` when the caller has it already (a server
        keeps that text too): it is spliced in, not encoded again."""
        if stats_json is None:
            body = self.model_dump(mode="json", exclude={"signature", "proof"})
            return _RECORD_PREFIX + canonical_json(body)
        body = self.model_dump(mode="json", exclude={"signature", "proof", "stats"})
        updated_at = body.pop("updated_at")
        if max(body) >= "stats":  # a field sorting after `stats` (none today): encode all
            return self.signing_bytes()
        # Canonical JSON sorts keys: `stats`, then `updated_at`, come after every other field.
        head = canonical_json(body)[:-1]
        return b"".join(
            (_RECORD_PREFIX, head, b',"stats":', stats_json, b',"updated_at":',
             encode_basestring(updated_at).encode(), b"}")
        )  # fmt: skip

    def signed_message(self, signing_bytes: bytes | None = None) -> bytes:
        """What `signature` signs: `signing_bytes()` (given when computed already) or, with
        a proof, the root of the batch it places this envelope in."""
        signed = signing_bytes if signing_bytes is not None else self.signing_bytes()
        if self.proof is None:
            return signed
        root = self.proof.root(record_leaf(hashlib.sha256(signed).hexdigest()))
        return record_batch_signing_bytes(root, self.proof.size)

    @property
    def content_digest(self) -> str:
        """sha256 of the signed content: two pushes of one (id, revision) must agree on it."""
        return hashlib.sha256(self.signing_bytes()).hexdigest()


_RECORD_PREFIX = b"fieldapp-record-v1\n"


def _nesting_fits(stats: dict[str, Any]) -> bool:
    """Whether no value in `stats` lies deeper than MAX_STATS_DEPTH (`stats` itself is 1)."""
    pending: list[tuple[Any, int]] = [(stats, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth >= MAX_STATS_DEPTH:
            if children:  # a value one level too deep
                return False
            continue
        below = depth + 1
        pending += [(child, below) for child in children if isinstance(child, _CONTAINERS)]
    return True


_CONTAINERS = (dict, list)


class RelayHop(WireModel):
    """One relay a record came through (`node`: the relay's device id upstream) and when
    that relay received it, by its own clock."""

    node: str = Field(min_length=1, max_length=64)
    received_at: Timestamp


# Relays between a device and the centre: a district under a regional office is two.
MAX_RELAY_HOPS = 8


# The push answer's header by which a server says it takes epoch envelopes (value "epochs").
SEALING_EPOCHS_HEADER = "X-Fieldapp-Sealing"

# The push answer's W3C Server-Timing header: how long the server took to check and store
# the batch (`ingest;dur=<milliseconds>`), so that a device can tell its link's speed apart
# from the server's work when it chooses how to compress (docs/sync-protocol.md, *Fewer bytes*).
SERVER_TIMING_HEADER = "Server-Timing"
_INGEST_METRIC = "ingest"


def ingest_timing(seconds: float) -> str:
    """The Server-Timing value saying the server spent `seconds` ingesting a push."""
    return f"{_INGEST_METRIC};dur={seconds * 1000:.1f}"


def ingest_seconds(header: str | None) -> float:
    """The ingest time a push answer's Server-Timing value gives, in seconds; 0 when it
    gives none or an unreadable one (an older server: the whole exchange counts as the
    link's, which can only make the link look slower, so compression stays on)."""
    for metric in (header or "").split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        if name != _INGEST_METRIC:
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                try:
                    milliseconds = float(value.strip().strip('"'))
                except ValueError:
                    return 0.0
                fits = math.isfinite(milliseconds) and milliseconds > 0
                return milliseconds / 1000 if fits else 0.0
    return 0.0


# Epoch headers in one push: a device starts a new epoch every EPOCH_MAX_RECORDS records.
MAX_BATCH_EPOCHS = 64


class PushRequest(WireModel):
    """A batch of envelopes. A relay forwarding them adds `hops`: one list per record, in
    order, of the relays it came through, the first one nearest the device (left out by
    devices; not signed: it is what each relay says of itself). `epochs`: the headers of the
    sealing epochs its epoch envelopes name (fieldapp.crypto.epochs; left out when none: the
    envelope signs the header's sha256, so the header itself needs no signature)."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    records: list[RecordEnvelope] = Field(max_length=MAX_BATCH_RECORDS)
    hops: list[list[RelayHop]] | None = Field(default=None, exclude_if=lambda hops: hops is None)
    epochs: list[B64Bytes] = Field(
        default_factory=list, max_length=MAX_BATCH_EPOCHS, exclude_if=lambda epochs: not epochs
    )

    @field_validator("hops")
    @classmethod
    def _hops_fit(cls, hops: list[list[RelayHop]] | None) -> list[list[RelayHop]] | None:
        if hops is not None and any(len(path) > MAX_RELAY_HOPS for path in hops):
            raise ValueError(f"a record comes through at most {MAX_RELAY_HOPS} relays")
        return hops


OutcomeStatus = Literal["accepted", "duplicate", "conflict", "rejected"]


class RecordOutcome(WireModel):
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


class PushResponse(WireModel):
    protocol: ProtocolVersion = PROTOCOL_VERSION
    outcomes: list[RecordOutcome]


class RecordView(WireModel):
    """Every stored revision of one record (`GET /v1/records/{id}`), as the devices signed
    them: `head_revision` is current; `siblings` are revisions kept as conflicting with it.

    Only the holders of the organisation's key (case managers, admins) and the devices that
    wrote or pushed a revision of the record get the sealed parts; anyone else who may read
    it (a coordinator) gets every revision with `sealed: null` and `sealed_withheld: true`
    (a signature then no longer verifies, as after a consent withdrawal)."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    id: UUID
    form_id: str
    head_revision: str
    deleted: bool
    in_conflict: bool
    siblings: list[str]
    revisions: list[RecordEnvelope]
    sealed_withheld: bool = False
