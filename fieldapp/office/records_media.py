"""Files named in a records spreadsheet: for a photo, signature, sound or file question, a
cell holds a path relative to the CSV (a batch of scanned consent forms beside it).

Every file is read and checked while the rows are (a picture re-encoded as the app does:
upright, scaled to the question's max-pixels, every metadata stripped), so a missing or
unreadable file is reported with its row and column and nothing is saved; the rows are then
saved as the app saves a capture: the record's draft, its attachments encrypted under it,
then the record finalised with their ids as the answers.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldapp.errors import MediaRejected
from fieldapp.forms.media import IMAGE_TYPES, MEDIA_TYPES
from fieldapp.forms.spec import FieldSpec
from fieldapp.media.answers import clean_picture
from fieldapp.store import Store
from sync.protocol.attachments import MAX_ATTACHMENT_BYTES

__all__ = ["PendingFile", "read_row_files", "save_with_files"]

# what a media answer is while the row is checked: any attachment id will do
_CHECKED_AS = "0" * 32
# a picture's source may be larger than what is kept (it is scaled down first)
_MAX_SOURCE_BYTES = 4 * MAX_ATTACHMENT_BYTES


@dataclass(frozen=True)
class PendingFile:
    """A file read for one answer, ready to be kept: its content as it will be stored."""

    data: bytes
    media_type: str
    filename: str


def read_row_files(
    answers: dict[str, Any], fields: dict[str, FieldSpec], folder: Path
) -> tuple[dict[str, PendingFile], dict[str, str]]:
    """The files the row's media answers name (read, pictures re-encoded), by field name,
    and the problems by field name; `answers` gets a stand-in id for each, to be checked."""
    files: dict[str, PendingFile] = {}
    problems: dict[str, str] = {}
    for name, text in list(answers.items()):
        node = fields.get(name)
        if node is None or node.type not in MEDIA_TYPES:
            continue
        try:
            files[name] = _read(node, folder, str(text).strip())
        except MediaRejected as exc:
            problems[name] = str(exc)
        answers[name] = _CHECKED_AS
    return files, problems


def _read(node: FieldSpec, folder: Path, text: str) -> PendingFile:
    relative = Path(text)
    if relative.is_absolute():
        msg = f"{text!r} must be a path relative to the spreadsheet"
        raise MediaRejected(node.name, "setting", msg)
    path = folder / relative
    limit = _MAX_SOURCE_BYTES if node.type in IMAGE_TYPES else MAX_ATTACHMENT_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            msg = f"{text} has {size:,} bytes, more than {limit:,}"
            raise MediaRejected(node.name, "too_large", msg)
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{text} cannot be read ({exc.strerror})"
        raise MediaRejected(node.name, "empty", msg) from None
    if node.type in IMAGE_TYPES:
        clean = clean_picture(node.name, node.type, node.max_pixels, data)
        return PendingFile(clean.data, clean.media_type, path.name)
    if not data:
        raise MediaRejected(node.name, "empty", f"{text} is empty")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return PendingFile(data, media_type, path.name)


def save_with_files(
    store: Store, form_id: str, answers: dict[str, Any], files: dict[str, PendingFile], lang: str
) -> str:
    """Save one row as a final record whose media answers are its files, encrypted under it
    (inside the import's batch: all rows or none). Returns the record's id."""
    if not files:
        return store.records.create_final(form_id, answers, lang=lang).id
    plain = {name: value for name, value in answers.items() if name not in files}
    draft = store.records.new_draft(form_id, plain)
    kept = {
        name: store.attachments.add(draft.id, name, file.data, file.media_type, file.filename).id
        for name, file in files.items()
    }
    return store.records.finalise(draft.id, {**answers, **kept}, lang=lang).id
