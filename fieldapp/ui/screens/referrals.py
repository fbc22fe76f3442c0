"""Referrals: refer the record the screen came from to another organisation's service
(picked from the directory, with a note sealed for the receiver only), the referrals sent
with their status, and, for a case manager or admin, the referrals received: what they hold
once the case files are unlocked, accept, decline with a reason, service delivered."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.context import use_app
from fieldapp.ui.services import DECLINE_REASONS, IncomingReferral, Referral
from fieldapp.ui.state import ReferralsView
from fieldapp.ui.widgets.common import TOUCH, banner, page, title, typed
from fieldapp.ui.widgets.referral import REASON_WORDS, referral_line

__all__ = ["Referrals"]


def _refer_form(_: Words, view: ReferralsView) -> list[ft.Control]:
    if view.sent:
        return [banner(_("Referral sent. Its status shows below under Referrals sent."))]
    if not view.directory:
        return [banner(_("No organisation takes referrals yet, or the directory is not on this"
                         " device: sync, then try again."), error=True)]  # fmt: skip
    return [
        ft.Text(_("Organisation"), weight=ft.FontWeight.W_600),
        ft.RadioGroup(
            value=view.to_org,
            on_change=typed(view.choose_org),
            content=ft.Column([ft.Radio(value=e.org_id, label=e.org_name) for e in view.directory]),
        ),
        ft.Text(_("Service"), weight=ft.FontWeight.W_600, visible=view.to_org is not None),
        ft.RadioGroup(
            value=view.service,
            on_change=typed(view.choose_service),
            content=ft.Column(
                [ft.Radio(value=code, label=label) for code, label in view.services_offered]
            ),
        ),
        ft.TextField(
            label=_("Note for the receiving organisation"),
            value=view.note,
            multiline=True,
            max_length=2000,
            on_change=typed(view.set_note),
        ),
        ft.Text(
            _(
                "Only the name, date of birth, sex, age band, nationality, languages and needs"
                " are shared, sealed for that organisation alone."
            ),
            size=13,
        ),
        ft.FilledButton(
            _("Send referral"),
            icon=ft.Icons.SEND,
            height=TOUCH,
            disabled=view.to_org is None or view.service is None,
            on_click=lambda: ft.context.page.run_thread(view.send),
        ),
    ]


def _line(_: Words, lang: str, referral: Referral, other: str) -> ft.Control:
    return referral_line(
        _, lang, other, referral.service, referral.status, referral.reason,
        referral.updated_at.isoformat(),
    )  # fmt: skip


def _answer_button(text: str, action: Callable[[], None], *, filled: bool) -> ft.Control:
    kind = ft.FilledButton if filled else ft.OutlinedButton
    return kind(text, height=TOUCH, on_click=lambda: ft.context.page.run_thread(action))


def _received(_: Words, lang: str, view: ReferralsView, item: IncomingReferral) -> ft.Control:
    referral = item.referral
    rid = str(referral.id)
    rows: list[ft.Control] = [_line(_, lang, referral, referral.from_org_name)]
    if item.contents is not None:
        shown = [f"{name}: {value}" for name, value in item.contents.fields.items()]
        if item.contents.note:
            shown.append(_("Note: {note}", note=item.contents.note))
        rows.append(ft.Text("\n".join(shown), selectable=True))
    elif referral.sealed is not None:
        rows.append(ft.Text(_("Unlock the case files in the office to read it."), size=13))
    buttons: list[ft.Control] = []
    if referral.status == "sent":
        buttons = [
            _answer_button(_("Accept"), lambda: view.answer(rid, "accept"), filled=True),
            ft.Dropdown(
                label=_("Reason"),
                value=view.reasons.get(rid),
                options=[
                    ft.DropdownOption(key=r, text=_(REASON_WORDS[r])) for r in DECLINE_REASONS
                ],
                on_select=lambda e: view.choose_reason(rid, e.control.value),
                width=200,
            ),
            _answer_button(_("Decline"), lambda: view.answer(rid, "decline"), filled=False),
        ]
    elif referral.status == "accepted":
        buttons = [
            _answer_button(
                _("Service delivered"), lambda: view.answer(rid, "delivered"), filled=True
            )
        ]
    return ft.Column(spacing=6, controls=[*rows, ft.Row(wrap=True, controls=buttons)])


@ft.component
def Referrals() -> ft.Control:
    state = use_app()
    _ = state.words
    # subscribed to as the screen's own observable (the app's state holds it, to clear it on
    # lock): its lists arrive after the screen is drawn
    view, _set = ft.use_state(state.referrals)
    controls: list[ft.Control] = [title(_("Referrals"))]
    if view.error:
        controls.append(banner(view.error, error=True))
    if view.record_id is not None:
        controls += [ft.Text(_("Refer this person"), size=17, weight=ft.FontWeight.W_600)]
        controls += _refer_form(_, view)
    controls.append(ft.Text(_("Referrals sent"), size=17, weight=ft.FontWeight.W_600))
    controls += [_line(_, state.lang, r, r.to_org_name) for r in view.outgoing] or [
        ft.Text(_("None yet."))
    ]
    if view.receives:
        controls.append(ft.Text(_("Referrals received"), size=17, weight=ft.FontWeight.W_600))
        controls += [_received(_, state.lang, view, item) for item in view.incoming] or [
            ft.Text(_("None yet."))
        ]
    controls.append(
        ft.OutlinedButton(
            _("Refresh"),
            icon=ft.Icons.REFRESH,
            height=TOUCH,
            on_click=lambda: ft.context.page.run_thread(view.reload),
        )
    )
    return page(controls)
