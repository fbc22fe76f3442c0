"""The office dashboard and the funder report: trainings and participants, score changes,
victims and referrals, counted through `fieldapp.office.aggregates` so that every figure about
victims is k-suppressed with complementary suppression across all the charts of the report.

`charts` (what is drawn, and the derived figures), `build` (filters, the charts and their
reports), `release` (the differencing gate a report passes before it leaves the screen),
`funder_pdf` and `funder_xlsx` (the printable report and the aggregate workbook; fpdf2 and
xlsxwriter are imported only when one is written). Office-only: the phone build ships none
of this.
"""

from __future__ import annotations

from fieldapp.office.dashboard.build import (
    Bar,
    Chart,
    Dashboard,
    DashboardFilter,
    DashboardRecord,
    FormFigures,
    build_dashboard,
)
from fieldapp.office.dashboard.charts import CHARTS, ChartSpec
from fieldapp.office.dashboard.release import publish_dashboard

__all__ = [
    "CHARTS",
    "Bar",
    "Chart",
    "ChartSpec",
    "Dashboard",
    "DashboardFilter",
    "DashboardRecord",
    "FormFigures",
    "build_dashboard",
    "publish_dashboard",
]
