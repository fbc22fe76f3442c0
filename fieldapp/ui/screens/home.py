"""Home: whether the server is in reach and when the last sync was, the big buttons (identify
a victim, training attendance, any other form), and what needs attention."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.formats import format_number
from fieldapp.ui.services import CASE_FORMS, TRAINING_FORM, VICTIM_FORM, StatusGroup
from fieldapp.ui.state import AppState
from fieldapp.ui.widgets.common import (
    STATUS_ICONS,
    STATUS_LABELS,
    TOUCH,
    big_button,
    message_box,
    page,
)
from fieldapp.ui.widgets.sync_status import last_sync_line, link_line, problem_line, waiting_line

__all__ = ["Home"]

_ATTENTION: tuple[StatusGroup, ...] = ("draft", "waiting", "rejected", "conflict")


def _status_tile(state: AppState, group: StatusGroup) -> ft.Control:
    count = state.counts.get(group, 0)

    def open_group() -> None:
        state.records.group = group
        state.go("records")

    return ft.ListTile(
        leading=ft.Icon(STATUS_ICONS[group]),
        title=ft.Text(state.words(STATUS_LABELS[group])),
        trailing=ft.Text(format_number(count, state.lang), size=18, weight=ft.FontWeight.BOLD),
        min_height=TOUCH,
        on_click=open_group,
    )


def _link(state: AppState) -> ft.Control:
    """The server: in reach or not when last checked (or offline by choice), what waits to be
    sent, the last sync and the last problem; one snapshot of the sync status."""
    _ = state.words
    status = state.sync
    if state.services.device.offline_mode:
        link, link_icon = _("Working offline: records stay on this device."), ft.Icons.CLOUD_OFF
    else:
        link, link_icon = link_line(_, status)
    problem = problem_line(_, status)
    lines: list[ft.Control] = [
        ft.Text(link, weight=ft.FontWeight.W_600),
        ft.Text(_("Syncing…") if status.running else waiting_line(_, status), size=13),
        ft.Text(last_sync_line(_, status), size=13),
    ]
    if problem is not None and not status.running:
        lines.append(ft.Text(problem, size=13, color=ft.Colors.ERROR))
    return ft.Container(
        padding=12,
        border_radius=8,
        bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST,
        content=ft.Row(
            controls=[
                ft.Icon(link_icon, color=ft.Colors.PRIMARY),
                ft.Column(spacing=0, expand=True, controls=lines),
                ft.TextButton(
                    _("Sync"), icon=ft.Icons.SYNC, height=TOUCH, on_click=lambda: state.go("sync")
                ),
            ]
        ),
    )


def _sent_back_tile(state: AppState) -> list[ft.Control]:
    """ "n records sent back to you": the office asked for fixes; opens the sent records,
    where each shows the office's comment."""
    count = len(state.sent_back)
    if not count:
        return []
    _ = state.words
    lang = _.lang

    def open_sent() -> None:
        state.records.group = "sent"
        state.go("records")

    return [
        ft.ListTile(
            leading=ft.Icon(ft.Icons.ASSIGNMENT_RETURN, color=ft.Colors.ERROR),
            title=ft.Text(
                _.ngettext(
                    "{n} record sent back to you",
                    "{n} records sent back to you",
                    count,
                    n=format_number(count, lang),
                ),
                weight=ft.FontWeight.W_600,
            ),
            subtitle=ft.Text(_("The office asked for fixes. Open to see its comments.")),
            min_height=TOUCH,
            on_click=open_sent,
        )
    ]


@ft.component
def Home() -> ft.Control:
    state = use_app()
    _ = state.words
    attention = [g for g in _ATTENTION if state.counts.get(g, 0)]
    other_forms = (
        [
            f
            for f in state.services.records.forms()
            if f.id not in (VICTIM_FORM, TRAINING_FORM, *CASE_FORMS)
        ]
        if state.device == "unlocked"
        else []
    )
    return page(
        [
            *message_box(state),
            _link(state),
            ft.Row(
                controls=[
                    big_button(
                        _("Identify a victim"),
                        ft.Icons.PERSON_SEARCH,
                        lambda: state.new_record(VICTIM_FORM),
                    ),
                ]
            ),
            ft.Row(
                controls=[
                    big_button(
                        _("Training attendance"),
                        ft.Icons.GROUPS,
                        lambda: state.go("training"),
                        filled=False,
                    ),
                ]
            ),
            ft.OutlinedButton(
                _("Referrals"),
                icon=ft.Icons.SWAP_HORIZ,
                height=TOUCH,
                visible=bool(state.services.device.server_url),
                on_click=lambda: ft.context.page.run_thread(state.open_referrals),
            ),
            *[
                ft.OutlinedButton(
                    f.label(f.title, state.lang),
                    height=TOUCH,
                    on_click=lambda _e=None, fid=f.id: state.new_record(fid),
                )
                for f in other_forms
            ],
            ft.Text(_("Needs attention"), size=17, weight=ft.FontWeight.W_600),
            *_sent_back_tile(state),
            *(
                [_status_tile(state, g) for g in attention]
                if attention or state.sent_back
                else [ft.Text(_("Nothing is waiting. Every record is sent."))]
            ),
        ]
    )
