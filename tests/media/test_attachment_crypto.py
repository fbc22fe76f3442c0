"""Attachments encrypted in chunks: each chunk opens only in its own place of its own
attachment; a chunk reordered, dropped, added, altered or swapped is refused by name."""

from __future__ import annotations

import hashlib
import os

import pytest

from fieldapp import crypto
from sync.protocol import CHUNK_CIPHERTEXT_MAX_BYTES, CHUNK_PLAINTEXT_BYTES, chunk_count

DATA = os.urandom(2 * CHUNK_PLAINTEXT_BYTES + 1000)  # three chunks, the last short


@pytest.fixture(scope="module")
def sealed() -> crypto.EncryptedAttachment:
    return crypto.encrypt_attachment(DATA)


def test_an_attachment_is_cut_into_256_kib_chunks_named_by_their_sha256(
    sealed: crypto.EncryptedAttachment,
) -> None:
    assert len(sealed.id) == 32 and int(sealed.id, 16) >= 0
    assert len(sealed.content_key) == 32
    assert sealed.size == len(DATA)
    assert len(sealed.chunks) == chunk_count(len(DATA)) == 3
    assert [len(chunk) for chunk in sealed.chunks] == [
        CHUNK_CIPHERTEXT_MAX_BYTES,
        CHUNK_CIPHERTEXT_MAX_BYTES,
        1000 + CHUNK_CIPHERTEXT_MAX_BYTES - CHUNK_PLAINTEXT_BYTES,
    ]
    assert sealed.digests == [hashlib.sha256(chunk).hexdigest() for chunk in sealed.chunks]
    assert all(DATA[:64] not in chunk for chunk in sealed.chunks)
    opened = crypto.decrypt_attachment(
        sealed.content_key, sealed.id, sealed.chunks, size=sealed.size, digests=sealed.digests
    )
    assert opened == DATA


def test_the_same_content_encrypts_to_other_chunks_each_time(
    sealed: crypto.EncryptedAttachment,
) -> None:
    again = crypto.encrypt_attachment(DATA)
    assert again.id != sealed.id and not set(again.digests) & set(sealed.digests)


def test_an_empty_attachment_is_one_empty_chunk() -> None:
    empty = crypto.encrypt_attachment(b"")
    assert len(empty.chunks) == 1
    assert crypto.decrypt_attachment(empty.content_key, empty.id, empty.chunks, size=0) == b""


def open_with(sealed: crypto.EncryptedAttachment, chunks: list[bytes]) -> bytes:
    return crypto.decrypt_attachment(sealed.content_key, sealed.id, chunks, size=sealed.size)


def test_reordered_chunks_are_refused(sealed: crypto.EncryptedAttachment) -> None:
    first, second, third = sealed.chunks
    with pytest.raises(crypto.AttachmentDamaged, match=r"chunk 1 of 3 does not open"):
        open_with(sealed, [second, first, third])


def test_a_truncated_attachment_is_refused(sealed: crypto.EncryptedAttachment) -> None:
    with pytest.raises(crypto.AttachmentDamaged, match=r"2 chunks given, its manifest has 3"):
        open_with(sealed, sealed.chunks[:2])
    # A manifest cut short too: every chunk is bound to how many there are.
    with pytest.raises(crypto.AttachmentDamaged, match=r"chunk 1 of 2 does not open"):
        crypto.decrypt_attachment(
            sealed.content_key, sealed.id, sealed.chunks[:2], size=2 * CHUNK_PLAINTEXT_BYTES
        )


def test_a_chunk_of_another_attachment_is_refused(sealed: crypto.EncryptedAttachment) -> None:
    """Even under the same content key, a chunk is bound to its attachment's id."""
    other = crypto.encrypt_attachment(DATA, content_key=sealed.content_key)
    with pytest.raises(crypto.AttachmentDamaged, match=r"chunk 3 of 3 does not open"):
        open_with(sealed, [*sealed.chunks[:2], other.chunks[2]])


def test_an_altered_chunk_is_refused_by_digest_then_by_tag(
    sealed: crypto.EncryptedAttachment,
) -> None:
    altered = bytearray(sealed.chunks[1])
    altered[100] ^= 1
    chunks = [sealed.chunks[0], bytes(altered), sealed.chunks[2]]
    with pytest.raises(crypto.AttachmentDamaged, match=r"chunk 2 of 3 is not the one"):
        crypto.decrypt_attachment(
            sealed.content_key, sealed.id, chunks, size=sealed.size, digests=sealed.digests
        )
    with pytest.raises(crypto.AttachmentDamaged, match=r"chunk 2 of 3 does not open"):
        open_with(sealed, chunks)


def test_the_wrong_key_or_size_is_refused(sealed: crypto.EncryptedAttachment) -> None:
    with pytest.raises(crypto.AttachmentDamaged):
        crypto.decrypt_attachment(crypto.random_key(), sealed.id, sealed.chunks, size=sealed.size)
    with pytest.raises(crypto.AttachmentDamaged, match=r"bytes decrypted"):
        crypto.decrypt_attachment(
            sealed.content_key, sealed.id, sealed.chunks, size=sealed.size - 1
        )


def test_an_attachment_over_10_mib_or_with_a_malformed_id_is_refused() -> None:
    with pytest.raises(crypto.CryptoError, match="at most 10,485,760 bytes"):
        crypto.encrypt_attachment(bytes(10 * 1024 * 1024 + 1))
    with pytest.raises(crypto.CryptoError, match="32 hex digits"):
        crypto.encrypt_attachment(b"x", attachment_id="../etc/passwd")
