"""The office's review section: incoming records (statistical fields only), filtered by region,
device, form, days received and review state, newest received first, "Load more" for the next
page; on one record, Approve, Has issues or Reject, the last two with a comment for the
collector (ODK Central's review states)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from fieldapp.ui.context import use_office
from fieldapp.ui.services import REVIEW_STATES, OfficeRecord
from fieldapp.ui.state.office_review import REVIEW_STATE_LABELS, ReviewDesk
from fieldapp.ui.widgets.common import (
    TOUCH,
    WIDE,
    WRAP_LINES,
    banner,
    keyed,
    page,
    title,
    typed,
    when,
)

__all__ = ["ReviewSection"]

_STATE_ICONS = {
    "received": ft.Icons.INBOX,
    "has_issues": ft.Icons.REPORT_PROBLEM,
    "edited": ft.Icons.EDIT,
    "approved": ft.Icons.CHECK_CIRCLE,
    "rejected": ft.Icons.CANCEL,
}


def _reload(desk: ReviewDesk) -> None:
    ft.context.page.run_thread(desk.load)


@ft.component
def _TextFilter(desk: ReviewDesk, name: str, label: str, value: str, hint: str) -> ft.Control:
    """A filter typed, applied when the person is done with it (Enter or leaving it)."""
    text, set_text = ft.use_state(value)

    def apply() -> None:
        if text != getattr(desk, name):
            desk.set_filter(name, text)
            _reload(desk)

    return ft.TextField(
        label=label,
        value=text,
        hint_text=hint or None,
        error=desk.errors.get(name),
        error_max_lines=WRAP_LINES,
        width=200,
        on_change=typed(set_text),
        on_submit=apply,
        on_blur=apply,
    )


def _choice(desk: ReviewDesk, name: str, label: str, options: list[tuple[str, str]]) -> ft.Control:
    def chosen(event: Any) -> None:
        desk.set_filter(name, event.control.value or "")
        _reload(desk)

    return ft.Dropdown(
        label=label,
        value=getattr(desk, name),
        width=200,
        options=[ft.DropdownOption(key=key, text=text) for key, text in options],
        on_select=chosen,
    )


def _filters(desk: ReviewDesk) -> ft.Control:
    _ = desk.words
    forms = desk.services.records.forms()
    return ft.Row(
        wrap=True,
        spacing=8,
        run_spacing=8,
        vertical_alignment=ft.CrossAxisAlignment.START,
        controls=[
            keyed(_TextFilter, desk, "region", _("Region"), desk.region, "", key="f-region"),
            keyed(_TextFilter, desk, "device", _("Device"), desk.device, "", key="f-device"),
            _choice(
                desk,
                "form_id",
                _("Form"),
                [("", _("All forms")), *((s.id, s.label(s.title, desk.lang)) for s in forms)],
            ),
            _choice(
                desk,
                "status",
                _("Review state"),
                [("", _("Any state")), *((s, _(REVIEW_STATE_LABELS[s])) for s in REVIEW_STATES)],
            ),
            keyed(
                _TextFilter,
                desk,
                "since",
                _("Received from"),
                desk.since,
                _("YYYY-MM-DD"),
                key="f-since",
            ),
            keyed(
                _TextFilter,
                desk,
                "until",
                _("Received until"),
                desk.until,
                _("YYYY-MM-DD"),
                key="f-until",
            ),
        ],
    )


def _decision(desk: ReviewDesk, run: Callable[[Callable[[], Any]], None]) -> list[ft.Control]:
    _ = desk.words
    return [
        ft.TextField(
            label=_("Comment for the collector"),
            value=desk.comment,
            multiline=True,
            min_lines=2,
            max_length=500,
            error=desk.errors.get("comment"),
            error_max_lines=WRAP_LINES,
            on_change=typed(desk.set_comment),
        ),
        ft.Row(
            wrap=True,
            controls=[
                ft.FilledButton(
                    _("Approve"),
                    icon=ft.Icons.CHECK,
                    height=TOUCH,
                    on_click=lambda: run(lambda: desk.decide("approved")),
                ),
                ft.FilledTonalButton(
                    _("Has issues"),
                    icon=ft.Icons.REPORT_PROBLEM,
                    height=TOUCH,
                    on_click=lambda: run(lambda: desk.decide("has_issues")),
                ),
                ft.OutlinedButton(
                    _("Reject"),
                    icon=ft.Icons.CANCEL,
                    height=TOUCH,
                    on_click=lambda: run(lambda: desk.decide("rejected")),
                ),
                ft.TextButton(_("Cancel"), height=TOUCH, on_click=lambda: desk.select(None)),
            ],
        ),
    ]


def _row(
    desk: ReviewDesk, row: OfficeRecord, run: Callable[[Callable[[], Any]], None]
) -> ft.Control:
    _ = desk.words
    record_id = str(row.id)
    state_word = _(REVIEW_STATE_LABELS[row.review_state])
    sender = _("Sent by {device}", device=row.device_id)
    where = row.region or _("No region")
    received = _("Received {when}", when=when(row.received_at.isoformat(), desk.lang))
    open_ = desk.selected == record_id
    controls: list[ft.Control] = [
        ft.Row(
            wrap=True,
            controls=[
                ft.Icon(_STATE_ICONS[row.review_state], color=ft.Colors.PRIMARY),
                ft.Text(state_word, weight=ft.FontWeight.BOLD),
                ft.Text(desk.form_title(row), weight=ft.FontWeight.W_600),
            ],
        ),
        ft.Text(f"{where} · {sender} · {received}", size=13),
        ft.Text("\n".join(desk.stats_lines(row)) or _("No statistical answers.")),
    ]
    if row.attachments is not None and row.attachments.stored < row.attachments.needed:
        controls.append(
            ft.Text(
                _(
                    "Waiting for attachments: {stored} of {needed} parts received",
                    stored=row.attachments.stored,
                    needed=row.attachments.needed,
                ),
                size=13,
            )
        )
    if open_:
        controls.extend(_decision(desk, run))
    else:
        controls.append(
            ft.OutlinedButton(
                _("Review this record"),
                icon=ft.Icons.RATE_REVIEW,
                height=TOUCH,
                on_click=lambda: desk.select(record_id),
            )
        )
    return ft.Container(
        padding=12,
        border_radius=8,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW if open_ else None,
        content=ft.Column(spacing=6, controls=controls),
    )


@ft.component
def _Desk(desk: ReviewDesk) -> ft.Control:
    _ = desk.words

    def run(action: Callable[[], Any]) -> None:
        ft.context.page.run_thread(action)

    def first_load() -> None:
        if not desk.loaded and not desk.loading:
            _reload(desk)

    ft.use_effect(first_load, [])
    rows = [_row(desk, row, run) for row in desk.rows]
    empty = _("No records match.") if desk.loaded else _("Loading…")
    # on a phone the filters fold behind one button (open while one is set or wrong)
    narrow = (ft.context.page.width or 0) < WIDE
    filtered = any((desk.region, desk.device, desk.form_id, desk.status, desk.since, desk.until))
    shown = not narrow or desk.filters_open or filtered or bool(desk.errors)
    return page(
        [
            title(_("Review")),
            ft.TextButton(
                _("Filter by region, device, form, state and day"),
                icon=ft.Icons.EXPAND_LESS if shown else ft.Icons.FILTER_LIST,
                height=TOUCH,
                visible=narrow,
                on_click=lambda: desk.show_filters(not shown),
            ),
            *([_filters(desk)] if shown else []),
            ft.TextButton(
                _("Refresh"),
                icon=ft.Icons.REFRESH,
                height=TOUCH,
                disabled=desk.loading,
                on_click=lambda: run(desk.load),
            ),
            *([banner(desk.problem, error=True)] if desk.problem else []),
            *([banner(desk.done, icon=ft.Icons.CHECK)] if desk.done else []),
            *(rows or [ft.Text(empty)]),
            ft.FilledButton(
                _("Load more"),
                icon=ft.Icons.EXPAND_MORE,
                height=TOUCH,
                visible=desk.next_cursor is not None,
                disabled=desk.loading,
                on_click=lambda: run(desk.more),
            ),
        ]
    )


@ft.component
def ReviewSection() -> ft.Control:
    """The review section (its list survives switching sections, not a lock)."""
    office = use_office()
    return keyed(_Desk, office.review, key="review-desk")
