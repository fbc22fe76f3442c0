"""A record's attachments on the device (photos, signatures, audio, files): kept only as the
ciphertext chunks that travel (fieldapp.crypto.attachments), each attachment's content key
stored wrapped under the store's data key, its file name encrypted under it too. What is in
clear is what the signed manifest says anyway: the question, the media type, the size and
the chunks' digests. Nothing is ever written in clear, not even to a temporary file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from fieldapp import crypto
from fieldapp.errors import MediaRejected, StoreError
from fieldapp.media.images import DEFAULT_MAX_PIXELS, ImageKind, reencode_image
from fieldapp.store._core import Core
from fieldapp.store._keyring import Keyring
from sync.protocol import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_RECORD,
    MAX_FILENAME_CHARS,
    MAX_RECORD_ATTACHMENT_BYTES,
    AttachmentRef,
    SealedAttachment,
)

__all__ = ["Attachments", "StoredAttachment"]


@dataclass(frozen=True)
class StoredAttachment:
    """One attachment as the device holds it: its manifest entry, the record it belongs to
    and the file name it was captured with (None if none was given)."""

    ref: AttachmentRef
    record_id: str
    filename: str | None


class Attachments:
    def __init__(self, core: Core, keyring: Keyring) -> None:
        self._core = core
        self._keyring = keyring

    def add(
        self,
        record_id: str,
        field: str,
        data: bytes,
        media_type: str,
        filename: str | None = None,
    ) -> AttachmentRef:
        """Keep `data` as an attachment of the record's question `field` (needs the key);
        the answer to that question is the returned ref's `id`. Raises MediaRejected naming
        the field when it is empty, too large, or would take the record over its limit."""
        if not data:
            raise MediaRejected(field, "empty", "the file is empty")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise MediaRejected(
                field,
                "too_large",
                f"the file has {len(data):,} bytes; an attachment holds at most"
                f" {MAX_ATTACHMENT_BYTES:,}",
            )
        key = self._keyring.require_key()
        encrypted = crypto.encrypt_attachment(data)
        try:
            ref = AttachmentRef(
                id=encrypted.id,
                field=field,
                media_type=media_type.lower(),
                size=encrypted.size,
                chunks=encrypted.digests,
            )
        except ValidationError as exc:
            where = ", ".join(str(error["loc"][0]) for error in exc.errors())
            raise MediaRejected(
                field, "setting", f"not a question name and media type to attach to ({where})"
            ) from None
        if filename is not None:  # the name alone, as long as a sealed part carries
            filename = PurePath(filename.replace("\\", "/")).name[:MAX_FILENAME_CHARS] or None
        with self._core.transaction():
            count, held = self._record_holds(record_id)
            if count >= MAX_ATTACHMENTS_PER_RECORD:
                raise MediaRejected(
                    field,
                    "record_full",
                    f"this record has {count} attachments already, the most a record holds",
                )
            if held + ref.size > MAX_RECORD_ATTACHMENT_BYTES:
                raise MediaRejected(
                    field,
                    "record_full",
                    f"this record's attachments would hold {held + ref.size:,} bytes;"
                    f" a record holds at most {MAX_RECORD_ATTACHMENT_BYTES:,}",
                )
            name = None if filename is None else filename.encode("utf-8")
            self._core.db.execute(
                "INSERT INTO attachments (id, record_id, field, media_type, size, chunks,"
                " wrapped_key, filename, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ref.id,
                    record_id,
                    field,
                    ref.media_type,
                    ref.size,
                    json.dumps(ref.chunks),
                    crypto.wrap_key(key, encrypted.content_key, _aad("key", ref.id)),
                    None if name is None else crypto.encrypt(key, name, _aad("name", ref.id)),
                    self._core.now(),
                ],
            )
            for index, (digest, chunk) in enumerate(zip(ref.chunks, encrypted.chunks, strict=True)):
                self._core.db.execute(
                    "INSERT INTO attachment_chunks (digest, attachment_id, idx, content)"
                    " VALUES (?, ?, ?, ?)",
                    [digest, ref.id, index, chunk],
                )
        return ref

    def add_image(
        self,
        record_id: str,
        field: str,
        data: bytes,
        *,
        kind: ImageKind = "photo",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        filename: str | None = None,
    ) -> AttachmentRef:
        """`add` a photo or signature after re-encoding it (fieldapp.media.images: upright,
        scaled to `max_pixels`, every metadata stripped). MediaRejected if not an image."""
        clean = reencode_image(data, field=field, kind=kind, max_pixels=max_pixels)
        return self.add(record_id, field, clean.data, clean.media_type, filename)

    def get(self, attachment_id: str) -> StoredAttachment:
        """The attachment's manifest entry, record and file name (the name needs the key)."""
        row = self._row(attachment_id)
        filename = None
        if row["filename"] is not None:
            name = crypto.decrypt(
                self._keyring.require_key(), row["filename"], _aad("name", attachment_id)
            )
            filename = name.decode("utf-8")
        return StoredAttachment(_ref(row), row["record_id"], filename)

    def read(self, attachment_id: str) -> bytes:
        """The attachment's content, decrypted in memory (needs the key). Raises
        crypto.AttachmentDamaged when a chunk on disk was altered or lost."""
        row = self._row(attachment_id)
        ref = _ref(row)
        with self._core.lock:
            stored = dict(
                self._core.db.execute(
                    "SELECT idx, content FROM attachment_chunks WHERE attachment_id = ?",
                    [attachment_id],
                ).fetchall()
            )
        chunks = [bytes(stored[index]) for index in range(len(ref.chunks)) if index in stored]
        return crypto.decrypt_attachment(
            self.content_key(attachment_id),
            attachment_id,
            chunks,
            size=ref.size,
            digests=ref.chunks,
        )

    def content_key(self, attachment_id: str) -> bytes:
        """The attachment's content key, unwrapped (needs the key): what the record's sealed
        part carries to the organisation."""
        row = self._row(attachment_id)
        try:
            return crypto.decrypt(
                self._keyring.require_key(), row["wrapped_key"], _aad("key", attachment_id)
            )
        except crypto.IntegrityError:
            raise crypto.IntegrityError(
                f"attachment {attachment_id}: its wrapped key was altered or damaged"
            ) from None

    def for_record(self, record_id: str) -> list[AttachmentRef]:
        """The manifest entries of every attachment kept for the record, oldest first."""
        with self._core.lock:
            rows = list(
                self._core.db.query(
                    "SELECT * FROM attachments WHERE record_id = ? ORDER BY added_at, id",
                    [record_id],
                )
            )
        return [_ref(row) for row in rows]

    def answered(self, record_id: str, values: Mapping[str, Any]) -> list[AttachmentRef]:
        """The record's attachments its answers name (a photo replaced by another is kept
        until the record is erased, but not sent): what its envelope's manifest lists."""
        named = set(_strings(values))
        return [ref for ref in self.for_record(record_id) if ref.id in named]

    def sealed_keys(self, refs: Iterable[AttachmentRef]) -> dict[str, SealedAttachment]:
        """What opens each of `refs`, for the record's sealed part (needs the key)."""
        opened = {}
        for ref in refs:
            stored = self.get(ref.id)
            opened[ref.id] = SealedAttachment(
                key=self.content_key(ref.id), filename=stored.filename
            )
        return opened

    def keep_only(self, record_id: str, kept: Iterable[AttachmentRef]) -> int:
        """Erase the record's attachments that are not in `kept` (photos taken again, answers
        cleared) once a revision naming `kept` is sealed. Returns how many were erased."""
        keep = {ref.id for ref in kept}
        dropped = [ref.id for ref in self.for_record(record_id) if ref.id not in keep]
        for attachment_id in dropped:
            self.erase(attachment_id)
        return len(dropped)

    def unsent(self, record_id: str) -> list[str]:
        """The digests of the record's chunks the server is not known to hold, in order."""
        with self._core.lock:
            rows = self._core.db.execute(
                "SELECT c.digest FROM attachment_chunks c JOIN attachments a"
                " ON a.id = c.attachment_id WHERE a.record_id = ? AND c.sent_at IS NULL"
                " ORDER BY a.added_at, a.id, c.idx",
                [record_id],
            ).fetchall()
        return [row[0] for row in rows]

    def unsent_finalised(self, *, limit: int = 4_000) -> list[str]:
        """The digests of chunks the server is not known to hold, of records that were
        finalised (a draft's photos wait for it), at most `limit` (about 1.4 GB as a bundle's
        base64; the rest goes in the next one): what a device bundle carries."""
        with self._core.lock:
            rows = self._core.db.execute(
                "SELECT c.digest FROM attachment_chunks c JOIN attachments a"
                " ON a.id = c.attachment_id JOIN records r ON r.id = a.record_id"
                " WHERE c.sent_at IS NULL AND r.status != 'draft'"
                " ORDER BY a.record_id, a.added_at, a.id, c.idx LIMIT ?",
                [limit],
            ).fetchall()
        return [row[0] for row in rows]

    def mark_sent(self, digests: Iterable[str]) -> int:
        """The server holds these chunks (it stored them, or said it had them): they no longer
        keep their record from being purged. Returns how many were newly marked."""
        now = self._core.now()
        marked = 0
        with self._core.transaction():
            for digest in digests:
                cursor = self._core.db.execute(
                    "UPDATE attachment_chunks SET sent_at = ? WHERE digest = ? AND sent_at IS NULL",
                    [now, digest],
                )
                marked += cursor.rowcount
        return marked

    def chunk(self, digest: str) -> bytes:
        """One ciphertext chunk by its sha256, as it travels (needs no key). Raises
        StoreError when it is not on this device."""
        with self._core.lock:
            found = self._core.db.execute(
                "SELECT content FROM attachment_chunks WHERE digest = ?", [digest]
            ).fetchone()
        if found is None:
            raise StoreError(f"attachment chunk {digest[:12]}... is not on this device")
        return bytes(found[0])

    def erase(self, attachment_id: str) -> None:
        """Erase one attachment (a photo taken again, a draft's answer cleared)."""
        with self._core.transaction():
            self._core.db.execute(
                "DELETE FROM attachment_chunks WHERE attachment_id = ?", [attachment_id]
            )
            self._core.db.execute("DELETE FROM attachments WHERE id = ?", [attachment_id])

    def erase_record(self, record_id: str) -> int:
        """Erase every attachment of the record, chunks and keys (secure_delete overwrites
        the freed pages). Returns how many attachments were erased."""
        with self._core.transaction():
            ids = [
                row[0]
                for row in self._core.db.execute(
                    "SELECT id FROM attachments WHERE record_id = ?", [record_id]
                ).fetchall()
            ]
            for attachment_id in ids:
                self.erase(attachment_id)
        return len(ids)

    def erase_purged(self) -> None:
        """Erase the attachments of records purged from this device (the caller holds the
        transaction and checkpoints after)."""
        purged = "SELECT a.id FROM attachments a JOIN records r ON r.id = a.record_id"
        purged += " WHERE r.purged_at IS NOT NULL"
        self._core.db.execute(
            f"DELETE FROM attachment_chunks WHERE attachment_id IN ({purged})"  # noqa: S608
        )
        self._core.db.execute(f"DELETE FROM attachments WHERE id IN ({purged})")  # noqa: S608

    def _record_holds(self, record_id: str) -> tuple[int, int]:
        """How many attachments the record holds, and their plaintext bytes (photos taken
        again count until the record is sealed or they are `erase`d)."""
        found = self._core.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM attachments WHERE record_id = ?",
            [record_id],
        ).fetchone()
        return int(found[0]), int(found[1])

    def _row(self, attachment_id: str) -> dict[str, Any]:
        with self._core.lock:
            row = next(
                self._core.db.query("SELECT * FROM attachments WHERE id = ?", [attachment_id]),
                None,
            )
        if row is None:
            raise StoreError(f"attachment {attachment_id} is not on this device")
        return row


def _ref(row: Mapping[str, Any]) -> AttachmentRef:
    return AttachmentRef(
        id=row["id"],
        field=row["field"],
        media_type=row["media_type"],
        size=row["size"],
        chunks=json.loads(row["chunks"]),
    )


def _aad(purpose: str, attachment_id: str) -> bytes:
    return f"fieldapp/store/attachment-{purpose}/".encode() + attachment_id.encode()


def _strings(value: Any) -> Iterable[str]:
    """Every text anywhere in a record's answers (repeats and lists included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
