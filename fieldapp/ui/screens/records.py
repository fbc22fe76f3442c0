"""The records on this device: searched by case code or title, filtered by status group, form
and the days they last changed, a page at a time, newest first. Each line names the record
(its case code or title) and a few of its clear (statistical) answers."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.formats import format_number
from fieldapp.ui.services import STATUS_GROUPS, StatusGroup
from fieldapp.ui.state import AppState, RecordsList
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


def _rows(state: AppState, listed: RecordsList) -> list[ft.Control]:
    _ = state.words
    rows: list[ft.Control] = []
    for item in listed.items:
        stats = listed.line(item)
        subtitle = when(item.updated_at, state.lang)
        name, form_title = listed.title(item), listed.form_title(item.form_id)
        if name != form_title:  # titled by its case code: say which form it is
            subtitle = f"{form_title} · {subtitle}"
        icon = STATUS_ICONS.get(listed.group, ft.Icons.DESCRIPTION)
        if item.consent_withdrawn:
            subtitle += " · " + _("Consent withdrawn, details erased")
            icon = ft.Icons.PERSON_OFF
        elif item.id in state.sent_back:
            subtitle += " · " + _("Sent back by the office")
            icon = ft.Icons.ASSIGNMENT_RETURN
        elif listed.is_superseded(item):
            subtitle += " · " + _("Office kept another version")
            icon = ft.Icons.HISTORY
        elif item.problem_count:
            count = item.problem_count
            subtitle += " · " + _.ngettext("{n} problem", "{n} problems", count, n=count)
        if uploading := upload_line(_, listed.uploads.get(item.id)):
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


def _filters(listed: RecordsList) -> list[ft.Control]:
    """The form and the days the records last changed on."""
    _ = listed.words
    forms = listed.services.records.forms()
    return [
        ft.Dropdown(
            label=_("Form"),
            value=listed.form_id or "",
            expand=True,
            options=[
                ft.DropdownOption(key="", text=_("All forms")),
                *(
                    ft.DropdownOption(key=spec.id, text=listed.form_title(spec.id))
                    for spec in forms
                ),
            ],
            on_select=lambda e: listed.filter(form_id=e.control.value or ""),
        ),
        ft.Row(
            vertical_alignment=ft.CrossAxisAlignment.START,
            controls=[
                keyed(
                    DayFilter,
                    listed,
                    "since",
                    _("Changed from"),
                    listed.since,
                    key=f"since-{listed.since}",
                ),
                keyed(
                    DayFilter,
                    listed,
                    "until",
                    _("Changed until"),
                    listed.until,
                    key=f"until-{listed.until}",
                ),
            ],
        ),
    ]


@ft.component
def DayFilter(listed: RecordsList, which: str, label: str, typed_day: str) -> ft.Control:
    """A day typed as YYYY-MM-DD, applied when the person is done with it (Enter or leaving
    the field), not at each keystroke: "2026-1" is no mistake yet."""
    _ = listed.words
    text, set_text = ft.use_state(typed_day)

    def apply() -> None:
        listed.filter(**{which: text})

    return ft.TextField(
        label=label,
        value=text,
        hint_text=_("YYYY-MM-DD"),
        keyboard_type=ft.KeyboardType.DATETIME,
        error=listed.errors.get(which),
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
    # subscribed to as the screen's own observable (the app's state holds it, to clear it on
    # lock): a page, a search or a filter redraws the list
    listed, _set = ft.use_state(state.records)
    rows = _rows(state, listed)
    first = listed.offset + 1 if listed.items else 0
    last = listed.offset + len(listed.items)
    filters_shown = listed.filters_open or bool(
        listed.form_id or listed.since or listed.until or listed.errors
    )

    def count(group: StatusGroup) -> str:
        return format_number(state.counts.get(group, 0), state.lang)

    return page(
        [
            title(_("Records")),
            ft.TextField(
                label=_("Search by case code or title"),
                value=listed.text,
                prefix_icon=ft.Icons.SEARCH,
                on_change=typed(lambda text: listed.filter(text=text)),
            ),
            ft.Row(
                wrap=True,  # every status in sight on a phone, none scrolled away
                controls=[
                    (ft.FilledButton if g == listed.group else ft.OutlinedButton)(
                        f"{_(STATUS_LABELS[g])} ({count(g)})",
                        height=TOUCH,
                        on_click=lambda _e=None, grp=g: listed.load(grp),
                    )
                    for g in STATUS_GROUPS
                ],
            ),
            ft.TextButton(
                _("Filter by form and day"),
                icon=ft.Icons.EXPAND_LESS if filters_shown else ft.Icons.FILTER_LIST,
                height=TOUCH,
                on_click=lambda: listed.show_filters(not filters_shown),
            ),
            *(_filters(listed) if filters_shown else []),
            ft.TextButton(
                _("Clear search and filters"),
                icon=ft.Icons.FILTER_ALT_OFF,
                height=TOUCH,
                visible=listed.filtered,
                on_click=listed.clear_filters,
            ),
            *(rows or [ft.Text(_("No records here."))]),
            ft.Text(_("{first}–{last} of {total}", first=first, last=last, total=listed.total)),
            ft.Row(
                wrap=True,
                controls=[
                    ft.OutlinedButton(
                        _("First page"),
                        height=TOUCH,
                        disabled=not listed.cursors,
                        on_click=listed.first_page,
                    ),
                    ft.FilledButton(
                        _("Next page"),
                        height=TOUCH,
                        disabled=listed.next_after is None,
                        on_click=listed.next_page,
                    ),
                ],
            ),
        ]
    )
