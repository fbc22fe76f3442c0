"""Sync: the server, whether it was in reach when last checked, what waits, what is in flight,
the last successful sync and the last problem, "Sync now", and what the latest sync said; then
offline bundle files (`bundle_files`)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.messages import GOOD_NEWS
from fieldapp.ui.screens.bundle_files import BundleFiles
from fieldapp.ui.widgets.common import TOUCH, page, title, when
from fieldapp.ui.widgets.sync_status import (
    last_sync_line,
    link_line,
    problem_line,
    progress_line,
    waiting_line,
)

__all__ = ["Sync"]


@ft.component
def Sync() -> ft.Control:
    state = use_app()
    _ = state.words
    device = state.services.device
    status = state.sync
    running = status.running or state.syncing

    def start() -> None:
        ft.context.page.run_thread(state.sync_now)

    message = state.sync_message or ""
    failed = state.sync_message_key is not None and state.sync_message_key not in GOOD_NEWS
    link, link_icon = link_line(_, status)
    progress = progress_line(_, status)
    problem = problem_line(_, status)
    attempt = status.last_attempt_at
    return page(
        [
            title(_("Sync")),
            ft.Text(device.server_url or _("Not connected")),
            ft.Row(
                controls=[
                    ft.Icon(link_icon, color=ft.Colors.PRIMARY),
                    ft.Text(link, weight=ft.FontWeight.W_600, expand=True),
                ]
            ),
            ft.Text(waiting_line(_, status), weight=ft.FontWeight.W_600),
            ft.Text(last_sync_line(_, status)),
            ft.Text(
                _("Last attempt: {when}", when=when(attempt.isoformat(), state.lang))
                if attempt
                else "",
                size=13,
                # only when it failed: one after the last successful sync
                visible=attempt is not None
                and (status.last_success_at is None or attempt > status.last_success_at),
            ),
            ft.FilledButton(
                _("Sync now"),
                icon=ft.Icons.SYNC,
                height=60,
                disabled=running or not device.enrolled,
                on_click=start,
            ),
            ft.ProgressBar(
                visible=running,
                value=(status.done / status.total) if status.total else None,
                semantics_label=_("Sync"),
            ),
            ft.Text(progress or "", visible=progress is not None),
            ft.Container(
                visible=bool(message),
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.ERROR_CONTAINER if failed else ft.Colors.PRIMARY_CONTAINER,
                content=ft.Text(message),
            ),
            ft.Container(
                visible=problem is not None and not running,
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.ERROR_CONTAINER,
                content=ft.Text(problem or "", color=ft.Colors.ON_ERROR_CONTAINER),
            ),
            BundleFiles(),
            ft.Text(state.text("not_enrolled"), visible=not device.enrolled),
            ft.OutlinedButton(
                _("Settings"),
                height=TOUCH,
                visible=not device.enrolled,
                on_click=lambda: state.go("settings"),
            ),
        ]
    )
