"""The office's dashboard: trainings and participants, score changes, victims and referrals,
filtered by dates, region and form, as bar charts (flet-charts) with each figure written
beside its chart. Every figure about victims is protected: a hidden bar is drawn as a grey
stub marked "hidden", never its value. The funder report (PDF) and the aggregate XLSX are made
from the same figures and saved through the browser's download (web) or a save dialog."""

from __future__ import annotations

import asyncio

import flet as ft
import flet_charts as fch

from fieldapp.i18n import Words
from fieldapp.ui.context import use_office
from fieldapp.ui.services.office_tools import ChartView, ReportFormat
from fieldapp.ui.state.office_figures import DashboardState
from fieldapp.ui.widgets.common import TOUCH, banner, page, title

__all__ = ["Dashboard"]

_SHOWN = ft.Colors.PRIMARY
_HIDDEN = ft.Colors.OUTLINE_VARIANT


def _figure(_: Words, count: int | None) -> str:
    return _("hidden") if count is None else str(count)


def _chart(_: Words, chart: ChartView) -> ft.Control:
    """One chart: the bars, then each bar's label and figure as text (read by everyone)."""
    shown = [b.count for b in chart.bars if b.count is not None]
    top = max(shown or [1])
    stub = top * 0.25  # every hidden bar alike, whatever it holds
    groups = [
        fch.BarChartGroup(
            x=i,
            rods=[
                fch.BarChartRod(
                    to_y=stub if bar.count is None else bar.count,
                    width=14,
                    color=_HIDDEN if bar.suppressed else _SHOWN,
                    border_radius=2,
                    tooltip=f"{bar.label}: {_figure(_, bar.count)}",
                )
            ],
        )
        for i, bar in enumerate(chart.bars)
    ]
    drawn: list[ft.Control] = []
    if groups:
        drawn.append(
            fch.BarChart(
                groups=groups,
                height=160,
                max_y=top * 1.1,
                interactive=True,
                left_axis=fch.ChartAxis(
                    label_size=36,
                    label_spacing=max(1, top // 4),
                    show_max=False,
                    show_labels=bool(shown),  # no scale for bars that are all hidden
                ),
                bottom_axis=fch.ChartAxis(show_labels=False),
                horizontal_grid_lines=fch.ChartGridLines(
                    interval=max(1, top // 4), color=ft.Colors.OUTLINE_VARIANT, width=0.5
                ),
            )
        )
    rows = [
        ft.Row(
            controls=[
                ft.Text(bar.label, expand=True),
                ft.Text(
                    _figure(_, bar.count),
                    weight=ft.FontWeight.BOLD,
                    italic=bar.suppressed,
                    color=ft.Colors.ON_SURFACE_VARIANT if bar.suppressed else None,
                ),
            ]
        )
        for bar in chart.bars
    ]
    total = _("Total: {n}", n=chart.total) if chart.total is not None else _("Total: hidden")
    return ft.Card(
        content=ft.Container(
            padding=12,
            width=320,
            content=ft.Column(
                controls=[
                    ft.Text(chart.title, size=16, weight=ft.FontWeight.BOLD),
                    *drawn,
                    *rows,
                    ft.Text(total, italic=True),
                ],
                spacing=4,
            ),
        )
    )


@ft.component
def Dashboard() -> ft.Control:
    office = use_office()
    fresh: DashboardState = DashboardState(services=office.services, lang=office.lang)
    state, _set = ft.use_state(fresh)  # the first draw's: kept
    _ = state.words
    ft.use_effect(lambda: state.open(office.region), [])

    if state.missing:
        return page(
            [
                title(_("Dashboard")),
                banner(_("The dashboard needs the office tools of a laptop."), error=True),
                ft.Text(state.missing, selectable=True),
            ]
        )

    async def save(kind: ReportFormat) -> None:
        made = await asyncio.to_thread(state.report, kind)
        if made is not None:
            await ft.FilePicker().save_file(file_name=made.name, src_bytes=made.data)

    async def save_pdf(_e: ft.Event[ft.Button] | None = None) -> None:
        await save("pdf")

    async def save_xlsx(_e: ft.Event[ft.Button] | None = None) -> None:
        await save("xlsx")

    filters = ft.Row(
        wrap=True,
        spacing=8,
        run_spacing=8,
        controls=[
            ft.TextField(
                label=_("From"),
                hint_text="YYYY-MM-DD",
                value=state.start,
                width=160,
                on_change=lambda e: state.set(start=e.control.value),
            ),
            ft.TextField(
                label=_("To"),
                hint_text="YYYY-MM-DD",
                value=state.end,
                width=160,
                on_change=lambda e: state.set(end=e.control.value),
            ),
            ft.TextField(
                label=_("Region"),
                value=state.region,
                width=160,
                disabled=bool(office.region),  # a regional office sees its region only
                on_change=lambda e: state.set(region=e.control.value),
            ),
            ft.Dropdown(
                label=_("Form"),
                value=state.form,
                width=240,
                options=[
                    ft.DropdownOption(key="", text=_("All forms")),
                    *(ft.DropdownOption(key=i, text=t) for i, t in state.forms),
                ],
                on_select=lambda e: state.set(form=e.control.value or ""),
            ),
            ft.FilledButton(
                _("Show"),
                icon=ft.Icons.REFRESH,
                height=TOUCH,
                disabled=state.busy,
                on_click=lambda _e: state.refresh(),
            ),
        ],
    )
    exports = ft.Row(
        wrap=True,
        spacing=8,
        controls=[
            ft.OutlinedButton(
                _("Funder report (PDF)"),
                icon=ft.Icons.PICTURE_AS_PDF,
                height=TOUCH,
                disabled=state.busy,
                on_click=save_pdf,
            ),
            ft.OutlinedButton(
                _("Aggregate XLSX"),
                icon=ft.Icons.TABLE_CHART,
                height=TOUCH,
                disabled=state.busy,
                on_click=save_xlsx,
            ),
        ],
    )
    body: list[ft.Control] = [title(_("Dashboard")), filters, exports]
    body.append(ft.ProgressBar(visible=state.busy))
    if state.problem:
        body.append(banner(state.problem, error=True))
    view = state.view
    if view is not None:
        body.append(
            ft.Text(
                _(
                    "Figures about victims: a group of fewer than {k} is hidden, and so is any"
                    " figure that would reveal one.",
                    k=view.k,
                ),
                italic=True,
            )
        )
        body.append(ft.Text(_.ngettext("{n} record", "{n} records", view.records, n=view.records)))
        body.append(
            ft.Row(
                wrap=True,
                spacing=12,
                run_spacing=12,
                vertical_alignment=ft.CrossAxisAlignment.START,
                controls=[_chart(_, chart) for chart in view.charts],
            )
        )
    return page(body)
