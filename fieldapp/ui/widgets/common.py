"""Pieces every screen uses: 48 px touch targets, the scrolling page, titles, banners, the
status groups' words and icons, and the server fields of first run and settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import flet as ft

from fieldapp.i18n import N_, Words
from fieldapp.ui.formats import format_moment
from fieldapp.ui.messages import GOOD_NEWS
from fieldapp.ui.services import StatusGroup
from fieldapp.ui.state import AppState

__all__ = [
    "STATUS_ICONS",
    "STATUS_LABELS",
    "TOUCH",
    "WIDE",
    "WRAP_LINES",
    "TypedText",
    "banner",
    "big_button",
    "confirm_dialog",
    "danger_button",
    "error_text",
    "headline",
    "keyed",
    "message_box",
    "page",
    "server_fields",
    "title",
    "typed",
    "use_typed_text",
    "when",
]

TOUCH = 52  # px: every tap target is at least 48 px high
WIDE = 720  # px: from this width on (a laptop, a tablet) the office lays things side by side
# A text field's hint and error may take this many lines: Flutter's default of one line cuts
# the rule a person must follow ("must be on or after the start date, and t…").
WRAP_LINES = 8

STATUS_ICONS: dict[StatusGroup, ft.IconData] = {
    "draft": ft.Icons.EDIT_NOTE,
    "waiting": ft.Icons.OUTBOX,
    "sent": ft.Icons.CLOUD_DONE,
    "rejected": ft.Icons.REPORT,
    "conflict": ft.Icons.CALL_SPLIT,
}
STATUS_LABELS: dict[StatusGroup, str] = {
    "draft": N_("Drafts"),
    "waiting": N_("Waiting to send"),
    "sent": N_("Sent"),
    "rejected": N_("Rejected"),
    "conflict": N_("Conflicts"),
}


def keyed(component: Any, *args: Any, key: str) -> ft.Control:
    """A component instance with a `key` (the decorator accepts it; its type hints do not)."""
    control: ft.Control = component(*args, key=key)
    return control


def typed(apply: Callable[[str], Any]) -> Callable[[Any], None]:
    """An on_change handler fed with the text the event carried.

    Not `e.control.value`: the keystrokes of a fast typist queue up, and by the time one is
    handled the control may already be a newer render holding an older value, so the last
    characters would be lost.
    """
    return lambda e: apply(e.data if isinstance(e.data, str) else "")


class TypedText:
    """A text field's text: `shown` as this render has it, `latest()` as last typed.

    A handler reads `latest()`. On a slow phone the keystrokes and a tap queue up and reach
    the app together; the tap's handler was made by a render from before the keystrokes, so
    the text it closed over lacks the last characters (a right passphrase read as wrong).
    """

    def __init__(self, initial: str) -> None:
        self.shown, self._show = ft.use_state(initial)
        self._latest = ft.use_ref(initial)

    def latest(self) -> str:
        return self._latest.current or ""

    def set(self, text: str) -> None:
        self._latest.current = text
        self._show(text)

    @property
    def on_change(self) -> Callable[[Any], None]:
        return typed(self.set)


def use_typed_text(initial: str = "") -> TypedText:
    """A text field's `TypedText`, kept by the calling component across its renders."""
    return TypedText(initial)


def when(iso: str | None, lang: str) -> str:
    """A stored moment as the person's clock reads it, written the way `lang` writes it
    (the text itself if it is no moment)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    return format_moment(moment, lang)


def title(text: str) -> ft.Control:
    return ft.Text(text, size=22, weight=ft.FontWeight.BOLD)


def headline(icon: ft.IconData, text: str, *, color: str = ft.Colors.PRIMARY) -> list[ft.Control]:
    """A big icon over a title: what a screen of one question or one notice opens with."""
    return [ft.Icon(icon, size=56, color=color), title(text)]


def page(controls: list[ft.Control]) -> ft.Control:
    """A screen's body: one scrolling column with room around it."""
    return ft.ListView(controls=controls, spacing=14, padding=16, expand=True)


def big_button(text: str, icon: Any, on_click: Any, *, filled: bool = True) -> ft.Control:
    kind = ft.FilledButton if filled else ft.FilledTonalButton
    return kind(text, icon=icon, height=60, on_click=on_click, expand=True)


def message_box(state: AppState) -> list[ft.Control]:
    """What the app last said (`AppState.say`), calm or as a problem; nothing if nothing."""
    text = state.message
    if not text:
        return []
    bad = state.message_key not in GOOD_NEWS
    return [
        ft.Container(
            padding=12,
            border_radius=8,
            bgcolor=ft.Colors.ERROR_CONTAINER if bad else ft.Colors.PRIMARY_CONTAINER,
            content=ft.Text(
                text, color=ft.Colors.ON_ERROR_CONTAINER if bad else ft.Colors.ON_PRIMARY_CONTAINER
            ),
        )
    ]


def banner(text: str, *, error: bool = False, icon: ft.IconData | None = None) -> ft.Control:
    """A note over a record: an icon and the text, in the error colours for a problem."""
    return ft.Container(
        padding=12,
        border_radius=8,
        bgcolor=ft.Colors.ERROR_CONTAINER if error else ft.Colors.PRIMARY_CONTAINER,
        content=ft.Row(
            controls=[
                ft.Icon(icon or (ft.Icons.WARNING if error else ft.Icons.INFO)),
                ft.Text(
                    text,
                    expand=True,
                    color=ft.Colors.ON_ERROR_CONTAINER if error else ft.Colors.ON_PRIMARY_CONTAINER,
                ),
            ]
        ),
    )


def danger_button(
    text: str, on_click: Any, *, icon: ft.IconData | None = None, visible: bool = True
) -> ft.FilledButton:
    """The button that does what cannot be undone (erase, revoke): red, a full tap high."""
    return ft.FilledButton(
        text,
        icon=icon,
        height=TOUCH,
        bgcolor=ft.Colors.ERROR,
        color=ft.Colors.ON_ERROR,
        visible=visible,
        on_click=on_click,
    )


def confirm_dialog(
    *,
    icon: ft.IconData,
    title: str,
    text: str,
    cancel: str,
    on_cancel: Any,
    confirm: str,
    on_confirm: Any,
) -> ft.AlertDialog:
    """The question before what cannot be undone; modal: only Cancel or the red button
    (`confirm`) close it."""
    return ft.AlertDialog(
        modal=True,
        icon=ft.Icon(icon, color=ft.Colors.ERROR),
        title=ft.Text(title),
        content=ft.Text(text),
        actions=[
            ft.TextButton(cancel, height=TOUCH, on_click=on_cancel),
            danger_button(confirm, on_confirm),
        ],
    )


def error_text(message: str | None) -> ft.Control:
    return ft.Text(message or "", color=ft.Colors.ERROR, size=13, visible=bool(message))


def server_fields(
    _: Words, url: TypedText, code: TypedText, on_submit: Callable[[], None] | None = None
) -> list[ft.Control]:
    """The server address and the one-time enrolment code (first run and settings)."""
    return [
        ft.TextField(
            label=_("Server address"),
            value=url.shown,
            keyboard_type=ft.KeyboardType.URL,
            error_max_lines=WRAP_LINES,
            on_change=url.on_change,
        ),
        ft.TextField(
            label=_("Enrolment code"),
            value=code.shown,
            on_change=code.on_change,
            on_submit=on_submit,
        ),
    ]
