"""The session's state, handed to every screen through Flet's context (as services are)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.state import AppState, OfficeState

__all__ = ["AppContext", "OfficeContext", "use_app", "use_office"]

AppContext: ft.ContextProvider[AppState | None] = ft.create_context(None)
# The office workspace's state, provided by the `Office` screen to its sections.
OfficeContext: ft.ContextProvider[OfficeState | None] = ft.create_context(None)


def use_app() -> AppState:
    """The AppState of the session this component draws (inside `AppContext` only)."""
    state = ft.use_context(AppContext)
    assert isinstance(state, AppState)
    return state


def use_office() -> OfficeState:
    """The office's state (inside the `Office` screen only); the component re-draws when it
    changes."""
    office = ft.use_context(OfficeContext)
    assert isinstance(office, OfficeState)
    return office
