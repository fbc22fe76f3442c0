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
`pyxform_checks`, `problems`.
"""

from __future__ import annotations

from pathlib import Path

from fieldapp.forms.spec import FormSpec
from fieldapp.office.xlsform.importer import Importer
from fieldapp.office.xlsform.problems import ImportProblem, XLSFormError, in_order
from fieldapp.office.xlsform.pyxform_checks import pyxform_problems
from fieldapp.office.xlsform.workbook import read_workbook

__all__ = ["ImportProblem", "XLSFormError", "import_xlsform"]


def import_xlsform(
    path: Path, *, form_id: str | None = None, version: str | None = None
) -> FormSpec:
    """Convert the XLSForm at `path`; `form_id` and `version` override the settings sheet."""
    path = Path(path)
    sheets = read_workbook(path)
    importer = Importer(path, sheets)
    spec = importer.build(form_id, version)
    for problem in pyxform_problems(path, sheets):
        if not importer.reported(problem.sheet, problem.row):
            importer.problems.append(problem)
    if importer.problems or spec is None:
        raise XLSFormError(in_order(importer.problems))
    return spec
