"""The frame around every screen: the header, the screen the state names, the bottom
navigation; right-to-left for Arabic; the theme mode (mobile first: 360 px, 48 px targets)."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from fieldapp.i18n import N_, RTL_LANGUAGES
from fieldapp.ui.context import use_app
from fieldapp.ui.screens.case import CaseScreen
from fieldapp.ui.screens.events import Events
from fieldapp.ui.screens.first_run import FirstRun
from fieldapp.ui.screens.form import FormScreen
from fieldapp.ui.screens.home import Home
from fieldapp.ui.screens.merge import Merge
from fieldapp.ui.screens.office import Office
from fieldapp.ui.screens.records import Records
from fieldapp.ui.screens.referrals import Referrals
from fieldapp.ui.screens.settings import Settings
from fieldapp.ui.screens.sync import Sync
from fieldapp.ui.screens.training_hub import TrainingHub
from fieldapp.ui.screens.unlock import Unlock
from fieldapp.ui.screens.unreadable import Unreadable
from fieldapp.ui.screens.wiped import Wiped
from fieldapp.ui.state import AppState, Screen, TrainingSession
from fieldapp.ui.widgets.common import TOUCH, keyed

__all__ = ["APP_NAME", "Shell"]

APP_NAME = "Fieldapp"  # the same in every language

# The screens the bottom navigation opens, and the ones an unlocked device draws as they are.
_NAVIGATION: tuple[tuple[Screen, ft.IconData, str], ...] = (
    ("home", ft.Icons.HOME, N_("Home")),
    ("records", ft.Icons.LIST_ALT, N_("Records")),
    ("sync", ft.Icons.SYNC, N_("Sync")),
    ("settings", ft.Icons.SETTINGS, N_("Settings")),
)
# Offered only to a device enrolled as a coordinator, case manager or admin.
_OFFICE_ENTRY: tuple[Screen, ft.IconData, str] = ("office", ft.Icons.WORK, N_("Office"))
_SCREENS: dict[Screen, Callable[[], ft.Control]] = {
    "records": Records,
    "training": Events,
    "sync": Sync,
    "settings": Settings,
    "office": Office,
    "referrals": Referrals,
}
_RECORD_SCREENS: tuple[Screen, ...] = ("form", "merge", "case")


def _header(state: AppState) -> ft.Control:
    _ = state.words
    unlocked = state.device == "unlocked"
    on_record = state.screen in _RECORD_SCREENS
    heading = state.form.title if on_record and state.form is not None else APP_NAME
    case = state.case if state.screen == "case" else None
    if case is not None:
        heading = _("Case")
    on_primary = ft.ButtonStyle(color=ft.Colors.ON_PRIMARY, icon_color=ft.Colors.ON_PRIMARY)
    back = ft.TextButton(
        _("Back"),
        icon=ft.Icons.ARROW_BACK,
        style=on_primary,
        height=TOUCH,
        visible=unlocked and on_record,
        on_click=(
            (lambda: state.open_record(case.screening_id))
            if case is not None
            else state.close_merge
            if state.screen == "merge"
            else state.close_record
        ),
    )
    return ft.Container(
        bgcolor=ft.Colors.PRIMARY,
        padding=ft.Padding.symmetric(horizontal=8, vertical=4),
        content=ft.Row(
            controls=[
                back,
                ft.Icon(ft.Icons.SHIELD, color=ft.Colors.ON_PRIMARY, visible=not on_record),
                ft.Text(
                    heading,
                    size=18,
                    weight=ft.FontWeight.BOLD,
                    color=ft.Colors.ON_PRIMARY,
                    expand=True,  # a long programme or form name wraps, never cut
                ),
                ft.TextButton(
                    # over a record, the padlock alone: the record's title needs the room
                    None if on_record else _("Lock now"),
                    icon=ft.Icons.LOCK,
                    tooltip=_("Lock now") if on_record else None,
                    style=on_primary,
                    height=TOUCH,
                    visible=unlocked,
                    on_click=lambda: state.lock(),  # not state.lock: Flet would hand it the event
                ),
            ]
        ),
    )


def _bottom_nav(state: AppState) -> ft.Control:
    _ = state.words
    entries = _NAVIGATION
    if state.office_available:
        entries = (*_NAVIGATION[:-1], _OFFICE_ENTRY, _NAVIGATION[-1])
    return ft.Container(
        bgcolor=ft.Colors.SURFACE_CONTAINER,
        content=ft.Row(
            spacing=0,
            controls=[
                ft.TextButton(
                    content=ft.Column(
                        spacing=0,
                        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                        controls=[
                            ft.Icon(
                                icon,
                                color=ft.Colors.PRIMARY if state.screen == name else None,
                            ),
                            # the label has the whole width (no padding) and wraps: the
                            # French "Synchroniser" was broken in two and cut at the bottom
                            ft.Text(_(label), size=12, text_align=ft.TextAlign.CENTER),
                        ],
                    ),
                    style=ft.ButtonStyle(padding=ft.Padding.symmetric(horizontal=2)),
                    height=60,
                    expand=True,
                    on_click=lambda _e=None, n=name: state.go(n),
                )
                for name, icon, label in entries
            ],
        ),
    )


def _body(state: AppState) -> ft.Control:
    """The screen the state names; nothing about any record while the device is locked."""
    screen = state.screen
    if state.device == "unreadable":
        return Unreadable()
    if state.device == "wiped" and screen != "setup":
        return Wiped()
    if screen == "setup":
        return FirstRun()
    if state.device != "unlocked":
        return Unlock()
    form, merge = state.form, state.merge
    if screen == "form" and isinstance(form, TrainingSession) and not form.reviewing:
        return keyed(TrainingHub, state, form, key=f"event-{form.key}")
    if screen == "form" and form is not None:
        return keyed(FormScreen, state, form, key=form.key)
    if screen == "merge" and merge is not None:
        return keyed(Merge, state, merge, key=f"merge-{merge.offer.record_id}")
    if screen == "case" and state.case is not None:
        return keyed(CaseScreen, state, state.case, key=f"case-{state.case.screening_id}")
    return _SCREENS.get(screen, Home)()


@ft.component
def Shell() -> ft.Control:
    """Header, the current screen, bottom navigation; right-to-left for Arabic; theme."""
    state = use_app()
    mode = ft.ThemeMode.DARK if state.theme == "dark" else ft.ThemeMode.LIGHT

    def apply_theme_mode() -> None:
        # On the page: a container's theme mode does not follow later changes in Flet 1.0.5.
        page = ft.context.page
        if page.theme_mode != mode:
            page.theme_mode = mode
            page.update()

    ft.use_effect(apply_theme_mode, [mode])
    controls = [_header(state), _body(state)]
    if state.device == "unlocked" and state.screen not in (*_RECORD_SCREENS, "setup"):
        controls.append(_bottom_nav(state))
    return ft.Container(
        expand=True,
        rtl=state.lang in RTL_LANGUAGES,
        bgcolor=ft.Colors.SURFACE,
        content=ft.Column(spacing=0, expand=True, controls=controls),
    )
