"""Sync: the server, the last sync, "Sync now" with its progress, and what the sync said."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.formats import format_size
from fieldapp.ui.messages import GOOD_NEWS
from fieldapp.ui.widgets.common import TOUCH, page, title, when

__all__ = ["Sync"]


@ft.component
def Sync() -> ft.Control:
    state = use_app()
    _ = state.words
    device = state.services.device
    done, total, sent = state.progress

    def start() -> None:
        ft.context.page.run_thread(state.sync_now)

    message = state.sync_message or ""
    failed = state.sync_message_key is not None and state.sync_message_key not in GOOD_NEWS
    progress = _.ngettext(
        "{done} of {total} record · {size}",
        "{done} of {total} records · {size}",
        total,
        done=done,
        total=total,
        size=format_size(sent, state.lang),
    )
    return page(
        [
            title(_("Sync")),
            ft.Text(device.server_url or _("Not connected")),
            ft.Text(
                _("Last sync: {when}", when=when(state.last_sync, state.lang))
                if state.last_sync
                else _("Never synced")
            ),
            ft.FilledButton(
                _("Sync now"),
                icon=ft.Icons.SYNC,
                height=60,
                disabled=state.syncing or not device.enrolled,
                on_click=start,
            ),
            ft.ProgressBar(
                value=(done / total) if total else (None if state.syncing else 0),
                semantics_label=_("Sync"),
            ),
            ft.Text(progress),
            ft.Container(
                visible=bool(message),
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.ERROR_CONTAINER if failed else ft.Colors.PRIMARY_CONTAINER,
                content=ft.Text(message),
            ),
            ft.Text(state.text("not_enrolled"), visible=not device.enrolled),
            ft.OutlinedButton(
                _("Settings"),
                height=TOUCH,
                visible=not device.enrolled,
                on_click=lambda: state.go("settings"),
            ),
        ]
    )
