"""Settings: language, appearance, the inactivity lock, the server, about, lock now, and
signing out with a wipe (asked twice)."""

from __future__ import annotations

import flet as ft

from fieldapp.i18n import LANGUAGES
from fieldapp.ui.context import use_app
from fieldapp.ui.services import AUTOLOCK_CHOICES
from fieldapp.ui.state import AppState
from fieldapp.ui.widgets.common import (
    TOUCH,
    danger_button,
    message_box,
    page,
    server_fields,
    title,
    typed,
    use_typed_text,
)

__all__ = ["Settings"]


def _wipe(state: AppState) -> list[ft.Control]:
    """The wipe button, and once tapped the question that confirms it."""
    _ = state.words
    return [
        danger_button(
            _("Sign out and wipe this device"),
            lambda: state.ask_wipe(True),
            icon=ft.Icons.DELETE_FOREVER,
            visible=not state.confirm_wipe,
        ),
        ft.Container(
            visible=state.confirm_wipe,
            padding=12,
            border_radius=8,
            bgcolor=ft.Colors.ERROR_CONTAINER,
            content=ft.Column(
                [
                    ft.Text(
                        _(
                            "Erase every record and key on this device? Records not yet sent"
                            " are lost."
                        ),
                        color=ft.Colors.ON_ERROR_CONTAINER,
                    ),
                    ft.Row(
                        wrap=True,
                        controls=[
                            ft.OutlinedButton(
                                _("Cancel"), height=TOUCH, on_click=lambda: state.ask_wipe(False)
                            ),
                            danger_button(_("Yes, erase this device"), state.wipe),
                        ],
                    ),
                ]
            ),
        ),
    ]


@ft.component
def Settings() -> ft.Control:
    state = use_app()
    _ = state.words
    device = state.services.device
    url = use_typed_text(device.server_url or device.default_server_url or "")
    code = use_typed_text()
    return page(
        [
            title(_("Settings")),
            *message_box(state),
            ft.Text(_("Language"), weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=state.lang,
                on_change=typed(state.set_language),
                content=ft.Column([ft.Radio(value=k, label=v) for k, v in LANGUAGES.items()]),
            ),
            ft.Text(_("Appearance"), weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=state.theme,
                on_change=lambda e: state.set_theme("dark" if e.data == "dark" else "light"),
                content=ft.Row(
                    [
                        ft.Radio(value="light", label=_("Light")),
                        ft.Radio(value="dark", label=_("Dark")),
                    ]
                ),
            ),
            ft.Dropdown(
                label=_("Lock after inactivity"),
                value=str(state.autolock_minutes),
                options=[
                    # TRANSLATORS: minutes, abbreviated as on a clock.
                    ft.DropdownOption(key=str(m), text=_("{n} min", n=m))
                    for m in AUTOLOCK_CHOICES
                ],
                on_select=lambda e: state.set_autolock(int(e.control.value)),
            ),
            ft.Text(_("Server"), weight=ft.FontWeight.W_600),
            ft.Text(device.server_url or _("Not connected")),
            *server_fields(_, url, code),
            ft.OutlinedButton(
                _("Connect"),
                height=TOUCH,
                on_click=lambda: state.enrol(url.latest(), code.latest()),
            ),
            ft.Text(_("About"), weight=ft.FontWeight.W_600),
            ft.Text(_("Version {v}", v=device.version)),
            ft.Text(
                _(
                    "Offline-first data collection for anti-trafficking programmes. Records are"
                    " encrypted on this device and sealed for your organisation."
                ),
                size=13,
            ),
            ft.OutlinedButton(
                _("Lock now"), icon=ft.Icons.LOCK, height=TOUCH, on_click=lambda: state.lock()
            ),
            *_wipe(state),
        ]
    )
