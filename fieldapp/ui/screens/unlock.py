"""The locked device: the passphrase, and nothing about any record."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.widgets.common import TOUCH, headline, message_box, page, use_typed_text

__all__ = ["Unlock"]


@ft.component
def Unlock() -> ft.Control:
    state = use_app()
    _ = state.words
    passphrase = use_typed_text()

    def unlock() -> None:
        value = passphrase.latest()
        passphrase.set("")
        state.unlock(value)

    return page(
        [
            *headline(ft.Icons.LOCK, _("Locked")),
            ft.Text(_("Enter your passphrase to see your records.")),
            *message_box(state),
            ft.TextField(
                label=_("Passphrase"),
                password=True,
                can_reveal_password=True,
                value=passphrase.shown,
                autofocus=True,
                on_change=passphrase.on_change,
                on_submit=unlock,
            ),
            ft.FilledButton(_("Unlock"), icon=ft.Icons.LOCK_OPEN, height=TOUCH, on_click=unlock),
        ]
    )
