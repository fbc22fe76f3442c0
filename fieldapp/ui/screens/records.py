"""The records on this device by status group, a page at a time, newest first; each line
tells records apart by a few of their clear (statistical) answers."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.services import STATUS_GROUPS
from fieldapp.ui.widgets.common import STATUS_ICONS, STATUS_LABELS, TOUCH, page, title, when

__all__ = ["Records"]


@ft.component
def Records() -> ft.Control:
    state = use_app()
    _ = state.words
    rows: list[ft.Control] = []
    for item in state.records:
        stats = state.record_line(item)
        subtitle = when(item.updated_at, state.lang)
        icon = STATUS_ICONS.get(state.records_group, ft.Icons.DESCRIPTION)
        if item.consent_withdrawn:
            subtitle += " · " + _("Consent withdrawn, details erased")
            icon = ft.Icons.PERSON_OFF
        elif state.is_superseded(item):
            subtitle += " · " + _("Office kept another version")
            icon = ft.Icons.HISTORY
        elif item.problem_count:
            count = item.problem_count
            subtitle += " · " + _.ngettext("{n} problem", "{n} problems", count, n=count)
        rows.append(
            ft.ListTile(
                leading=ft.Icon(icon),
                title=ft.Text(state.form_title(item.form_id)),
                subtitle=ft.Text(f"{subtitle}\n{stats}" if stats else subtitle),
                min_height=TOUCH,
                on_click=lambda _e=None, rid=item.id: state.open_record(rid),
            )
        )
    first = state.records_offset + 1 if state.records else 0
    last = state.records_offset + len(state.records)
    return page(
        [
            title(_("Records")),
            ft.Row(
                wrap=True,  # every status in sight on a phone, none scrolled away
                controls=[
                    (ft.FilledButton if g == state.records_group else ft.OutlinedButton)(
                        f"{_(STATUS_LABELS[g])} ({state.counts.get(g, 0)})",
                        height=TOUCH,
                        on_click=lambda _e=None, grp=g: state.load_records(grp),
                    )
                    for g in STATUS_GROUPS
                ],
            ),
            *(rows or [ft.Text(_("No records here."))]),
            ft.Text(
                _("{first}–{last} of {total}", first=first, last=last, total=state.records_total)
            ),
            ft.Row(
                controls=[
                    ft.OutlinedButton(
                        _("First page"),
                        height=TOUCH,
                        disabled=not state.records_cursors,
                        on_click=state.first_records_page,
                    ),
                    ft.FilledButton(
                        _("Next page"),
                        height=TOUCH,
                        disabled=state.records_next is None,
                        on_click=state.next_records_page,
                    ),
                ]
            ),
        ]
    )
