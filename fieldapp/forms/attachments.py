"""Choice lists and `pulldata` rows read from the CSV files attached to a form version (and
the GeoJSON feature collections, `fieldapp.forms.geojson`).

A file is a CSV with a header row, as ODK reads it: a `name` column (the value) and a
`label` (or `label::<language>`) column for a choice list; any other column is data a
`choice_filter` or `pulldata` reads by its header (`country`). The same checks run where the
file enters (the import) and where it is used (device and server, `bind`): a file that is
missing, too large, not UTF-8, without its name or label column or with a name twice is
refused with the file, the column and the line.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping

from fieldapp.errors import FormError
from fieldapp.forms.files import MAX_FILE_BYTES, MAX_FORM_FILES_BYTES, reads_rows
from fieldapp.forms.geojson import GeoJSONError, geojson_choices, is_geojson
from fieldapp.forms.spec import Choice, FormSpec

__all__ = [
    "AttachmentError",
    "MissingFormFile",
    "attach_command",
    "awaiting_message",
    "bind",
    "file_choices",
    "file_sha256",
    "missing_files",
]

_LABEL = "label"


class AttachmentError(FormError):
    """An attached file cannot be used; the message names the file, and the column or line."""

    def __init__(self, file: str, message: str, *, column: str | None = None) -> None:
        where = f"{file}, column {column!r}" if column else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.column = column


class MissingFormFile(FormError):
    """A form version's attached file is not here (not yet fetched, or never attached)."""

    def __init__(self, form_id: str, version: str, files: list[str]) -> None:
        names = ", ".join(files)
        super().__init__(
            f"form {form_id!r} version {version} needs the file {names}, which is not on this"
            " device yet: sync to fetch it, then start the form again"
        )
        self.files = files


def attach_command(form_id: str, files: list[str]) -> str:
    """The command that attaches a draft's awaited data files (`FormSpec.awaiting_files`)."""
    return f"fieldapp forms attach {form_id} {' '.join(files)}"


def awaiting_message(spec: FormSpec) -> str:
    """Why a draft cannot be used nor published: each awaited file, what reads it, and the
    command that attaches them."""
    named = "; ".join(
        f"{awaited.file} (read at {', '.join(awaited.reads)})"
        for awaited in spec.awaiting_files.values()
    )
    files = [awaited.file for awaited in spec.awaiting_files.values()]
    return (
        f"form {spec.id!r} version {spec.version} is a draft awaiting its data files {named}:"
        f" attach them with `{attach_command(spec.id, files)}`"
    )


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_choices(
    file: str, data: bytes, default_language: str = "en", *, need_label: bool = False
) -> list[Choice]:
    """The file's rows as choices (`name` the value, `label`/`label::<lang>` the labels, the
    other columns data); `need_label` for a select's list (pulldata reads rows without).
    Raises AttachmentError naming the file, column or line."""
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(
            file, f"{len(data):,} bytes, more than the {MAX_FILE_BYTES:,} a file may hold"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AttachmentError(file, f"not UTF-8 text (byte {exc.start})") from None
    if is_geojson(file):
        try:
            return geojson_choices(text, default_language)
        except GeoJSONError as exc:
            raise AttachmentError(file, str(exc), column=exc.column) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
        rows = list(reader)
    except csv.Error as exc:
        raise AttachmentError(file, f"not a readable CSV ({exc})") from None
    if "name" not in header and need_label:
        raise AttachmentError(file, "the file has no 'name' column (the values)", column="name")
    labels = {i: _language(h, default_language) for i, h in enumerate(header) if _is_label(h)}
    if need_label and not labels:
        raise AttachmentError(file, "the file has no 'label' column", column="label")
    # pulldata() reads rows by any column: without `name`, a row is named by its line number
    name_at = header.index("name") if "name" in header else -1
    extra = {i: h for i, h in enumerate(header) if h and i != name_at and i not in labels}
    seen: dict[str, int] = {}
    choices = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(header) - len(row))
        value = cells[name_at].strip() if name_at >= 0 else str(line)
        if not value:
            raise AttachmentError(file, f"line {line} has no name", column="name")
        if value in seen:
            raise AttachmentError(
                file, f"{value!r} appears twice (lines {seen[value]} and {line})", column="name"
            )
        seen[value] = line
        choices.append(
            Choice(
                value=value,
                label={labels[i]: cells[i] for i in labels if cells[i]},
                columns={extra[i]: cells[i] for i in extra if cells[i]},
            )
        )
    return choices


def missing_files(spec: FormSpec, have: Mapping[str, bytes] | set[str]) -> list[str]:
    """The file names of the spec's attachments whose content is not in `have` (by SHA-256)."""
    return [ref.file for ref in spec.attachments.values() if ref.sha256 not in have]


def bind(spec: FormSpec, contents: Mapping[str, bytes]) -> FormSpec:
    """The spec with every attached file's rows as the choice list of its instance name,
    `contents` holding the files by SHA-256. Raises MissingFormFile when one is absent,
    AttachmentError when one does not match its digest or cannot be read."""
    if not spec.attachments:
        return spec
    missing = missing_files(spec, contents)
    if missing:
        raise MissingFormFile(spec.id, spec.version, missing)
    total = sum(ref.size for ref in spec.attachments.values())
    if total > MAX_FORM_FILES_BYTES:
        raise AttachmentError(
            ", ".join(ref.file for ref in spec.attachments.values()),
            f"{total:,} bytes together, more than the {MAX_FORM_FILES_BYTES:,} a form may hold",
        )
    choices = dict(spec.choices)
    for name, ref in spec.attachments.items():
        data = contents[ref.sha256]
        if file_sha256(data) != ref.sha256:
            raise AttachmentError(ref.file, "its content does not match the form's SHA-256")
        if reads_rows(ref.file):  # an image shown with a label is not read as rows
            choices[name] = file_choices(ref.file, data, spec.default_language)
    return spec.model_copy(update={"choices": choices})


def _is_label(header: str) -> bool:
    return header == _LABEL or header.startswith(_LABEL + "::")


def _language(header: str, default_language: str) -> str:
    """`label` is the default language; `label::French (fr)` is `fr`, `label::fr` is `fr`."""
    if header == _LABEL:
        return default_language
    language = header.split("::", 1)[1].strip()
    if language.endswith(")") and "(" in language:
        language = language.rsplit("(", 1)[1][:-1]
    return language.strip() or default_language
