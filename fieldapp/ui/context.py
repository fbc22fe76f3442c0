"""The session's state, handed to every screen through Flet's context (as services are)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.state import AppState

__all__ = ["AppContext", "use_app"]

AppContext: ft.ContextProvider[AppState | None] = ft.create_context(None)


def use_app() -> AppState:
    """The AppState of the session this component draws (inside `AppContext` only)."""
    state = ft.use_context(AppContext)
    assert isinstance(state, AppState)
    return state
