"""The funder report's tables as text: the same protected tables the dashboard's charts read,
one grid each, a hidden cell written as "x", never its value.

Every hidden cell looks the same: a cell hidden to protect a small one (complementary
suppression) may hold many people, so writing it "fewer than k" would be false, and marking
the small ones apart would point at them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fieldapp.office.aggregates import PublishedTable
from fieldapp.office.dashboard.build import Dashboard, FormFigures
from fieldapp.office.dashboard.charts import CHARTS, labels

__all__ = ["HIDDEN", "ReportSection", "ReportTable", "sections", "words"]

_WORDS: dict[str, dict[str, str]] = {
    "title": {
        "en": "Funder report",
        "fr": "Rapport aux bailleurs",
        "es": "Informe para financiadores",
        "ar": "تقرير الجهات المانحة",
    },
    "total": {"en": "Total", "fr": "Total", "es": "Total", "ar": "المجموع"},
    "records": {"en": "records", "fr": "fiches", "es": "registros", "ar": "سجلات"},
    "period": {"en": "Period", "fr": "Période", "es": "Periodo", "ar": "الفترة"},
    "region": {"en": "Region", "fr": "Région", "es": "Región", "ar": "المنطقة"},
    "all": {"en": "all", "fr": "toutes", "es": "todas", "ar": "الكل"},
    "protected": {
        "en": "Figures about victims. x: hidden to protect the people counted (a group of fewer "
        "than {k}, and any figure that would reveal one).",
        "fr": "Chiffres sur les victimes. x : masqué pour protéger les personnes comptées (un "
        "groupe de moins de {k}, et tout chiffre qui permettrait de le retrouver).",
        "es": "Cifras sobre víctimas. x: oculto para proteger a las personas contadas (un grupo "
        "de menos de {k}, y toda cifra que permitiría deducirlo).",
        "ar": "أرقام الضحايا. x: مخفي لحماية الأشخاص المعدودين (مجموعة أقل من {k}، وأي رقم قد "
        "يكشفها).",
    },
    "published": {
        "en": "Figures about professionals, published as counted.",
        "fr": "Chiffres sur des professionnels, publiés tels que comptés.",
        "es": "Cifras sobre profesionales, publicadas tal como se contaron.",
        "ar": "أرقام عن المهنيين، منشورة كما عُدّت.",
    },
}


def words(key: str, lang: str) -> str:
    return _WORDS[key].get(lang) or _WORDS[key]["en"]


HIDDEN = "x"


@dataclass(frozen=True)
class ReportTable:
    """`header`: the column titles; `rows`: a label then one cell per column (text)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ReportSection:
    title: str
    note: str
    records: int
    tables: tuple[ReportTable, ...]


def sections(dashboard: Dashboard, lang: str) -> list[ReportSection]:
    return [_section(figures, dashboard.k, lang) for figures in dashboard.forms]


def _section(figures: FormFigures, k: int, lang: str) -> ReportSection:
    spec = figures.spec
    names = labels(spec)
    titles: dict[tuple[str, ...], str] = {}
    for chart in CHARTS:
        if chart.applies_to(spec) and chart.fields not in titles:
            titles[chart.fields] = chart.title.get(lang) or chart.title["en"]
    tables = tuple(
        _grid(published, titles.get(published.table.fields, ""), names, lang)
        for published in figures.report.tables
    )
    note = words("protected", lang).format(k=k) if figures.protected else words("published", lang)
    title = spec.title.get(lang) or spec.title.get("en") or spec.id
    return ReportSection(title, note, figures.records, tables)


def _grid(
    published: PublishedTable,
    title: str,
    names: Mapping[str, Mapping[str, str]],
    lang: str,
) -> ReportTable:
    """Rows: the first field's categories (those with a count or a hidden cell) and the total;
    columns: the second field's categories and the total (one column for a one-way table)."""
    table = published.table
    dims = table.dims
    total_word = words("total", lang)

    def shown(index: tuple[int, ...]) -> str:
        cell = published.cell(index)
        return HIDDEN if cell["suppressed"] else str(cell["count"])

    def label(axis: int, position: int) -> str:
        if position == dims[axis].size:
            return total_word
        return dims[axis].categories[position].label(lang)

    first = dims[0]
    field_label = names.get(first.field, {})
    corner = field_label.get(lang) or field_label.get("en") or first.field
    if len(dims) == 1:
        header: tuple[str, ...] = (corner, total_word)
        columns: list[tuple[int, ...]] = [()]
    else:
        header = (corner, *(label(1, c) for c in range(dims[1].size + 1)))
        columns = [(c,) for c in range(dims[1].size + 1)]
    rows = []
    for r in range(first.size + 1):
        cells = [shown((r, *c)) for c in columns]
        if r < first.size and all(text == "0" for text in cells):
            continue
        rows.append((label(0, r), *cells))
    if len(dims) > 1:  # keep only the columns with a count or a hidden cell
        keep = [0] + [i + 1 for i in range(len(columns)) if any(row[i + 1] != "0" for row in rows)]
        header = tuple(header[i] for i in keep)
        rows = [tuple(row[i] for i in keep) for row in rows]
    return ReportTable(title, header, tuple(rows))
