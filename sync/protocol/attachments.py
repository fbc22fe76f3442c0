"""Attachments on the wire (photos, signatures, audio, files): the clear manifest a record's
signed envelope carries, and the limits every side enforces.

An attachment is cut into chunks of `CHUNK_PLAINTEXT_BYTES` of plaintext, each encrypted
under the attachment's own content key (which travels only inside the record's sealed part);
a chunk's name is the sha256 of its ciphertext. The manifest names the chunks in order, so a
server can tell which chunks a record needs and check each one it is sent, without a key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from sync.protocol.wire import B64Bytes, WireModel

__all__ = [
    "ATTACHMENT_ID_RE",
    "CHUNK_CIPHERTEXT_MAX_BYTES",
    "CHUNK_PLAINTEXT_BYTES",
    "CHUNK_SHA256_RE",
    "MAX_ATTACHMENTS_PER_RECORD",
    "MAX_ATTACHMENT_BYTES",
    "MAX_CHUNKS_PER_ATTACHMENT",
    "MAX_FILENAME_CHARS",
    "MAX_RECORD_ATTACHMENT_BYTES",
    "SEALED_ATTACHMENTS",
    "AttachmentRef",
    "ChunkDigest",
    "MissingChunks",
    "MissingChunksRequest",
    "SealedAttachment",
    "check_record_attachments",
    "chunk_count",
    "sealed_attachments",
    "without_attachment_keys",
]

# Plaintext bytes in one chunk (the last one may be shorter).
CHUNK_PLAINTEXT_BYTES = 256 * 1024
# A chunk's ciphertext: its plaintext, a format byte, a 12-byte nonce and a 16-byte tag.
CHUNK_CIPHERTEXT_MAX_BYTES = CHUNK_PLAINTEXT_BYTES + 1 + 12 + 16
# Plaintext bytes of one attachment, and of all the attachments of one record.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_RECORD_ATTACHMENT_BYTES = 40 * 1024 * 1024
MAX_CHUNKS_PER_ATTACHMENT = -(-MAX_ATTACHMENT_BYTES // CHUNK_PLAINTEXT_BYTES)
# A record's attachments: its photos, signatures and files (each at least one byte).
MAX_ATTACHMENTS_PER_RECORD = 64

# A file name as captured (the name alone, no folders), carried in the sealed part.
MAX_FILENAME_CHARS = 255

ATTACHMENT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
CHUNK_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# A chunk's name: the sha256 (lowercase hex) of its ciphertext.
ChunkDigest = Annotated[str, StringConstraints(pattern=CHUNK_SHA256_RE.pattern)]


def chunk_count(size: int) -> int:
    """How many chunks an attachment of `size` plaintext bytes is cut into (an empty one:
    one empty chunk, so every attachment has at least one)."""
    return max(1, -(-size // CHUNK_PLAINTEXT_BYTES))


class AttachmentRef(WireModel):
    """One attachment of a record, as its signed envelope names it: `id` (32 hex, random),
    `field` the question's name or path, `media_type` (e.g. image/jpeg), `size` in plaintext
    bytes, `chunks` the sha256 (hex) of each ciphertext chunk, in order."""

    id: str = Field(pattern=ATTACHMENT_ID_RE.pattern)
    field: str = Field(min_length=1, max_length=256)
    media_type: str = Field(min_length=3, max_length=127, pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    chunks: list[ChunkDigest] = Field(min_length=1, max_length=MAX_CHUNKS_PER_ATTACHMENT)

    @model_validator(mode="after")
    def _chunks_fit_size(self) -> AttachmentRef:
        expected = chunk_count(self.size)
        if len(self.chunks) != expected:
            raise ValueError(
                f"an attachment of {self.size} bytes has {expected} chunks, not {len(self.chunks)}"
            )
        return self


def check_record_attachments(attachments: list[AttachmentRef]) -> list[AttachmentRef]:
    """A record's manifest as a whole: ids unique, within the per-record total."""
    ids = [ref.id for ref in attachments]
    if len(set(ids)) != len(ids):
        raise ValueError("each attachment of a record must have its own id")
    total = sum(ref.size for ref in attachments)
    if total > MAX_RECORD_ATTACHMENT_BYTES:
        raise ValueError(
            f"a record's attachments hold at most {MAX_RECORD_ATTACHMENT_BYTES:,} bytes,"
            f" these {total:,}"
        )
    return attachments


# The key, in a record's sealed answers, of what opens its attachments: for each attachment
# id, a SealedAttachment. Left out when the record has none (its sealed part is as before).
SEALED_ATTACHMENTS = "_attachments"


class SealedAttachment(WireModel):
    """What opens one attachment, inside the record's sealed part (only the organisation's
    key reads it): its content key, and the file name it was captured with, if any."""

    key: B64Bytes
    filename: str | None = Field(default=None, max_length=MAX_FILENAME_CHARS)

    @field_validator("key")
    @classmethod
    def _key_size(cls, key: bytes) -> bytes:
        if len(key) != 32:
            raise ValueError(f"a content key is 32 bytes, not {len(key)}")
        return key


def sealed_attachments(answers: Mapping[str, Any]) -> dict[str, SealedAttachment]:
    """The content keys (by attachment id) in a record's opened sealed part ({} if none)."""
    held = answers.get(SEALED_ATTACHMENTS) or {}
    if not isinstance(held, Mapping):
        raise ValueError(f"{SEALED_ATTACHMENTS} in a sealed part must be an object")
    return {
        attachment_id: SealedAttachment.model_validate(entry)
        for attachment_id, entry in held.items()
    }


def without_attachment_keys(answers: Mapping[str, Any]) -> dict[str, Any]:
    """A record's opened sealed part with its attachments' keys left out: its answers."""
    return {name: value for name, value in answers.items() if name != SEALED_ATTACHMENTS}


class MissingChunksRequest(WireModel):
    """`POST /v1/attachments:missing`: the chunks a device is about to send."""

    chunks: list[ChunkDigest] = Field(
        max_length=MAX_ATTACHMENTS_PER_RECORD * MAX_CHUNKS_PER_ATTACHMENT
    )


class MissingChunks(WireModel):
    """The answer: of the chunks asked about, those the server does not hold yet."""

    chunks: list[ChunkDigest]
