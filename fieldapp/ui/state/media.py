"""One media question being answered: a photo or file picked (camera or gallery through the
file picker), a signature drawn on the pad; what is attached, and Remove.

The file is kept encrypted under the record at once (`services.attachments`: a picture
re-encoded first, metadata stripped); the answer is the attachment's id. A draft's replaced
or removed attachment is erased; once the record was sent, the old one stays until the
record is erased (the server may still need it for the version it holds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flet as ft

from fieldapp.forms.spec import FieldSpec
from fieldapp.i18n import Words
from fieldapp.media.signatures import signature_png
from fieldapp.ui.formats import format_size
from fieldapp.ui.services.attachments import AttachedFile, AttachmentsStored, MediaRejected
from fieldapp.ui.state.form import FormSession

__all__ = ["MediaAnswer", "upload_line"]

Point = tuple[float, float]


def upload_line(words: Words, progress: AttachmentsStored | None) -> str:
    """What a sent record's line says while its photos and files go up: how many of their
    encrypted parts the server holds; "" when none are waiting."""
    if progress is None or progress.complete:
        return ""
    _ = words
    return _(
        "Attachments: {sent} of {total} parts sent", sent=progress.stored, total=progress.needed
    )


@ft.observable
@dataclass
class MediaAnswer:
    form: FormSession
    node: FieldSpec
    repeat: str | None = None
    index: int | None = None
    problem: str = ""
    busy: bool = False
    drawing: bool = False  # the signature pad is open
    strokes: list[list[Point]] = field(default_factory=list)

    @property
    def value(self) -> Any:
        if self.repeat is None:
            return self.form.values.get(self.node.name)
        return self.form.instances(self.repeat)[self.index or 0].get(self.node.name)

    @property
    def attached(self) -> AttachedFile | None:
        value = self.value
        return self.form.services.attachments.describe(value) if value else None

    def thumbnail(self) -> bytes | None:
        """The picture attached (decrypted in memory), for a thumbnail; None for a file."""
        attached = self.attached
        if attached is None or not attached.media_type.startswith("image/"):
            return None
        return self.form.services.attachments.content(attached.id)

    def limits(self) -> str:
        """Said before a capture: what one file and one record may hold."""
        _ = self.form.words
        limits = self.form.services.attachments
        return _(
            "At most {file} per file and {record} per record.",
            file=format_size(limits.per_file, self.form.lang),
            record=format_size(limits.per_record, self.form.lang),
        )

    def size(self, attached: AttachedFile) -> str:
        return format_size(attached.size, self.form.lang)

    def attach(self, data: bytes | None, filename: str | None, media_type: str) -> bool:
        """Keep the picked or drawn file as the answer; False (and `problem` said) if not."""
        _ = self.form.words
        label = self.form.label(self.node.label, self.node.name)
        self.problem = ""
        if not data:
            self.problem = _("{label}: the file could not be read; pick it again.", label=label)
            return False
        record_id = self.form.ensure_draft()
        if not record_id:
            return False  # the device is full: the form says so
        self.busy = True
        try:
            attached = self.form.services.attachments.attach(
                record_id, self.node, data, filename, media_type
            )
        except MediaRejected as exc:
            self.problem = self._refusal(label, exc)
            return False
        finally:
            self.busy = False
        self._answer(attached.id)
        return True

    def _refusal(self, label: str, exc: MediaRejected) -> str:
        """Why the file was refused, in the person's language."""
        _ = self.form.words
        if exc.problem in ("not_an_image", "damaged"):
            return _("{label}: this file is not a picture the app can read.", label=label)
        if exc.problem in ("too_large", "too_many_pixels", "record_full"):
            return _("{label}: the file is too large. {limits}", label=label, limits=self.limits())
        if exc.problem == "empty":
            return _("{label}: the file could not be read; pick it again.", label=label)
        return _("{label}: this file cannot be attached ({detail}).", label=label, detail=str(exc))

    def remove(self) -> None:
        self._answer(None)

    def _answer(self, attachment_id: str | None) -> None:
        before = self.value
        self.form.set_value(self.node.name, attachment_id, repeat=self.repeat, index=self.index)
        if before and before != attachment_id and not self.form.on_server:
            self.form.services.attachments.remove(before)

    # -- the signature pad --------------------------------------------------------------
    def open_pad(self) -> None:
        self.drawing, self.strokes, self.problem = True, [], ""

    def close_pad(self) -> None:
        self.drawing, self.strokes = False, []

    def start_stroke(self, point: Point) -> None:
        self.strokes = [*self.strokes, [point]]

    def extend_stroke(self, point: Point) -> None:
        if self.strokes:
            self.strokes = [*self.strokes[:-1], [*self.strokes[-1], point]]

    def save_signature(self) -> None:
        """The drawing, as a PNG, becomes the answer; an empty pad is refused."""
        _ = self.form.words
        if not any(len(stroke) > 1 for stroke in self.strokes):
            self.problem = _("Sign on the pad first.")
            return
        if self.attach(signature_png(self.strokes), "signature.png", "image/png"):
            self.close_pad()
