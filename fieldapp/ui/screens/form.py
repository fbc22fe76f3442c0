"""The wizard for any form (built-in or imported from XLSForm): a step at a time, then the
review. A training event being registered gets its hub instead (`training_hub`)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.state import AppState, FormSession
from fieldapp.ui.widgets.common import TOUCH
from fieldapp.ui.widgets.nodes import node_controls
from fieldapp.ui.widgets.record import (
    finish_buttons,
    record_frame,
    record_notes,
    withdraw_button,
    withdraw_dialog,
)
from fieldapp.ui.widgets.review import review_controls

__all__ = ["FormScreen", "page_key"]


def page_key(form: FormSession, tab: str = "") -> str:
    """What shows of the record (step, tab, entry being edited), to key its scrolling list."""
    editing = "" if form.editing is None else f"{form.editing[0]}[{form.editing[1]}]"
    return f"{form.step}|{tab}|{editing}"


@ft.component
def FormScreen(state: AppState, form: FormSession) -> ft.Control:
    """The open record: [body, bottom buttons], a step of the wizard or the review."""
    _ = form.words
    ft.use_dialog(withdraw_dialog(state, form) if state.confirm_withdraw else None)
    body = record_notes(state, form)
    if form.reviewing:
        body.append(ft.Text(_("Review"), size=20, weight=ft.FontWeight.BOLD))
        body.extend(review_controls(form, editable=form.editable))
        if form.can_withdraw_consent:
            body.append(withdraw_button(state, form))
        buttons = finish_buttons(state, form)
        if form.editable:  # a conflict is settled here, a withdrawn record is gone
            buttons.insert(0, ft.OutlinedButton(_("Previous"), height=TOUCH, on_click=form.back))
        return record_frame(body, buttons, page=page_key(form))
    visible = form.visible_steps()
    step = form.steps[form.step]
    position = visible.index(form.step) + 1 if form.step in visible else 1
    where = _("Step {n} of {total}", n=position, total=len(visible))
    body.insert(
        0,
        ft.Column(
            spacing=4,
            controls=[
                ft.Text(where, size=13),
                ft.ProgressBar(value=position / max(1, len(visible)), semantics_label=where),
                ft.Text(form.label(step.label, step.name), size=20, weight=ft.FontWeight.BOLD),
            ],
        ),
    )
    body.extend(node_controls(form, step.nodes))
    if form.saved_at:
        body.append(
            ft.Row(
                controls=[
                    ft.Icon(ft.Icons.LOCK, size=16, color=ft.Colors.PRIMARY),
                    ft.Text(
                        _("Saved on this device, encrypted."),
                        size=13,
                        color=ft.Colors.ON_SURFACE_VARIANT,
                    ),
                ]
            )
        )
    if form.can_withdraw_consent:  # a person may withdraw in the middle of the interview
        body.append(withdraw_button(state, form))
    first = bool(visible) and form.step == visible[0]
    nav: list[ft.Control] = [
        ft.OutlinedButton(_("Previous"), height=TOUCH, on_click=form.back, disabled=first),
    ]
    if form.editing is None:
        last = bool(visible) and form.step == visible[-1]
        nav.append(
            ft.FilledButton(
                _("Review") if last else _("Next"),
                icon=ft.Icons.ARROW_FORWARD,
                height=TOUCH,
                on_click=form.next,
            )
        )
    return record_frame(body, nav, page=page_key(form))
