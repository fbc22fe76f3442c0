"""The office's devices section: each device's role and region, last sync and last contact,
records waiting and app version as its last sync said; devices silent for more than the
chosen number of days (14 unless set) first and highlighted; revoke one, after a question."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from fieldapp.ui.context import use_office
from fieldapp.ui.formats import format_number
from fieldapp.ui.services import OfficeDevice
from fieldapp.ui.state.office_devices import DeviceBoard
from fieldapp.ui.widgets.common import (
    TOUCH,
    WRAP_LINES,
    banner,
    confirm_dialog,
    keyed,
    page,
    title,
    typed,
    when,
)

__all__ = ["DevicesSection"]


def _revoke_dialog(board: DeviceBoard, run: Callable[[Callable[[], Any]], None]) -> ft.AlertDialog:
    _ = board.words
    return confirm_dialog(
        icon=ft.Icons.PHONELINK_ERASE,
        title=_("Revoke {device}?", device=board.confirm or ""),
        text=_(
            "The device can no longer sync: the server refuses its token from now on, and"
            " its records not yet sent stay on it. This cannot be undone: to sync again,"
            " the person enrols the device with a new code."
        ),
        cancel=_("Cancel"),
        on_cancel=lambda: board.ask_revoke(None),
        confirm=_("Revoke the device"),
        on_confirm=lambda: run(board.revoke),
    )


def _card(board: DeviceBoard, device: OfficeDevice) -> ft.Control:
    _ = board.words
    lang = board.lang
    silent = board.silent(device)
    never = _("never")
    last_sync = when(device.last_sync_at.isoformat(), lang) if device.last_sync_at else never
    last_seen = when(device.last_seen_at.isoformat(), lang) if device.last_seen_at else never
    waiting = (
        _("not said (an older app)")
        if device.records_waiting is None
        else format_number(device.records_waiting, lang)
    )
    lines = [
        f"{device.role} · {device.region or _('All regions')}",
        _("Last sync: {when}", when=last_sync),
        _("Last seen: {when}", when=last_seen),
        _("Records waiting on the device: {n}", n=waiting),
        _("App version: {version}", version=device.app_version or _("not said")),
    ]
    header: list[ft.Control] = [
        ft.Icon(
            ft.Icons.PHONELINK_OFF
            if device.revoked_at
            else (ft.Icons.WARNING if silent else ft.Icons.PHONE_ANDROID),
            color=ft.Colors.ERROR if silent else ft.Colors.PRIMARY,
        ),
        ft.Text(device.label or device.id, weight=ft.FontWeight.BOLD),
        ft.Text(device.id, size=12),
    ]
    controls: list[ft.Control] = [ft.Row(wrap=True, controls=header)]
    if silent:
        controls.append(
            ft.Text(
                _("Silent: no sync for more than {days} days.", days=board.silent_days),
                color=ft.Colors.ON_ERROR_CONTAINER,
                weight=ft.FontWeight.W_600,
            )
        )
    controls.append(ft.Text("\n".join(lines), size=13))
    if device.revoked_at:
        controls.append(
            ft.Text(_("Revoked {when}", when=when(device.revoked_at.isoformat(), lang)))
        )
    else:
        controls.append(
            ft.OutlinedButton(
                _("Revoke"),
                icon=ft.Icons.BLOCK,
                height=TOUCH,
                tooltip=_("Revoke {device}", device=device.label or device.id),
                on_click=lambda: board.ask_revoke(device.id),
            )
        )
    return ft.Container(
        padding=12,
        border_radius=8,
        border=ft.Border.all(1, ft.Colors.ERROR if silent else ft.Colors.OUTLINE_VARIANT),
        bgcolor=ft.Colors.ERROR_CONTAINER if silent else None,
        content=ft.Column(spacing=6, controls=controls),
    )


@ft.component
def _SilentDays(board: DeviceBoard, typed_days: str) -> ft.Control:
    _ = board.words
    text, set_text = ft.use_state(typed_days)
    return ft.TextField(
        label=_("Silent after (days)"),
        value=text,
        keyboard_type=ft.KeyboardType.NUMBER,
        width=220,
        error=board.errors.get("silent_days"),
        error_max_lines=WRAP_LINES,
        on_change=typed(set_text),
        on_submit=lambda: board.set_silent_days(text),
        on_blur=lambda: board.set_silent_days(text),
    )


@ft.component
def _Board(board: DeviceBoard) -> ft.Control:
    _ = board.words
    lang = _.lang

    def run(action: Callable[[], Any]) -> None:
        ft.context.page.run_thread(action)

    def first_load() -> None:
        if not board.loaded and not board.loading:
            run(board.load)

    ft.use_effect(first_load, [])
    ft.use_dialog(_revoke_dialog(board, run) if board.confirm else None)
    silent = board.silent_count
    cards = [_card(board, device) for device in board.rows]
    return page(
        [
            title(_("Devices")),
            ft.Row(
                wrap=True,
                vertical_alignment=ft.CrossAxisAlignment.START,
                controls=[
                    keyed(_SilentDays, board, board.silent_typed, key=f"days-{board.silent_days}"),
                    ft.TextButton(
                        _("Refresh"),
                        icon=ft.Icons.REFRESH,
                        height=TOUCH,
                        on_click=lambda: run(board.load),
                    ),
                ],
            ),
            ft.Text(
                _.ngettext(
                    "{n} device silent for more than {days} days",
                    "{n} devices silent for more than {days} days",
                    silent,
                    n=format_number(silent, lang),
                    days=board.silent_days,
                ),
                weight=ft.FontWeight.W_600,
                visible=board.loaded,
            ),
            *([banner(board.problem, error=True)] if board.problem else []),
            *([banner(board.done, icon=ft.Icons.CHECK)] if board.done else []),
            *(cards or [ft.Text(_("Loading…") if not board.loaded else _("No devices."))]),
        ]
    )


@ft.component
def DevicesSection() -> ft.Control:
    office = use_office()
    return keyed(_Board, office.devices, key="device-board")
