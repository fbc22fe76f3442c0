"""The device was wiped (by hand, or after too many wrong passphrases): set it up again."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.widgets.common import TOUCH, headline, page

__all__ = ["Wiped"]


@ft.component
def Wiped() -> ft.Control:
    state = use_app()
    _ = state.words
    return page(
        [
            *headline(ft.Icons.DELETE_FOREVER, _("This device was wiped"), color=ft.Colors.ERROR),
            ft.Text(_("Its records can no longer be read. Set it up again to keep working.")),
            ft.FilledButton(_("Set up again"), height=TOUCH, on_click=state.start_again),
        ]
    )
