"""The files an XLSForm reads: `select_one_from_file X.csv` (or `X.geojson`) and
`pulldata('X', ...)` / `instance('X')` naming no choice list of the form, and the images its
labels show (`media::image`). Each is looked for among the files given
(`--attach X.csv`), then beside the XLSForm (as ODK Collect finds a form's media), checked
as the device will read it (`fieldapp.forms.attachments.file_choices`), and becomes a
`FormFile` of the spec with its content kept for publishing. A data file found nowhere is
`missing`: the form imports as a draft awaiting it (`drafts`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fieldapp.forms.attachments import AttachmentError, file_choices, file_sha256
from fieldapp.forms.files import FILE_NAME_RE, MAX_FILE_BYTES, MAX_FORM_FILES_BYTES, FormFile
from fieldapp.forms.media import LABEL_IMAGE_RE
from fieldapp.forms.spec import Choice

__all__ = ["AttachedFiles", "read_data_file"]

_INSTANCE_CALL = re.compile(r"\b(?:pulldata|instance)\s*\(\s*(['\"])([^'\"]+)\1")

Report = Callable[[str, int | None, str | None, str, str], None]


@dataclass
class _Need:
    file: str
    where: list[tuple[str, int, str | None]]  # (sheet, row, column) of every row needing it
    choices: bool = False  # a select reads it: it needs a label column


@dataclass
class AttachedFiles:
    """What the form needs, where it was found, and the checked content by SHA-256."""

    form_path: Path
    given: Sequence[Path] = ()
    needs: dict[str, _Need] = field(default_factory=dict)  # by instance name
    refs: dict[str, FormFile] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # by SHA-256
    choices: dict[str, list[Choice]] = field(default_factory=dict)  # by instance name
    found_beside: list[str] = field(default_factory=list)  # files read beside the XLSForm
    unread: set[str] = field(default_factory=set)  # instances of files refused at their row
    missing: dict[str, _Need] = field(default_factory=dict)  # not given: the form is a draft

    def need_file(
        self, file: str, sheet: str, row: int, column: str | None, *, choices: bool = True
    ) -> str:
        """The instance name of `file` (`provinces` for `provinces.csv`), noted as needed
        (`choices`: by a select, which needs its labels; pulldata needs only the rows)."""
        name = Path(file).stem
        need = self.needs.setdefault(name, _Need(file, []))
        need.where.append((sheet, row, column))
        need.choices = need.choices or choices
        return name

    def label_image(self, file: str, warn: Report, where: tuple[str, int, str | None]) -> bool:
        """Attach the image `file` a label shows, found as a CSV is; True when attached. A
        missing or unusable image is a warning (the label is shown without it), not a refusal."""
        sheet, row, column = where
        if not LABEL_IMAGE_RE.match(file):
            msg = f"{file!r}: a label image is a .png, .jpg, .gif or .webp file: not shown"
            warn(sheet, row, column, "label-image", msg)
            return False
        path = {p.name: Path(p) for p in self.given}.get(file, self.form_path.parent / file)
        try:
            data = path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else None
        except OSError:
            msg = f"{file} is not attached (give it with --attach {file} or put it beside"
            warn(sheet, row, column, "label-image:missing", f"{msg} the form): not shown")
            return False
        total = sum(map(len, self.contents.values()))
        if data is None or total + len(data) > MAX_FORM_FILES_BYTES:
            msg = f"{file} is larger than a form's files may be ({MAX_FILE_BYTES:,} bytes)"
            warn(sheet, row, column, "label-image", f"{msg}: not shown")
            return False
        digest = file_sha256(data)
        self.refs[re.sub(r"\W", "_", file)] = FormFile(file=file, sha256=digest, size=len(data))
        self.contents[digest] = data
        return True

    def need_instances(
        self, source: str, lists: set[str], sheet: str, row: int, column: str | None
    ) -> None:
        """The instances `pulldata('X', ...)` / `instance('X')` read that are no choice list."""
        for _quote, name in _INSTANCE_CALL.findall(source):
            if name not in lists and name not in self.unread:
                self.need_file(f"{name}.csv", sheet, row, column, choices=False)

    def resolve(self, report: Report, default_language: str) -> None:
        """Read and check every needed file; each problem reported at the row needing it."""
        given = {path.name: Path(path) for path in self.given}
        total = 0
        for name, need in self.needs.items():

            def at_rows(feature: str, msg: str, need: _Need = need) -> None:
                for sheet, row, column in need.where:
                    report(sheet, row, column, feature, msg)

            if not FILE_NAME_RE.match(need.file):
                msg = (
                    f"{need.file!r}: a file name uses A-Z, 0-9, '_', '-', '.' and ends in .csv"
                    " or .geojson"
                )
                at_rows("attachment", msg)
                continue
            path = given.get(need.file)
            if path is None:
                beside = self.form_path.parent / need.file
                if not beside.is_file():
                    self.missing[name] = need  # the form imports as a draft (drafts.py)
                    continue
                path = beside
                self.found_beside.append(need.file)
            try:
                data, choices = read_data_file(need.file, path, default_language, need.choices)
            except AttachmentError as exc:
                at_rows("attachment", str(exc))
                continue
            total += len(data)
            if total > MAX_FORM_FILES_BYTES:
                at_rows(
                    "attachment", f"the attached files hold over {MAX_FORM_FILES_BYTES:,} bytes"
                )
                continue
            digest = file_sha256(data)
            self.refs[name] = FormFile(file=need.file, sha256=digest, size=len(data))
            self.contents[digest] = data
            self.choices[name] = choices


def read_data_file(
    file: str, path: Path, default_language: str, need_label: bool
) -> tuple[bytes, list[Choice]]:
    """The content of the data file `file` at `path` and its rows, checked as the device will
    read them; AttachmentError naming the file (too large, unreadable, a bad row)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AttachmentError(file, f"{size:,} bytes, more than the {MAX_FILE_BYTES:,} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise AttachmentError(file, f"cannot be read: {exc.strerror}") from None
    return data, file_choices(file, data, default_language, need_label=need_label)
