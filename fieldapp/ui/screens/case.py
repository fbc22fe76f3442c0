"""A screening's case: its status and social worker, the timeline of services (newest first,
a shelter stay with its length), "Add service" and "Close case"; or, before there is one, a
social worker's name and "Open case". The survivor's referrals show with their status, and
"Refer to another organisation" opens the referral flow for the case's screening (where the
consent to refer is recorded)."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from fieldapp.ui.state import AppState, CaseSession
from fieldapp.ui.widgets.common import TOUCH, WRAP_LINES, banner, error_text, typed
from fieldapp.ui.widgets.record import record_frame
from fieldapp.ui.widgets.referral import referral_line

__all__ = ["CaseScreen"]


def _putter(case: CaseSession, name: str) -> Callable[[str], None]:
    return lambda text: case.put(name, text)


def _text(case: CaseSession, name: str, *, hint: str | None = None) -> ft.Control:
    return ft.TextField(
        key=f"{case.mode}-{name}",
        label=case.label(name),
        value=case.answers.get(name, ""),
        hint_text=hint,
        error=case.errors.get(name),
        error_max_lines=WRAP_LINES,
        on_change=typed(_putter(case, name)),
    )


def _radios(case: CaseSession, name: str) -> ft.Control:
    return ft.Column(
        spacing=0,
        controls=[
            ft.Text(case.label(name), weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=case.answers.get(name),
                on_change=typed(_putter(case, name)),
                content=ft.Column(
                    spacing=0,
                    controls=[ft.Radio(value=v, label=text) for v, text in case.choices(name)],
                ),
            ),
            error_text(case.errors.get(name)),
        ],
    )


def _timeline(case: CaseSession) -> list[ft.Control]:
    _ = case.words
    if not case.rows:
        return [ft.Text(_("No service recorded yet."))]
    cards: list[ft.Control] = []
    for row in case.rows:
        lines: list[ft.Control] = [
            ft.Text(row.service, size=17, weight=ft.FontWeight.BOLD),
            ft.Text(row.dates),
        ]
        if row.stay:
            lines.append(ft.Text(_("Stay: {length}", length=row.stay)))
        if row.provider:
            lines.append(ft.Text(_("Provider: {name}", name=row.provider)))
        lines.append(ft.Text(_("Outcome: {outcome}", outcome=row.outcome)))
        if row.notes:
            lines.append(ft.Text(row.notes, color=ft.Colors.ON_SURFACE_VARIANT))
        cards.append(
            ft.Card(content=ft.Container(padding=12, content=ft.Column(spacing=4, controls=lines)))
        )
    return cards


def _referrals(case: CaseSession) -> list[ft.Control]:
    if not case.referrals:
        return []
    _ = case.words
    lines = [
        referral_line(_, case.lang, r.to_org_name, r.service, r.status, r.reason, r.updated_at)
        for r in case.referrals
    ]
    return [ft.Text(_("Referrals sent"), size=20, weight=ft.FontWeight.BOLD), *lines]


def _summary(case: CaseSession) -> list[ft.Control]:
    _ = case.words
    status = dict(case.choices("status")).get(case.status, case.status)
    lines: list[ft.Control] = [
        ft.Text(_("Status: {status}", status=status), size=17, weight=ft.FontWeight.W_600),
        ft.Text(_("Assigned social worker: {name}", name=case.worker)),
    ]
    if case.closure:
        lines.append(ft.Text(_("Closed: {reason}", reason=case.closure)))
    return lines


@ft.component
def CaseScreen(state: AppState, case: CaseSession) -> ft.Control:
    """The case of the screening `case` names, or the form that opens it."""
    _ = case.words
    body: list[ft.Control] = [banner(case.notice)] if case.notice else []
    if case.case_id is None:
        body += [
            ft.Text(_("No case is open for this person yet."), size=17),
            _text(case, "assigned_worker"),
        ]
        buttons: list[ft.Control] = [
            ft.FilledButton(_("Open case"), height=TOUCH, on_click=case.open_case)
        ]
        return record_frame(body, buttons, page="case-open")
    body += _summary(case)
    if case.mode == "add":
        body += [
            ft.Text(_("Add service"), size=20, weight=ft.FontWeight.BOLD),
            _radios(case, "service_type"),
            _text(case, "provider"),
            _text(case, "start_date", hint=_("YYYY-MM-DD")),
            _text(case, "end_date", hint=_("YYYY-MM-DD")),
            _radios(case, "outcome"),
            _text(case, "notes"),
        ]
        buttons = [
            ft.OutlinedButton(_("Cancel"), height=TOUCH, on_click=lambda: case.start("timeline")),
            ft.FilledButton(_("Save service"), height=TOUCH, on_click=case.save_service),
        ]
    elif case.mode == "close":
        body += [
            ft.Text(_("Close case"), size=20, weight=ft.FontWeight.BOLD),
            _radios(case, "closure_reason"),
            _text(case, "closure_note"),
        ]
        buttons = [
            ft.OutlinedButton(_("Cancel"), height=TOUCH, on_click=lambda: case.start("timeline")),
            ft.FilledButton(_("Close this case"), height=TOUCH, on_click=case.close_case),
        ]
    else:
        body += [ft.Text(_("Timeline"), size=20, weight=ft.FontWeight.BOLD), *_timeline(case)]
        body += _referrals(case)
        if not case.closed:
            body.append(
                ft.FilledTonalButton(
                    _("Refer to another organisation"),
                    icon=ft.Icons.SWAP_HORIZ,
                    height=TOUCH,
                    on_click=lambda: ft.context.page.run_thread(
                        state.open_referrals, case.screening_id
                    ),
                )
            )
        buttons = [
            ft.OutlinedButton(
                _("Close case"),
                height=TOUCH,
                disabled=case.closed,
                on_click=lambda: case.start("close"),
            ),
            ft.FilledButton(
                _("Add service"),
                icon=ft.Icons.ADD,
                height=TOUCH,
                disabled=case.closed,
                on_click=lambda: case.start("add"),
            ),
        ]
    return record_frame(body, buttons, page=f"case-{case.mode}")
