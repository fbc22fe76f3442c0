"""Photos, signatures and files a question is answered with: kept encrypted under the record
from the moment they are taken (pictures re-encoded first: upright, scaled to the form's
max-pixels, every metadata stripped; fieldapp.media.images), read back for a thumbnail, and
erased when taken again or removed."""

from __future__ import annotations

from dataclasses import dataclass

from fieldapp.errors import MediaRejected, StoreError
from fieldapp.forms.media import IMAGE_TYPES
from fieldapp.forms.spec import FieldSpec
from fieldapp.media.answers import clean_picture
from fieldapp.ui.services.device import Device
from sync.client import waiting_uploads
from sync.protocol import AttachmentsStored
from sync.protocol.attachments import MAX_ATTACHMENT_BYTES, MAX_RECORD_ATTACHMENT_BYTES

__all__ = ["AttachedFile", "Attachments", "AttachmentsStored", "MediaRejected"]


@dataclass(frozen=True)
class AttachedFile:
    """What the app shows of an attachment: its id (the answer), type and size in bytes."""

    id: str
    media_type: str
    size: int
    filename: str | None


class Attachments:
    per_file = MAX_ATTACHMENT_BYTES  # the limits, shown before a capture
    per_record = MAX_RECORD_ATTACHMENT_BYTES

    def __init__(self, device: Device) -> None:
        self.device = device

    def attach(
        self, record_id: str, node: FieldSpec, data: bytes, filename: str | None, media_type: str
    ) -> AttachedFile:
        """Keep `data` as the answer to `node` of the record; a picture is re-encoded first.
        Raises MediaRejected naming the question (not a picture, too large)."""
        if node.type in IMAGE_TYPES:
            clean = clean_picture(node.name, node.type, node.max_pixels, data)
            data, media_type = clean.data, clean.media_type
        ref = self.device.store.attachments.add(record_id, node.name, data, media_type, filename)
        return AttachedFile(ref.id, ref.media_type, ref.size, filename)

    def describe(self, attachment_id: str) -> AttachedFile | None:
        """The attachment an answer names; None when it is not on this device."""
        try:
            stored = self.device.store.attachments.get(attachment_id)
        except StoreError:
            return None
        return AttachedFile(stored.ref.id, stored.ref.media_type, stored.ref.size, stored.filename)

    def content(self, attachment_id: str) -> bytes:
        """The decrypted content, in memory only (a thumbnail)."""
        return self.device.store.attachments.read(attachment_id)

    def remove(self, attachment_id: str) -> None:
        self.device.store.attachments.erase(attachment_id)

    def count(self, record_id: str) -> int:
        """How many attachments the record keeps (shown on the records list)."""
        return len(self.device.store.attachments.for_record(record_id))

    def uploads(self) -> dict[str, AttachmentsStored]:
        """The sent records whose attachments are still going up, by id, with how many of
        their encrypted parts the server held at the last sync (read from the store: no
        network)."""
        return waiting_uploads(self.device.store)
