"""The store file cannot be opened: say so, and offer nothing that would replace it."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.widgets.common import page, title

__all__ = ["Unreadable"]


@ft.component
def Unreadable() -> ft.Control:
    state = use_app()
    _ = state.words
    return page(
        [
            ft.Icon(ft.Icons.ERROR_OUTLINE, size=56, color=ft.Colors.ERROR),
            title(_("The records on this device cannot be opened")),
            ft.Text(state.text("store_unreadable", path=str(state.services.device.store_path))),
        ]
    )
