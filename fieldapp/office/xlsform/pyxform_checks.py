"""pyxform's own conversion, run for its checks (bad names, malformed headers...): its first
error becomes a problem at the row it names."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from fieldapp.office.xlsform.problems import ImportProblem

_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]|\brow(?: number)?\s+(\d+)", re.IGNORECASE)
_PYXFORM_SHEET = re.compile(
    r"'(survey|choices|settings|entities|external_choices)' sheet|"
    r"sheet: '(\w+)'",
    re.IGNORECASE,
)


def pyxform_problems(path: Path) -> list[ImportProblem]:
    """pyxform's verdict on the workbook: its first error, with the row it names."""
    from pyxform.xls2xform import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convert(xlsform=str(path), validate=False, warnings=[])
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
