"""The dashboard's figures: its filters, its charts and the report each form's charts come from.

Every chart of one form is a line of one report (`fieldapp.office.aggregates.build_report`),
so the victims' charts are protected together: a cell below k is hidden with complementary
suppression across all of them (a hidden bar cannot be worked out from the total, which every
chart shares, or from another chart). A hidden bar carries no count at all, only
`suppressed`; zeros that are published are left out of a chart (there are 250 nationalities).
Training figures about professionals are published as counted unless the form says
`small_cells: "suppress"`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fieldapp.forms.spec import FormSpec
from fieldapp.office.aggregates import AggregateError, DisclosurePolicy, Report, build_report
from fieldapp.office.aggregates.tables import Key
from fieldapp.office.dashboard.charts import CHARTS, ChartSpec, derived_row, derived_spec

__all__ = [
    "Bar",
    "Chart",
    "Dashboard",
    "DashboardFilter",
    "DashboardRecord",
    "FormFigures",
    "build_dashboard",
]


@dataclass(frozen=True)
class DashboardFilter:
    """Records made from `start` to `end` (both included, by the day the device made them),
    of `region` and of `form` (None: all)."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    region: str | None = None
    form: str | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise AggregateError(
                f"from: {self.start.isoformat()} is after to: {self.end.isoformat()}"
            )

    def keeps(self, record: DashboardRecord) -> bool:
        day = record.created_at.date()
        return (
            (self.start is None or day >= self.start)
            and (self.end is None or day <= self.end)
            and (self.region is None or record.region == self.region)
            and (self.form is None or record.form_id == self.form)
        )

    def filters(self) -> dict[str, Any]:
        """The filters a release's scope names (see `aggregates.Scope`)."""
        return {} if self.region is None else {"region": self.region}


@dataclass(frozen=True)
class DashboardRecord:
    """What the dashboard needs of a record the office lists: statistics only."""

    form_id: str
    region: str | None
    created_at: datetime.datetime
    stats: Mapping[str, Any]


@dataclass(frozen=True)
class Bar:
    """One bar: `count` None when `suppressed` (drawn as "fewer than k", never its value)."""

    value: Any
    label: Mapping[str, str]
    count: int | None
    suppressed: bool

    def text(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("en") or str(self.value)


@dataclass(frozen=True)
class Chart:
    id: str
    title: Mapping[str, str]
    bars: tuple[Bar, ...]
    total: int | None

    def heading(self, lang: str) -> str:
        return self.title.get(lang) or self.title["en"]


@dataclass(frozen=True)
class FormFigures:
    """One form's charts and the report they read (its tables, for the PDF and XLSX)."""

    spec: FormSpec
    report: Report
    charts: tuple[Chart, ...]
    records: int

    @property
    def protected(self) -> bool:
        return self.report.k is not None


@dataclass(frozen=True)
class Dashboard:
    filter: DashboardFilter
    k: int
    forms: tuple[FormFigures, ...] = field(default_factory=tuple)

    def chart(self, chart_id: str) -> Chart:
        for figures in self.forms:
            for chart in figures.charts:
                if chart.id == chart_id:
                    return chart
        raise KeyError(chart_id)

    def json(self) -> dict[str, Any]:
        """What `fieldapp office dashboard --json` prints: each chart's bars (a hidden one
        with count null), and each form's report tables in `office report`'s shape."""
        return {
            "k": self.k,
            "filter": {
                "from": _iso(self.filter.start),
                "to": _iso(self.filter.end),
                "region": self.filter.region,
                "form": self.filter.form,
            },
            "forms": [
                {
                    "form": f.spec.id,
                    "protected": f.protected,
                    "charts": [
                        {
                            "id": c.id,
                            "title": c.heading("en"),
                            "bars": [
                                {"value": b.value, "count": b.count, "suppressed": b.suppressed}
                                for b in c.bars
                            ],
                            "total": c.total,
                        }
                        for c in f.charts
                    ],
                    "tables": f.report.json(),
                    "warnings": list(f.report.warnings),
                }
                for f in self.forms
            ],
        }


def build_dashboard(
    forms: Mapping[str, FormSpec],
    records: Iterable[DashboardRecord],
    dashboard_filter: DashboardFilter,
    *,
    policy: DisclosurePolicy,
) -> Dashboard:
    """The charts of every form in `forms` that has dashboard charts (or only
    `dashboard_filter.form`), over the records the filter keeps."""
    if dashboard_filter.form is not None and dashboard_filter.form not in forms:
        raise AggregateError(f"form: this device has no form {dashboard_filter.form!r}")
    rows: dict[str, list[dict[str, Any]]] = {form_id: [] for form_id in forms}
    for record in records:
        if record.form_id in rows and dashboard_filter.keeps(record):
            month = record.created_at.date().isoformat()[:7]
            rows[record.form_id].append(derived_row(record.stats, month))
    figures = []
    for form_id, spec in forms.items():
        if dashboard_filter.form not in (None, form_id):
            continue
        charts = [c for c in CHARTS if c.applies_to(spec)]
        if charts:
            figures.append(_form_figures(spec, rows[form_id], charts, policy))
    return Dashboard(dashboard_filter, policy.k, tuple(figures))


def _form_figures(
    spec: FormSpec,
    rows: list[dict[str, Any]],
    charts: Sequence[ChartSpec],
    policy: DisclosurePolicy,
) -> FormFigures:
    counted = derived_spec(spec)
    tables: list[tuple[str, ...]] = []
    for chart in charts:
        if chart.fields not in tables:
            tables.append(chart.fields)
    report = build_report(counted, rows, [list(t) for t in tables], policy=policy)
    drawn = tuple(_chart(chart, report, tables.index(chart.fields)) for chart in charts)
    return FormFigures(counted, report, drawn, len(rows))


def _chart(chart: ChartSpec, report: Report, number: int) -> Chart:
    published = report.tables[number]
    table = published.table
    margins = tuple(d.size for d in table.dims)
    bars = []
    for position, category in enumerate(table.dims[chart.axis].categories):
        index = (*margins[: chart.axis], position, *margins[chart.axis + 1 :])
        cell = published.cell(index)
        if cell["count"] == 0:
            continue
        bars.append(Bar(category.value, category.labels, cell["count"], cell["suppressed"]))
    total = published.cell(margins)["count"]
    return Chart(chart.id, chart.title, tuple(bars), total)


def hidden_keys(dashboard: Dashboard) -> set[Key]:
    """Every cell hidden in the dashboard's reports (for tests and audits)."""
    return {key for f in dashboard.forms for t in f.report.tables for key in t.hidden}


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None
