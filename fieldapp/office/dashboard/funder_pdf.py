"""The printable funder report (PDF): the dashboard's protected tables, written with fpdf2,
imported here only (the `office` extra; the phone build never loads it).

Latin-script languages (en, fr, es) are written in the PDF core font; for Arabic the report
is written in English, since shaping Arabic letters needs a text-shaping engine the office
extra does not ship.
"""

from __future__ import annotations

from pathlib import Path

from fieldapp.office.aggregates import AggregateError
from fieldapp.office.dashboard.build import Dashboard
from fieldapp.office.dashboard.layout import ReportTable, sections, words

__all__ = ["PDF_LANGUAGES", "write_pdf"]

PDF_LANGUAGES = ("en", "fr", "es")


def write_pdf(dashboard: Dashboard, out: Path, *, lang: str = "en") -> Path:
    """Write the report to `out` (replaced if it exists); returns it."""
    try:
        from fpdf import FPDF
    except ImportError:
        raise AggregateError("pdf: needs fpdf2: pip install 'fieldapp[office]'") from None
    if lang not in PDF_LANGUAGES:
        lang = "en"
    pdf = FPDF(orientation="portrait", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, words("title", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    start = dashboard.filter.start.isoformat() if dashboard.filter.start else "..."
    end = dashboard.filter.end.isoformat() if dashboard.filter.end else "..."
    pdf.cell(0, 6, f"{words('period', lang)}: {start} - {end}", new_x="LMARGIN", new_y="NEXT")
    region = dashboard.filter.region or words("all", lang)
    pdf.cell(0, 6, f"{words('region', lang)}: {region}", new_x="LMARGIN", new_y="NEXT")
    for section in sections(dashboard, lang):
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(0, 8, _latin(section.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, _latin(f"{section.records} {words('records', lang)}. {section.note}"))
        for table in section.tables:
            _table(pdf, table)
    out = Path(out)
    pdf.output(str(out))
    return out


def _table(pdf: object, table: ReportTable) -> None:
    from fpdf import FPDF

    assert isinstance(pdf, FPDF)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 7, _latin(table.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    width = pdf.epw
    first = min(60.0, width / 2)
    rest = (width - first) / max(1, len(table.header) - 1)
    widths = (first, *([rest] * (len(table.header) - 1)))
    with pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=True) as grid:
        for values in (table.header, *table.rows):
            row = grid.row()
            for value in values:
                row.cell(_latin(value))


def _latin(text: str) -> str:
    """The core font's characters only (Latin-1)."""
    return text.translate(_PUNCTUATION).encode("latin-1", "replace").decode("latin-1")


_PUNCTUATION = str.maketrans(
    {"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}
)
