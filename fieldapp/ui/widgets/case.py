"""The way from a victim screening to its case: the "Open case" (or "Case") button on the
screening's review, and what it does."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.services import VICTIM_FORM
from fieldapp.ui.state import AppState, CaseSession, FormSession
from fieldapp.ui.widgets.common import TOUCH

__all__ = ["case_button", "show_case"]


def show_case(state: AppState, screening_id: str) -> None:
    """Show the case of a screening record (the screen offers to open one if none is)."""
    state.touch()
    case = CaseSession(services=state.services, screening_id=screening_id, lang=state.lang)
    state.go("case")
    state.case = case


def case_button(state: AppState, form: FormSession) -> list[ft.Control]:
    """On a finalised victim screening whose consent stands: its case, one tap away."""
    if form.spec.id != VICTIM_FORM or not form.created or form.status == "draft":
        return []
    if form.consent_withdrawn:
        return []
    _ = form.words
    has_case = bool(state.services.cases.of_screening(form.record_id))
    return [
        ft.FilledTonalButton(
            _("Case") if has_case else _("Open case"),
            icon=ft.Icons.FOLDER_SHARED,
            height=TOUCH,
            on_click=lambda: show_case(state, form.record_id),
        )
    ]
