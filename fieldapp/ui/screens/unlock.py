"""The locked device: the passphrase, and nothing about any record."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.widgets.common import TOUCH, headline, message_box, page, typed

__all__ = ["Unlock"]


@ft.component
def Unlock() -> ft.Control:
    state = use_app()
    _ = state.words
    passphrase, set_passphrase = ft.use_state("")

    def unlock() -> None:
        value = passphrase
        set_passphrase("")
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
                value=passphrase,
                autofocus=True,
                on_change=typed(set_passphrase),
                on_submit=unlock,
            ),
            ft.FilledButton(_("Unlock"), icon=ft.Icons.LOCK_OPEN, height=TOUCH, on_click=unlock),
        ]
    )
