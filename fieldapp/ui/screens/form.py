"""The wizard for any form (built-in or imported from XLSForm): a step at a time, then the
review; the jump list (every step and question, tap to go) and "Go to end" from any step. A
training event being registered gets its hub instead (`training_hub`)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.state import AppState, FormSession, JumpStep
from fieldapp.ui.widgets.case import case_button
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

_STATE_ICONS = {
    "answered": (ft.Icons.CHECK_CIRCLE, ft.Colors.PRIMARY),
    "unanswered": (ft.Icons.RADIO_BUTTON_UNCHECKED, ft.Colors.ON_SURFACE_VARIANT),
    "error": (ft.Icons.ERROR, ft.Colors.ERROR),
}


def page_key(form: FormSession, tab: str = "") -> str:
    """What shows of the record (step, tab, entry being edited), to key its scrolling list."""
    editing = "" if form.editing is None else f"{form.editing[0]}[{form.editing[1]}]"
    jumps = "|jumps" if form.jumping else ""
    return f"{form.step}|{tab}|{editing}{jumps}"


def _jump_step(form: FormSession, jump: JumpStep) -> ft.Control:
    """One step of the jump list and its questions, each with its state; a tap goes there."""
    _ = form.words
    icon, color = _STATE_ICONS[jump.state]
    said = {"answered": _("answered"), "unanswered": _("not answered"), "error": _("problem")}
    lines: list[ft.Control] = [
        ft.Row(
            controls=[
                ft.Icon(icon, color=color, size=20),
                ft.Text(
                    jump.label,
                    size=17,
                    weight=ft.FontWeight.BOLD if jump.current else ft.FontWeight.W_600,
                    expand=True,
                ),
            ]
        )
    ]
    for question in jump.questions:
        q_icon, q_color = _STATE_ICONS[question.state]
        lines.append(
            ft.Row(
                controls=[
                    ft.Container(width=8),
                    ft.Icon(q_icon, color=q_color, size=16),
                    ft.Text(
                        question.label,
                        size=14,
                        expand=True,
                        semantics_label=f"{question.label}: {said[question.state]}",
                    ),
                ]
            )
        )
    return ft.Card(
        content=ft.Container(
            padding=12,
            border_radius=12,
            bgcolor=ft.Colors.SECONDARY_CONTAINER if jump.current else None,
            on_click=lambda _e=None, i=jump.index: form.jump(i),
            content=ft.Column(spacing=6, controls=lines),
        )
    )


def _jump_list(state: AppState, form: FormSession) -> ft.Control:
    """ODK Collect's hierarchy view: every step and question; tap one to go, or to the end."""
    _ = form.words
    body: list[ft.Control] = [
        ft.Text(_("Questions"), size=20, weight=ft.FontWeight.BOLD),
        ft.Text(_("Tap a step to go to it."), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
        *[_jump_step(form, jump) for jump in form.jump_list()],
    ]
    buttons: list[ft.Control] = [
        ft.OutlinedButton(_("Close"), height=TOUCH, on_click=lambda: form.show_jumps(False)),
        ft.FilledButton(
            _("Go to end"), icon=ft.Icons.LAST_PAGE, height=TOUCH, on_click=form.go_to_end
        ),
    ]
    return record_frame(body, buttons, page=page_key(form))


def _step_header(form: FormSession, position: int, total: int, label: str) -> ft.Control:
    _ = form.words
    where = _("Step {n} of {total}", n=position, total=total)
    return ft.Column(
        spacing=4,
        controls=[
            ft.Row(
                spacing=0,
                controls=[
                    ft.Text(where, size=13, expand=True),
                    ft.TextButton(
                        _("Questions"),
                        icon=ft.Icons.LIST,
                        height=TOUCH,
                        on_click=lambda: form.show_jumps(True),
                    ),
                ],
            ),
            ft.ProgressBar(value=position / max(1, total), semantics_label=where),
            ft.Text(label, size=20, weight=ft.FontWeight.BOLD),
        ],
    )


@ft.component
def FormScreen(state: AppState, form: FormSession) -> ft.Control:
    """The open record: [body, bottom buttons], a step of the wizard, the jump list or the
    review."""
    _ = form.words
    ft.use_dialog(withdraw_dialog(state, form) if state.confirm_withdraw else None)
    if form.jumping:
        return _jump_list(state, form)
    body = record_notes(state, form)
    if form.reviewing:
        body.append(ft.Text(_("Review"), size=20, weight=ft.FontWeight.BOLD))
        body.extend(review_controls(form, editable=form.editable))
        body.extend(case_button(state, form))
        if form.can_withdraw_consent:
            body.append(withdraw_button(state, form))
        buttons = finish_buttons(state, form)
        if form.editable:  # a conflict is settled here, a withdrawn record is gone
            buttons.insert(0, ft.OutlinedButton(_("Previous"), height=TOUCH, on_click=form.back))
        return record_frame(body, buttons, page=page_key(form))
    visible = form.visible_steps()
    step = form.steps[form.step]
    position = visible.index(form.step) + 1 if form.step in visible else 1
    body.insert(0, _step_header(form, position, len(visible), form.label(step.label, step.name)))
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
                        expand=True,
                    ),
                ]
            )
        )
    if form.can_withdraw_consent:  # a person may withdraw in the middle of the interview
        body.append(withdraw_button(state, form))
    first = bool(visible) and form.step == visible[0]
    review = form.back_to_review and form.editing is None  # opened by "Edit": one tap back
    back = (
        ft.OutlinedButton(_("Back to review"), icon=ft.Icons.FACT_CHECK, on_click=form.go_to_end)
        if review
        else ft.OutlinedButton(_("Previous"), on_click=form.back, disabled=first)
    )
    back.height = TOUCH
    nav: list[ft.Control] = [back]
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
