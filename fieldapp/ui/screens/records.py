"""The records on this device: searched by case code or title, filtered by status group, form
and the days they last changed, a page at a time, newest first. Each line names the record
(its case code or title) and a few of its clear (statistical) answers."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.formats import format_number
from fieldapp.ui.services import STATUS_GROUPS, StatusGroup
from fieldapp.ui.state import AppState
from fieldapp.ui.state.media import upload_line
from fieldapp.ui.widgets.common import (
    STATUS_ICONS,
    STATUS_LABELS,
    TOUCH,
    WRAP_LINES,
    keyed,
    page,
    title,
    typed,
    when,
)

__all__ = ["Records"]


_NOT_SENT = frozenset({"draft", "final", "queued"})  # its photos and files not sent either


def _rows(state: AppState) -> list[ft.Control]:
    _ = state.words
    rows: list[ft.Control] = []
    for item in state.records:
        stats = state.record_line(item)
        subtitle = when(item.updated_at, state.lang)
        name, form_title = state.record_title(item), state.form_title(item.form_id)
        if name != form_title:  # titled by its case code: say which form it is
            subtitle = f"{form_title} · {subtitle}"
        icon = STATUS_ICONS.get(state.records_group, ft.Icons.DESCRIPTION)
        if item.consent_withdrawn:
            subtitle += " · " + _("Consent withdrawn, details erased")
            icon = ft.Icons.PERSON_OFF
        elif item.id in state.sent_back:
            subtitle += " · " + _("Sent back by the office")
            icon = ft.Icons.ASSIGNMENT_RETURN
        elif state.is_superseded(item):
            subtitle += " · " + _("Office kept another version")
            icon = ft.Icons.HISTORY
        elif item.problem_count:
            count = item.problem_count
            subtitle += " · " + _.ngettext("{n} problem", "{n} problems", count, n=count)
        if uploading := upload_line(_, state.record_uploads.get(item.id)):
            subtitle += " · " + uploading
        elif item.status in _NOT_SENT and (files := state.services.attachments.count(item.id)):
            subtitle += " · " + _.ngettext(
                "{n} attachment waiting", "{n} attachments waiting", files, n=files
            )
        rows.append(
            ft.ListTile(
                leading=ft.Icon(icon),
                title=ft.Text(name, weight=ft.FontWeight.W_600),
                subtitle=ft.Text(f"{subtitle}\n{stats}" if stats else subtitle),
                min_height=TOUCH,
                on_click=lambda _e=None, rid=item.id: state.open_record(rid),
            )
        )
    return rows


def _filters(state: AppState) -> list[ft.Control]:
    """The form and the days the records last changed on."""
    _ = state.words
    forms = state.services.records.forms()
    return [
        ft.Dropdown(
            label=_("Form"),
            value=state.records_form or "",
            expand=True,
            options=[
                ft.DropdownOption(key="", text=_("All forms")),
                *(ft.DropdownOption(key=spec.id, text=state.form_title(spec.id)) for spec in forms),
            ],
            on_select=lambda e: state.filter_records(form_id=e.control.value or ""),
        ),
        ft.Row(
            vertical_alignment=ft.CrossAxisAlignment.START,
            controls=[
                keyed(
                    DayFilter,
                    state,
                    "since",
                    _("Changed from"),
                    state.records_since,
                    key=f"since-{state.records_since}",
                ),
                keyed(
                    DayFilter,
                    state,
                    "until",
                    _("Changed until"),
                    state.records_until,
                    key=f"until-{state.records_until}",
                ),
            ],
        ),
    ]


@ft.component
def DayFilter(state: AppState, which: str, label: str, typed_day: str) -> ft.Control:
    """A day typed as YYYY-MM-DD, applied when the person is done with it (Enter or leaving
    the field), not at each keystroke: "2026-1" is no mistake yet."""
    _ = state.words
    text, set_text = ft.use_state(typed_day)

    def apply() -> None:
        state.filter_records(**{which: text})

    return ft.TextField(
        label=label,
        value=text,
        hint_text=_("YYYY-MM-DD"),
        keyboard_type=ft.KeyboardType.DATETIME,
        error=state.records_errors.get(which),
        error_max_lines=WRAP_LINES,
        expand=True,
        on_change=typed(set_text),
        on_submit=apply,
        on_blur=apply,
    )


@ft.component
def Records() -> ft.Control:
    state = use_app()
    _ = state.words
    rows = _rows(state)
    first = state.records_offset + 1 if state.records else 0
    last = state.records_offset + len(state.records)
    filters_shown = state.records_filters_open or bool(
        state.records_form or state.records_since or state.records_until or state.records_errors
    )

    def count(group: StatusGroup) -> str:
        return format_number(state.counts.get(group, 0), state.lang)

    return page(
        [
            title(_("Records")),
            ft.TextField(
                label=_("Search by case code or title"),
                value=state.records_text,
                prefix_icon=ft.Icons.SEARCH,
                on_change=typed(lambda text: state.filter_records(text=text)),
            ),
            ft.Row(
                wrap=True,  # every status in sight on a phone, none scrolled away
                controls=[
                    (ft.FilledButton if g == state.records_group else ft.OutlinedButton)(
                        f"{_(STATUS_LABELS[g])} ({count(g)})",
                        height=TOUCH,
                        on_click=lambda _e=None, grp=g: state.load_records(grp),
                    )
                    for g in STATUS_GROUPS
                ],
            ),
            ft.TextButton(
                _("Filter by form and day"),
                icon=ft.Icons.EXPAND_LESS if filters_shown else ft.Icons.FILTER_LIST,
                height=TOUCH,
                on_click=lambda: state.show_record_filters(not filters_shown),
            ),
            *(_filters(state) if filters_shown else []),
            ft.TextButton(
                _("Clear search and filters"),
                icon=ft.Icons.FILTER_ALT_OFF,
                height=TOUCH,
                visible=state.records_filtered,
                on_click=state.clear_record_filters,
            ),
            *(rows or [ft.Text(_("No records here."))]),
            ft.Text(
                _("{first}–{last} of {total}", first=first, last=last, total=state.records_total)
            ),
            ft.Row(
                wrap=True,
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
                ],
            ),
        ]
    )
