"""The office workspace: the section picker and the section chosen. On a laptop's width a side
rail of sections beside the section; on a phone (360 px) the sections as a list of buttons
above it that wraps onto more lines, never cut."""

from __future__ import annotations

from typing import Any

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.context import OfficeContext, use_app, use_office
from fieldapp.ui.screens.office.sections import OfficeSection, sections_for
from fieldapp.ui.state import OfficeState
from fieldapp.ui.widgets.common import TOUCH, WIDE, page, title

__all__ = ["WIDE", "Office"]


def _picker_button(words: Words, section: OfficeSection, chosen: bool, on_click: Any) -> ft.Control:
    kind = ft.FilledTonalButton if chosen else ft.TextButton
    return kind(words(section.label), icon=section.icon, height=TOUCH, on_click=on_click)


@ft.component
def _Workspace(width: float) -> ft.Control:
    office = use_office()
    _ = office.words
    shown = sections_for(office.role)
    if not shown:
        return page([title(_("Office")), ft.Text(_("Nothing here for this role yet."))])
    current = next((s for s in shown if s.id == office.section), shown[0])

    def choose(section: OfficeSection) -> None:
        office.show(section.id)

    buttons = [
        _picker_button(_, section, section.id == current.id, lambda _e=None, s=section: choose(s))
        for section in shown
    ]
    body = ft.Container(expand=True, content=current.component())
    if width >= WIDE:
        rail = ft.Container(
            width=220,
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            padding=8,
            content=ft.Column(
                controls=[ft.Text(_("Office"), size=18, weight=ft.FontWeight.BOLD), *buttons],
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                scroll=ft.ScrollMode.AUTO,
            ),
        )
        return ft.Row(
            controls=[rail, body],
            expand=True,
            spacing=0,
            vertical_alignment=ft.CrossAxisAlignment.STRETCH,
        )
    tabs = ft.Container(
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        padding=ft.Padding.symmetric(horizontal=8, vertical=4),
        content=ft.Row(controls=buttons, wrap=True, spacing=4, run_spacing=4),
    )
    return ft.Column(
        controls=[tabs, body],
        expand=True,
        spacing=0,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,  # the whole width, not the content's
    )


@ft.component
def Office() -> ft.Control:
    """The office: sections for this device's role, the chosen one drawn."""
    state = use_app()
    office: OfficeState = state.office
    width, set_width = ft.use_state(float(ft.context.page.width or 360))

    def follow_width() -> None:
        flet_page = ft.context.page

        def resized(event: ft.PageResizeEvent) -> None:
            set_width(float(event.width))

        flet_page.on_resize = resized

    ft.use_effect(follow_width, [])
    return OfficeContext(office, lambda: _Workspace(width))
