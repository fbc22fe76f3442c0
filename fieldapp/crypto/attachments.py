"""Attachments encrypted in chunks: each attachment has its own random content key, its
plaintext is cut into chunks of `CHUNK_PLAINTEXT_BYTES`, and each chunk is encrypted with
AES-256-GCM under that key, bound (associated data) to the attachment's id, the chunk's index
and how many chunks there are. A chunk's name is the sha256 of its ciphertext.

So the same ciphertext sits at rest on the device, travels and is stored by the server; a
chunk moved to another place, another attachment, or an attachment cut short does not open.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fieldapp.crypto._encoding import length_prefixed
from fieldapp.crypto.errors import AttachmentDamaged, CryptoError, IntegrityError
from fieldapp.crypto.symmetric import decrypt, encrypt, random_key
from sync.protocol.attachments import (
    ATTACHMENT_ID_RE,
    CHUNK_PLAINTEXT_BYTES,
    MAX_ATTACHMENT_BYTES,
    chunk_count,
)

__all__ = [
    "EncryptedAttachment",
    "chunk_digest",
    "decrypt_attachment",
    "decrypt_chunk",
    "encrypt_attachment",
    "new_attachment_id",
]


def new_attachment_id() -> str:
    """A fresh random attachment id: 32 hex digits."""
    return secrets.token_hex(16)


def chunk_digest(ciphertext: bytes) -> str:
    """A chunk's name: the sha256 (hex) of its ciphertext."""
    return hashlib.sha256(ciphertext).hexdigest()


@dataclass(frozen=True)
class EncryptedAttachment:
    """An attachment ready to keep and send: its content key (secret: only ever stored
    wrapped or sealed), and its ciphertext chunks in order with their digests."""

    id: str
    content_key: bytes
    size: int
    chunks: list[bytes]

    @property
    def digests(self) -> list[str]:
        return [chunk_digest(chunk) for chunk in self.chunks]


def _chunk_aad(attachment_id: str, index: int, count: int) -> bytes:
    return b"fieldapp/attachment/v1" + length_prefixed(
        attachment_id.encode("ascii"), str(index).encode("ascii"), str(count).encode("ascii")
    )


def _check_id(attachment_id: str) -> None:
    if not ATTACHMENT_ID_RE.fullmatch(attachment_id):
        raise CryptoError(f"an attachment id is 32 hex digits, not {attachment_id!r}")


def _pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, max(len(data), 1), CHUNK_PLAINTEXT_BYTES):
        yield data[start : start + CHUNK_PLAINTEXT_BYTES]


def encrypt_attachment(
    data: bytes, *, attachment_id: str | None = None, content_key: bytes | None = None
) -> EncryptedAttachment:
    """`data` cut into chunks and encrypted under a content key (a fresh one unless given)."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise CryptoError(
            f"an attachment holds at most {MAX_ATTACHMENT_BYTES:,} bytes, this one {len(data):,}"
        )
    attachment_id = attachment_id or new_attachment_id()
    _check_id(attachment_id)
    key = content_key or random_key()
    count = chunk_count(len(data))
    chunks = [
        encrypt(key, piece, _chunk_aad(attachment_id, index, count))
        for index, piece in enumerate(_pieces(data))
    ]
    return EncryptedAttachment(attachment_id, key, len(data), chunks)


def decrypt_chunk(
    content_key: bytes, attachment_id: str, index: int, count: int, ciphertext: bytes
) -> bytes:
    """The plaintext of chunk `index` of `count`; AttachmentDamaged if it is not that chunk
    of that attachment (altered, moved, from another attachment or key)."""
    try:
        return decrypt(content_key, ciphertext, _chunk_aad(attachment_id, index, count))
    except IntegrityError:
        raise AttachmentDamaged(
            f"attachment {attachment_id}: chunk {index + 1} of {count} does not open: it was"
            " altered, swapped or reordered, or belongs to another attachment or key"
        ) from None


def decrypt_attachment(
    content_key: bytes,
    attachment_id: str,
    chunks: Sequence[bytes],
    *,
    size: int,
    digests: Sequence[str] | None = None,
) -> bytes:
    """The plaintext of an attachment of `size` bytes from its ciphertext chunks, in order.
    `digests` (the manifest's) are checked first when given. Raises AttachmentDamaged when a
    chunk is missing, extra, out of place, altered, or the result is not `size` bytes."""
    _check_id(attachment_id)
    count = chunk_count(size)
    if len(chunks) != count:
        raise AttachmentDamaged(
            f"attachment {attachment_id}: {len(chunks)} chunks given, its manifest has {count}"
        )
    if digests is not None:
        for index, (chunk, digest) in enumerate(zip(chunks, digests, strict=True)):
            if chunk_digest(chunk) != digest:
                raise AttachmentDamaged(
                    f"attachment {attachment_id}: chunk {index + 1} of {count} is not the one"
                    " its manifest names (sha256 differs)"
                )
    plain = b"".join(
        decrypt_chunk(content_key, attachment_id, index, count, chunk)
        for index, chunk in enumerate(chunks)
    )
    if len(plain) != size:
        raise AttachmentDamaged(
            f"attachment {attachment_id}: {len(plain)} bytes decrypted, its manifest says {size}"
        )
    return plain
