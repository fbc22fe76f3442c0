"""Offline bundles: the protocol's messages in one signed file, carried by hand (a USB stick).

A bundle file is

    MAGIC ‖ u32 header length ‖ header (canonical JSON) ‖ u64 payload length ‖ payload (gzip)
          ‖ u16 signature length ‖ signature

all lengths big-endian. The header (`BundleHeader`) names the format version, the kind, the
writer, the organisation, the time, the counts and the SHA-256 of the payload; the writer's
Ed25519 signature covers `signing_bytes()` (`fieldapp-bundle-v1\\n` + the header's canonical
JSON), so the header and, through its digest, every payload byte. This module frames and
checks the frame (lengths, digest, format); verifying the signature needs the writer's key,
which only the reader knows (the server: the device's enrolled key; a device: the server key
it got at enrolment). It imports nothing of the project.

- `device` bundles carry a device's outbox: `DevicePayload` (record envelopes exactly as a
  push sends them, team roster entries, and the encrypted chunks of their attachments that
  the centre may not hold yet, each checked against its sha256). The centre ingests them as
  a push.
- `server` bundles carry what a pull brings (`ServerPayload`: changes, for one device or a
  region) and the outcomes and receipts of the records the server took from a device bundle.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator

from sync.protocol.attachments import CHUNK_CIPHERTEXT_MAX_BYTES, ChunkDigest
from sync.protocol.canonical import canonical_json
from sync.protocol.changes import Change, UnknownChange
from sync.protocol.errors import ProtocolError
from sync.protocol.records import RecordEnvelope, RecordOutcome
from sync.protocol.roster import RosterEntry
from sync.protocol.wire import B64Bytes, Timestamp, WireModel

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_MAGIC",
    "BundleError",
    "BundleHeader",
    "BundleKind",
    "BundledChunk",
    "DevicePayload",
    "ServerPayload",
    "SignedBundle",
    "pack_bundle",
    "read_bundle",
]

BUNDLE_MAGIC = b"FIELDAPP-BUNDLE\n"
BUNDLE_FORMAT: Literal[1] = 1
_SIGNING_PREFIX = b"fieldapp-bundle-v1\n"
# Far beyond any real bundle (a payload inflates at most this much): a zip bomb is refused.
MAX_BUNDLE_PAYLOAD = 2 * 1024**3
MAX_HEADER_BYTES = 64 * 1024

BundleKind = Literal["device", "server"]
_M = TypeVar("_M", bound=WireModel)


class BundleError(ProtocolError):
    """A bundle file cannot be used: truncated, damaged, of another format, or not signed by
    whom it says; the message says which, and nothing of it was applied."""


class BundleHeader(WireModel):
    """What a bundle is, signed with it. `format` is the bundle format version: a reader
    refuses a format it does not know (see docs/sync-protocol.md, *Offline bundles*)."""

    format: Literal[1] = BUNDLE_FORMAT
    kind: BundleKind
    writer_id: str = Field(min_length=1, max_length=128)  # a device id, or the server key id
    org_id: str = Field(min_length=1, max_length=128)
    created_at: Timestamp
    counts: dict[str, int]
    for_device: str | None = None
    for_region: str | None = None
    payload_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    payload_bytes: int = Field(ge=0, le=MAX_BUNDLE_PAYLOAD)  # inflated size

    def signing_bytes(self) -> bytes:
        return _SIGNING_PREFIX + canonical_json(self.model_dump(mode="json"))


class BundledChunk(WireModel):
    """One encrypted chunk of an attachment, as `PUT /v1/attachments/chunks/{digest}` sends
    it: refused unless `data` is what `digest` names."""

    digest: ChunkDigest
    data: B64Bytes = Field(max_length=CHUNK_CIPHERTEXT_MAX_BYTES)

    @model_validator(mode="after")
    def _named_by_its_digest(self) -> BundledChunk:
        if hashlib.sha256(self.data).hexdigest() != self.digest:
            raise ValueError(f"chunk {self.digest[:12]}...: its data does not match its sha256")
        return self


class DevicePayload(WireModel):
    """A device's outbox: envelopes as a push sends them, roster entries as shared, and the
    chunks of their attachments the device has not seen the centre take (left out when none,
    so a bundle without attachments is as before)."""

    records: list[RecordEnvelope]
    roster: list[RosterEntry] = Field(default_factory=list)
    chunks: list[BundledChunk] = Field(default_factory=list, exclude_if=lambda chunks: not chunks)

    def counts(self) -> dict[str, int]:
        """What the bundle's signed header counts of this payload."""
        counted = {"records": len(self.records), "roster": len(self.roster)}
        if self.chunks:
            counted["chunks"] = len(self.chunks)
        return counted


