"""The store file cannot be opened: say so, and offer nothing that would replace it."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.widgets.common import headline, page

__all__ = ["Unreadable"]


@ft.component
def Unreadable() -> ft.Control:
    state = use_app()
    _ = state.words
    return page(
        [
            *headline(
                ft.Icons.ERROR_OUTLINE,
                _("The records on this device cannot be opened"),
                color=ft.Colors.ERROR,
            ),
            ft.Text(state.text("store_unreadable", path=str(state.services.device.store_path))),
        ]
    )
