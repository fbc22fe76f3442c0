"""The aggregate workbook: one sheet per form of the dashboard, its protected tables one below
the other (a hidden cell written "<k", never its value), and a sheet of the filters."""

from __future__ import annotations

from pathlib import Path

from fieldapp.office.aggregates import AggregateError
from fieldapp.office.dashboard.build import Dashboard
from fieldapp.office.dashboard.layout import sections, words

__all__ = ["write_xlsx"]


def write_xlsx(dashboard: Dashboard, out: Path, *, lang: str = "en") -> Path:
    try:
        import xlsxwriter
    except ImportError:
        raise AggregateError("xlsx: needs xlsxwriter: pip install 'fieldapp[office]'") from None
    out = Path(out)
    workbook = xlsxwriter.Workbook(str(out), {"strings_to_formulas": False})
    bold = workbook.add_format({"bold": True})
    try:
        about = workbook.add_worksheet(words("title", lang)[:31])
        start = dashboard.filter.start.isoformat() if dashboard.filter.start else ""
        end = dashboard.filter.end.isoformat() if dashboard.filter.end else ""
        about.write_row(0, 0, [words("period", lang), start, end])
        about.write_row(
            1, 0, [words("region", lang), dashboard.filter.region or words("all", lang)]
        )
        about.write_row(2, 0, ["k", dashboard.k])
        used: set[str] = set()
        for number, section in enumerate(sections(dashboard, lang)):
            name = _sheet_name(dashboard.forms[number].spec.id, used)
            sheet = workbook.add_worksheet(name)
            sheet.write(0, 0, section.title, bold)
            sheet.write(1, 0, section.note)
            row = 3
            for table in section.tables:
                sheet.write(row, 0, table.title, bold)
                sheet.write_row(row + 1, 0, table.header, bold)
                for offset, values in enumerate(table.rows, start=2):
                    sheet.write_row(row + offset, 0, [_cell(v) for v in values])
                row += len(table.rows) + 4
            sheet.set_column(0, 0, 32)
    finally:
        workbook.close()
    return out


def _cell(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _sheet_name(form_id: str, used: set[str]) -> str:
    name = form_id[:31]
    number = 2
    while name in used:
        name = f"{form_id[:28]}_{number}"
        number += 1
    used.add(name)
    return name
