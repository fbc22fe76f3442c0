"""Import an XLSForm (.xlsx, .xlsm or .xls) as a `FormSpec`, refusing what the engine cannot honour.

A form that silently loses a constraint, a skip rule or a question would collect the wrong data
about people at risk, so every row using a feature the engine does not support becomes an
`ImportProblem` naming the sheet, the spreadsheet row (as Excel numbers it) and the feature.
All problems are collected, then raised together as one `XLSFormError`.

The sheets are read cell by cell here so row numbers are exact; pyxform's own conversion also
runs so its checks (bad names, malformed headers...) surface as problems too. pyxform, openpyxl
and xlrd belong to the `server` extra and are imported only inside functions; the phone build
ships neither them nor `fieldapp.office`.

One module a job: `workbook` (cells and headers), `question_types`, `importer`,
`attachments` (the CSV files a form reads), `pyxform_checks`, `problems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fieldapp.forms.spec import FormSpec
from fieldapp.office.xlsform.importer import Importer
from fieldapp.office.xlsform.problems import ImportProblem, XLSFormError, in_order
from fieldapp.office.xlsform.pyxform_checks import pyxform_problems
from fieldapp.office.xlsform.workbook import read_workbook

__all__ = ["ImportProblem", "ImportedForm", "XLSFormError", "import_form", "import_xlsform"]


@dataclass(frozen=True)
class ImportedForm:
    """A converted form and the content of its attached files, by SHA-256 (for publishing);
    `found_beside`: the file names read beside the XLSForm, not given with `attach`."""

    spec: FormSpec
    files: dict[str, bytes] = field(default_factory=dict)
    found_beside: list[str] = field(default_factory=list)


def import_xlsform(
    path: Path, *, form_id: str | None = None, version: str | None = None
) -> FormSpec:
    """Convert the XLSForm at `path`; `form_id` and `version` override the settings sheet."""
    return import_form(path, form_id=form_id, version=version).spec


def import_form(
    path: Path,
    *,
    attach: Sequence[Path] = (),
    form_id: str | None = None,
    version: str | None = None,
) -> ImportedForm:
    """Convert the XLSForm at `path` with the files it reads (`attach`, else found beside
    it); every problem, the files' included, raised together as one XLSFormError."""
    path = Path(path)
    sheets = read_workbook(path)
    importer = Importer(path, sheets)
    importer.files.given = [Path(p) for p in attach]
    spec = importer.build(form_id, version)
    for problem in pyxform_problems(path, sheets):
        if not importer.reported(problem.sheet, problem.row):
            importer.problems.append(problem)
    if importer.problems or spec is None:
        raise XLSFormError(in_order(importer.problems))
    files = importer.files
    return ImportedForm(spec, dict(files.contents), list(files.found_beside))