class ServerPayload(WireModel):
    """What the server sends down: the changes after `from_cursor` the reader may see (up to
    `next_cursor`), and the outcomes (with their signed receipts) of the reader's records it
    took from the reader's bundle, exactly as a push answers them."""

    changes: list[Annotated[Change | UnknownChange, Field(union_mode="left_to_right")]]
    from_cursor: int = Field(ge=0)
    next_cursor: int = Field(ge=0)
    outcomes: list[RecordOutcome] = Field(default_factory=list)


class SignedBundle(WireModel):
    """A bundle whose frame and payload digest were checked, not yet its signature."""

    header: BundleHeader
    payload: bytes  # inflated JSON
    signature: bytes

    def device_payload(self) -> DevicePayload:
        return _parse(DevicePayload, self.payload, "device")

    def server_payload(self) -> ServerPayload:
        return _parse(ServerPayload, self.payload, "server")


def _parse(model: type[_M], payload: bytes, kind: str) -> _M:
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(
            f"the {kind} bundle's content is not understood at {where}: {first['msg']}"
        ) from None


def pack_bundle(
    kind: BundleKind,
    *,
    writer_id: str,
    org_id: str,
    created_at: datetime,
    counts: dict[str, int],
    payload: bytes,
    sign: Callable[[bytes], bytes],
    for_device: str | None = None,
    for_region: str | None = None,
) -> bytes:
    """The bundle file for `payload` (JSON), signed by `sign(message) -> signature`."""
    header = BundleHeader(
        kind=kind,
        writer_id=writer_id,
        org_id=org_id,
        created_at=created_at,
        counts=counts,
        for_device=for_device,
        for_region=for_region,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        payload_bytes=len(payload),
    )
    signature = sign(header.signing_bytes())
    head = canonical_json(header.model_dump(mode="json"))
    packed = gzip.compress(payload, 9, mtime=0)
    return b"".join(
        [
            BUNDLE_MAGIC,
            struct.pack(">I", len(head)),
            head,
            struct.pack(">Q", len(packed)),
            packed,
            struct.pack(">H", len(signature)),
            signature,
        ]
    )


def read_bundle(data: bytes) -> SignedBundle:
    """The bundle in `data`, its frame and payload checked; BundleError saying what is wrong
    (not a bundle, truncated, damaged, a format this version does not know)."""
    if not data.startswith(BUNDLE_MAGIC):
        raise BundleError("this file is not a fieldapp bundle (or its first bytes are damaged)")
    view = memoryview(data)
    at = len(BUNDLE_MAGIC)

    def take(size: int, what: str) -> bytes:
        nonlocal at
        if at + size > len(data):
            raise BundleError(
                f"the bundle is truncated: its {what} ends after byte {len(data)} of"
                f" {at + size}: copy the file again"
            )
        chunk = bytes(view[at : at + size])
        at += size
        return chunk

    (head_size,) = struct.unpack(">I", take(4, "header length"))
    if head_size > MAX_HEADER_BYTES:
        raise BundleError("the bundle's header is damaged (its length is implausible)")
    head = take(head_size, "header")
    try:
        header = BundleHeader.model_validate_json(head)
    except ValidationError as exc:
        if b'"format":' in head and b'"format":1' not in head:
            raise BundleError(
                "the bundle was written in a newer format: update the app to read it"
            ) from None
        first = exc.errors()[0]
        raise BundleError(
            f"the bundle's header is damaged ({'.'.join(map(str, first['loc']))}: {first['msg']})"
        ) from None
    if canonical_json(header.model_dump(mode="json")) != head:
        raise BundleError("the bundle's header is damaged (not as it was signed)")
    (packed_size,) = struct.unpack(">Q", take(8, "content length"))
    packed = take(packed_size, "content")
    (signature_size,) = struct.unpack(">H", take(2, "signature length"))
    signature = take(signature_size, "signature")
    if at != len(data):
        raise BundleError("the bundle has extra bytes after its signature: it was damaged")
    try:
        inflater = zlib.decompressobj(wbits=31)
        payload = inflater.decompress(packed, header.payload_bytes + 1)
        if inflater.unconsumed_tail or not inflater.eof:
            raise BundleError("the bundle's content is damaged (it does not inflate as stated)")
    except zlib.error:
        raise BundleError("the bundle's content is damaged (it does not inflate)") from None
    if len(payload) != header.payload_bytes:
        raise BundleError("the bundle's content is damaged (its size is not the signed one)")
    if hashlib.sha256(payload).hexdigest() != header.payload_sha256:
        raise BundleError("the bundle's content is damaged (its digest is not the signed one)")
    return SignedBundle(header=header, payload=payload, signature=signature)
