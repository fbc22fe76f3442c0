"""What frames an open record, whichever screen draws it (the wizard, its review, a training
event's hub): the notes over it, the buttons under it, withdrawing consent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flet as ft

from fieldapp.ui.messages import GOOD_NEWS, MESSAGES
from fieldapp.ui.state import AppState, FormSession, referable
from fieldapp.ui.widgets.common import TOUCH, banner, confirm_dialog

__all__ = [
    "finish_buttons",
    "record_frame",
    "record_notes",
    "withdraw_button",
    "withdraw_dialog",
]


def _child_alert(form: FormSession) -> ft.Control:
    """One compact line over every step while the answers say the person may be a child (the
    referral question itself is on the profile step)."""
    _ = form.words
    return ft.Container(
        padding=ft.Padding.symmetric(horizontal=10, vertical=6),
        border_radius=8,
        bgcolor=ft.Colors.ERROR_CONTAINER,
        border=ft.Border.all(1, ft.Colors.ERROR),
        content=ft.Row(
            spacing=8,
            controls=[
                ft.Icon(ft.Icons.CHILD_CARE, color=ft.Colors.ERROR, size=20),
                ft.Text(
                    _(
                        "May be a child: refer to child protection now; go on only with a"
                        " guardian or child protection officer."
                    ),
                    size=13,
                    color=ft.Colors.ON_ERROR_CONTAINER,
                    expand=True,
                ),
            ],
        ),
    )


def _problem_text(form: FormSession, problem: Mapping[str, Any]) -> str:
    """The server's reason in the user's words where the app knows the code."""
    if problem.get("code") == "unknown_form_version":
        _ = form.words
        return _(
            "Your office has not published this version of the form on the server yet."
            " Nothing is lost: send it again once they have."
        )
    return str(problem.get("message") or problem.get("code") or "")


def _problems(form: FormSession) -> list[ft.Control]:
    _ = form.words
    if form.consent_withdrawn:
        note = _(
            "Consent was withdrawn: this record's personal details were erased. Only anonymous"
            " statistics are kept."
        )
        return [banner(note, icon=ft.Icons.PERSON_OFF)]
    if form.mine_is_newest:
        note = _(
            "Your version is the newest one on the server. The office keeps the other version"
            " too and will check them both."
        )
        return [banner(note, icon=ft.Icons.CALL_SPLIT)]
    if form.status == "conflict":
        heading = _("Edited in two places")
        body = _(
            "Someone else changed this record while you were offline. You see your version;"
            " the other one is sealed for the office."
        )
        return [banner(f"{heading}\n{body}", error=True, icon=ft.Icons.CALL_SPLIT)]
    if form.superseded_note is not None:  # calm: nothing is lost, nothing to do
        return [banner(form.superseded_note, icon=ft.Icons.HISTORY)]
    if form.status != "rejected" or not form.problems:
        return []
    lines = [_problem_text(form, p) for p in form.problems]
    return [banner("\n".join([_("The server could not accept this record:"), *lines]), error=True)]


def record_notes(state: AppState, form: FormSession) -> list[ft.Control]:
    """What shows over a record: the child-protection prompt, the record's state (withdrawn,
    in conflict, rejected...), "Compare and merge" for a conflict, and what it last said."""
    _ = form.words
    notes: list[ft.Control] = []
    if form.child_alert:
        notes.append(_child_alert(form))
    notes.extend(_problems(form))
    if form.sent_back is not None:
        notes.append(
            banner(
                _("Sent back by the office: {comment}", comment=form.sent_back)
                + "\n"
                + _("Fix the record and finalise it to send it again."),
                error=True,
                icon=ft.Icons.ASSIGNMENT_RETURN,
            )
        )
    if form.status == "conflict":  # in the body: the buttons below are full already
        notes.append(
            ft.FilledTonalButton(
                _("Compare and merge"),
                icon=ft.Icons.CALL_MERGE,
                height=TOUCH,
                on_click=state.open_merge,
            )
        )
    if referable(form):
        notes.append(
            ft.FilledTonalButton(
                _("Refer to another organisation"),
                icon=ft.Icons.SWAP_HORIZ,
                height=TOUCH,
                on_click=lambda: ft.context.page.run_thread(state.open_referrals, form.record_id),
            )
        )
    if form.message_key:
        failed = form.message_key not in GOOD_NEWS
        notes.append(banner(_.entry(MESSAGES[form.message_key]), error=failed))
    return notes


def record_frame(body: list[ft.Control], buttons: list[ft.Control], *, page: str) -> ft.Control:
    """The scrolling body over the buttons. `page` names what shows (step, tab, entry): a new
    one gets a new list, so it opens at its top rather than where the last one was scrolled
    (and a tap never lands on a field that has just moved under the finger)."""
    body_list = ft.ListView(key=page, controls=body, spacing=14, padding=16, expand=True)
    nav = ft.Container(
        padding=ft.Padding.symmetric(horizontal=12, vertical=8),
        content=ft.Row(alignment=ft.MainAxisAlignment.SPACE_BETWEEN, controls=buttons),
    )
    return ft.Column(expand=True, spacing=0, controls=[body_list, nav])


def withdraw_button(state: AppState, form: FormSession) -> ft.Control:
    """The person withdrew their consent: erase the record (after the dialog says what goes)."""
    _ = form.words
    return ft.OutlinedButton(
        _("Withdraw consent and erase"),
        icon=ft.Icons.PERSON_REMOVE,
        height=TOUCH,
        style=ft.ButtonStyle(color=ft.Colors.ERROR, icon_color=ft.Colors.ERROR),
        on_click=lambda: state.ask_withdraw(True),
    )


def withdraw_dialog(state: AppState, form: FormSession) -> ft.AlertDialog:
    """What "Withdraw consent and erase" erases, that it cannot be undone; modal: only one
    of its two buttons closes it."""
    _ = form.words
    return confirm_dialog(
        icon=ft.Icons.PERSON_REMOVE,
        title=_("Withdraw consent and erase?"),
        text=_(
            "The person's name, date of birth, places, notes and every other personal"
            " answer in this record are erased from this device now, and from the server,"
            " with every earlier version, at the next sync. Only the anonymous statistics"
            " stay, for counts. This cannot be undone."
        ),
        cancel=_("Cancel"),
        on_cancel=lambda: state.ask_withdraw(False),
        confirm=_("Withdraw and erase"),
        on_confirm=state.withdraw_consent,
    )


def finish_buttons(state: AppState, form: FormSession) -> list[ft.Control]:
    """Finalise a draft, resend a rejected record, or settle a conflict."""
    _ = form.words
    if form.consent_withdrawn:
        return []  # nothing left to send or settle from here
    if form.status == "conflict" and form.mine_is_newest:
        return []  # nothing left to do here: the office settles it
    if form.status == "conflict":
        return [
            ft.OutlinedButton(
                _("Let the office decide"), height=TOUCH, on_click=state.leave_for_office
            ),
            ft.FilledButton(_("Keep my version"), height=TOUCH, on_click=state.keep_my_version),
        ]
    if form.status not in ("draft", "rejected"):
        return []
    label = _("Fix and resend") if form.status == "rejected" else _("Finalise")
    return [ft.FilledButton(label, icon=ft.Icons.CHECK, height=TOUCH, on_click=state.finalise)]
