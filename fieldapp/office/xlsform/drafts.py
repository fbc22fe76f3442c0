"""A form whose data files were not all given imports as a draft, as ODK Central does, but
safer: the draft names every file it awaits (`FormSpec.awaiting_files`: the rows reading it
and how), is never used nor published until each is attached, and attaching them here
(`attach_files`, the CLI's `forms attach`) checks each as the import would have, the
statistical calculations against the file's rows included, and gives the ready version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fieldapp.errors import FormError
from fieldapp.forms.attachments import AttachmentError, attach_command, file_sha256
from fieldapp.forms.files import MAX_FORM_FILES_BYTES, AwaitedFile, FormFile
from fieldapp.forms.spec import Choice, FormSpec
from fieldapp.forms.statistics import Statistics
from fieldapp.office.xlsform.attachments import AttachedFiles, read_data_file
from fieldapp.office.xlsform.problems import ImportProblem

__all__ = ["AttachRefused", "attach_files", "awaited_files"]

Warn = Callable[[ImportProblem], None]
AWAITED = "attachment:awaited"  # the feature of the warnings a missing data file raises


class AttachRefused(FormError):
    """Files given to a draft that cannot complete it; `problems` names each file and why."""

    def __init__(self, form_id: str, problems: list[str]) -> None:
        super().__init__(f"form {form_id!r}: " + "; ".join(problems))
        self.problems = problems


def awaited_files(files: AttachedFiles, form_id: str, warn: Warn) -> dict[str, AwaitedFile]:
    """The data files the import did not find, by instance name, each warned at every row
    reading it (sheet, row, file, what reads it, the command that attaches it); each keeps
    the warnings it raised, so attaching it takes away those and no others."""
    awaited: dict[str, AwaitedFile] = {}
    for name, need in files.missing.items():
        reads = []
        warnings = []
        for sheet, row, column in need.where:
            what = "the question's choices" if column == "type" else f"the {column} expression"
            reads.append(f"{sheet} row {row}: {what}")
            msg = (
                f"{need.file} is not attached (read by {what}): the form is a draft, not"
                f" published, until `{attach_command(form_id, [need.file])}`"
            )
            warning = ImportProblem(
                sheet=sheet, row=row, column=column, feature=AWAITED, message=msg
            )
            warn(warning)
            warnings.append(str(warning))
        awaited[name] = AwaitedFile(
            file=need.file, reads=reads, choices=need.choices, warnings=warnings
        )
    return awaited


def attach_files(spec: FormSpec, paths: Sequence[Path]) -> tuple[FormSpec, dict[str, bytes]]:
    """The draft `spec` with the files at `paths` (named as the form names them) attached,
    and their content by SHA-256; still a draft while a file is awaited. AttachRefused names
    every file that is not awaited, cannot be read or fails the checks."""
    by_file = {awaited.file: name for name, awaited in spec.awaiting_files.items()}
    problems: list[str] = []
    refs = dict(spec.attachments)
    lists: dict[str, list[Choice]] = {}
    contents: dict[str, bytes] = {}
    for path in paths:
        name = by_file.get(path.name)
        if name is None:
            awaited = ", ".join(by_file) or "no file"
            problems.append(f"{path.name} is not a file the form awaits (it awaits {awaited})")
            continue
        try:
            data, choices = read_data_file(
                path.name, path, spec.default_language, spec.awaiting_files[name].choices
            )
        except AttachmentError as exc:
            problems.append(str(exc))
            continue
        digest = file_sha256(data)
        refs[name] = FormFile(file=path.name, sha256=digest, size=len(data))
        contents[digest] = data
        lists[name] = choices
    total = sum(ref.size for ref in refs.values())
    if total > MAX_FORM_FILES_BYTES:
        problems.append(f"the form's files hold {total:,} bytes, over {MAX_FORM_FILES_BYTES:,}")
    statistics = Statistics(spec.children, {**spec.choices, **lists}).problems()
    problems.extend(statistics.values())
    if problems:
        raise AttachRefused(spec.id, problems)
    awaiting = {n: a for n, a in spec.awaiting_files.items() if n not in lists}
    stale = {w for n in lists for w in spec.awaiting_files[n].warnings}
    warnings = [w for w in spec.import_warnings if w not in stale]
    update = {"attachments": refs, "awaiting_files": awaiting, "import_warnings": warnings}
    return spec.model_copy(update=update), contents
