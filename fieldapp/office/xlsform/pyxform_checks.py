"""pyxform's own conversion, run for its checks (bad names, malformed headers...): its first
error becomes a problem at the row it names. Given the sheets the importer has read, pyxform
converts those (as the dict its readers make) instead of reading the workbook a second time:
the read was half of its time on a form of 5,000 choices."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from fieldapp.office.xlsform.problems import ImportProblem
from fieldapp.office.xlsform.workbook import Sheet

_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]|\brow(?: number)?\s+(\d+)", re.IGNORECASE)
_PYXFORM_SHEET = re.compile(
    r"'(survey|choices|settings|entities|external_choices)' sheet|"
    r"sheet: '(\w+)'",
    re.IGNORECASE,
)


def pyxform_problems(path: Path, sheets: dict[str, Sheet] | None = None) -> list[ImportProblem]:
    """pyxform's verdict on the workbook (or on its `sheets` as read): its first error, with
    the row it names."""
    from pyxform.builder import create_survey_element_from_dict
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = str(path) if sheets is None else _definition(path, sheets)
            book = get_xlsform(xlsform=source)
            data = workbook_to_json(
                workbook_dict=book, fallback_form_name=book.fallback_form_name, warnings=[]
            )  # every check of the choices sheet runs here, on every choice
            # ... and the XForm is written with one choice a list: its checks are of the survey
            # (references, translations), and writing 5,000 choices took most of the time.
            choices = data.get("choices") or {}
            data["choices"] = {name: listed[:1] for name, listed in choices.items()}
            create_survey_element_from_dict(data).to_xml(validate=False, warnings=[])
    except Exception as exc:  # pyxform raises many types on bad input; each is a problem
        text = " ".join(str(exc).split()) or type(exc).__name__
        context = getattr(exc, "context", {}) or {}
        row_match = _PYXFORM_ROW.search(text)
        sheet_match = _PYXFORM_SHEET.search(text)
        row = context.get("row") or (row_match and int(row_match[1] or row_match[2]))
        sheet = context.get("sheet") or (sheet_match and (sheet_match[1] or sheet_match[2]))
        return [
            ImportProblem(
                sheet=str(sheet or "survey").lower(),
                row=int(row) if row else None,
                feature="pyxform",
                message="pyxform: " + re.sub(r"^\[row\s*:\s*\d+\]\s*", "", text),
            )
        ]
    return []


def _definition(path: Path, sheets: dict[str, Sheet]) -> dict[str, object]:
    """The sheets as pyxform's readers give them: each row a dict of header -> text, in a list
    where row n of the spreadsheet is item n - 2 (blank rows are empty dicts)."""
    definition: dict[str, object] = {
        "sheet_names": list(sheets),
        "fallback_form_name": path.stem,
    }
    for name, sheet in sheets.items():
        last = max((row.number for row in sheet.rows), default=1)
        rows: list[dict[str, str]] = [{} for _ in range(last - 1)]
        for row in sheet.rows:
            rows[row.number - 2] = {column.header: text for column, text in row.cells.items()}
        headers = [column.header for column in sheet.columns if column.header]
        definition[name] = rows
        definition[f"{name}_header"] = [dict.fromkeys(headers)] if headers else []
    return definition
