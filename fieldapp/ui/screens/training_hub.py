"""A training event being registered: its details, participants, daily check-in and summary as
tabs (the details and participants are the form's own steps, drawn by the generic renderer)."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from fieldapp.forms.spec import FieldSpec, RepeatSpec
from fieldapp.ui.screens.form import page_key
from fieldapp.ui.state import AppState, TrainingSession
from fieldapp.ui.state.training import CHECKIN, SUMMARY, EventSummaryRow
from fieldapp.ui.widgets.common import TOUCH, keyed
from fieldapp.ui.widgets.fields import choice_label
from fieldapp.ui.widgets.nodes import node_controls
from fieldapp.ui.widgets.record import finish_buttons, record_frame, record_notes
from fieldapp.ui.widgets.register import (
    PARTICIPANTS,
    CheckInGrid,
    ParticipantEditor,
    ParticipantList,
    register_bar,
)

__all__ = ["CheckIn", "TrainingHub"]

_TAB_ICONS = {
    "event": ft.Icons.EVENT_NOTE,
    "participants": ft.Icons.GROUPS,
    CHECKIN: ft.Icons.HOW_TO_REG,
    SUMMARY: ft.Icons.INSIGHTS,
}


def _tabs(event: TrainingSession) -> list[tuple[str, str]]:
    """Each tab's name and short word: the event's own steps get one, another step keeps its
    label; then the check-in and the summary."""
    _ = event.words
    words = {"event": _("Details"), "participants": _("Participants")}
    return [
        (step.name, words.get(step.name) or event.label(step.label, step.name))
        for step in event.steps
    ] + [(CHECKIN, _("Check-in")), (SUMMARY, _("Summary"))]


def _tab(icon: ft.IconData, text: str, *, selected: bool, on_click: Any) -> ft.Control:
    """One tab: an icon over a short word, sharing the row's width equally with the others so
    that all of them fit a 360 px phone (no sideways scrolling) at a 64 px tall target."""
    color = ft.Colors.ON_SECONDARY_CONTAINER if selected else ft.Colors.ON_SURFACE_VARIANT
    return ft.TextButton(
        expand=1,
        height=TOUCH + 12,
        on_click=on_click,
        style=ft.ButtonStyle(
            padding=ft.Padding.symmetric(horizontal=2, vertical=4),
            shape=ft.RoundedRectangleBorder(radius=12),
            bgcolor=ft.Colors.SECONDARY_CONTAINER if selected else None,
        ),
        content=ft.Column(
            spacing=2,
            tight=True,
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            controls=[
                ft.Icon(icon, color=color),
                ft.Text(
                    text,
                    size=12,
                    color=color,
                    weight=ft.FontWeight.BOLD if selected else None,
                    text_align=ft.TextAlign.CENTER,
                ),
            ],
        ),
    )


@ft.component
def TrainingHub(state: AppState, event: TrainingSession) -> ft.Control:
    """The event's tabs, fixed at the top; its title and the tab that shows; and a bar fixed at
    the bottom: "Undo" after a removal, then Back with the finish buttons, or, while a
    participant is edited, "Save & next" (always in reach, however long the entry)."""
    _ = event.words
    # the title in full (a programme's name runs to five lines at 360 px), scrolling away
    # with the tab's content; only the tabs stay fixed at the top
    title = ft.Text(
        str(event.values.get("title") or event.title), size=20, weight=ft.FontWeight.BOLD
    )
    body = [title, *record_notes(state, event)]
    current = event.tab or event.steps[0].name
    header = ft.Container(
        padding=ft.Padding.only(left=16, right=16, top=8),
        content=ft.Row(
            spacing=4,
            controls=[
                _tab(
                    _TAB_ICONS.get(name, ft.Icons.LIST),
                    text,
                    selected=name == current,
                    on_click=partial(event.show_tab, name),
                )
                for name, text in _tabs(event)
            ],
        ),
    )
    editing = event.editing is not None and event.editing[0] == PARTICIPANTS
    nav: list[ft.Control]
    if current == CHECKIN:
        body.append(keyed(CheckInGrid, event, key=CHECKIN))
    elif current == SUMMARY:
        body.extend(_summary(event))
    else:
        step = next(s for s in event.steps if s.name == current)
        if any(isinstance(n, RepeatSpec) and n.name == PARTICIPANTS for n in step.nodes):
            if editing:
                assert event.editing is not None
                index = event.editing[1]
                body.append(keyed(ParticipantEditor, event, index, key=f"editor-{index}"))
            else:
                body.append(keyed(ParticipantList, event, key=PARTICIPANTS))
        else:
            controls = node_controls(event, step.nodes)
            ends = [i for i, c in enumerate(controls) if _is_end_date(c)]
            if ends and event.values.get("start_date"):
                controls.insert(ends[0] + 1, _lengths(event))
            body.extend(controls)
    if editing:
        assert event.editing is not None
        index = event.editing[1]
        nav = [
            ft.TextButton(
                _("Remove"),
                icon=ft.Icons.DELETE_OUTLINE,
                height=TOUCH,
                on_click=lambda: event.remove_participant(index),
            ),
            ft.OutlinedButton(_("Done"), height=TOUCH, on_click=event.close_instance),
            ft.FilledButton(_("Save & next"), height=TOUCH, on_click=event.save_and_next),
        ]
    else:
        nav = [ft.OutlinedButton(_("Back"), height=TOUCH, on_click=state.close_record)]
        if event.editing is None:
            nav.extend(finish_buttons(state, event))
    frame = record_frame(body, nav, page=page_key(event, event.tab))
    assert isinstance(frame, ft.Column)
    frame.controls[1:1] = register_bar(event)
    frame.controls.insert(0, header)
    return frame


CheckIn = CheckInGrid  # the check-in tab: the days the event has as a grid, and the scores


def _is_end_date(control: ft.Control) -> bool:
    """The end date's control: its text box, or the box with its calendar (keyed `date-`)."""
    return str(getattr(control, "key", "")).removeprefix("date-") == "end_date"


def _lengths(event: TrainingSession) -> ft.Control:
    """How many days the event lasts, to tap instead of typing its end date."""
    _ = event.words
    return ft.Row(
        wrap=True,
        spacing=6,
        controls=[
            ft.Text(_("Lasts:"), size=13),
            *[
                ft.OutlinedButton(
                    _.ngettext("{n} day", "{n} days", n, n=n),
                    on_click=lambda _e=None, n=n: event.set_length(n),
                )
                for n in range(1, 6)
            ],
        ],
    )


def _summary(event: TrainingSession) -> list[ft.Control]:
    _ = event.words
    summary = event.summary()

    def rows(heading: str, node_name: str, items: list[EventSummaryRow]) -> ft.Control:
        node = event.spec.node(node_name)
        assert isinstance(node, FieldSpec)
        return ft.Card(
            content=ft.Container(
                padding=12,
                content=ft.Column(
                    controls=[
                        ft.Text(heading, weight=ft.FontWeight.W_600),
                        *[
                            ft.Row(
                                controls=[
                                    ft.Text(
                                        choice_label(event, node, r.value) if r.value else "—",
                                        expand=True,
                                    ),
                                    ft.Text(str(r.count), weight=ft.FontWeight.BOLD),
                                ]
                            )
                            for r in items
                        ],
                    ]
                ),
            )
        )

    pre = "—" if summary.average_pre is None else f"{summary.average_pre:g}"
    post = "—" if summary.average_post is None else f"{summary.average_post:g}"
    people = summary.participants
    return [
        ft.Text(
            _.ngettext("{n} participant", "{n} participants", people, n=people),
            size=17,
            weight=ft.FontWeight.W_600,
        ),
        rows(_("By sex"), "sex", summary.by_sex),
        rows(_("By profession"), "profession", summary.by_profession),
        ft.Text(
            " · ".join(
                ": ".join((_("Day {n}", n=d), str(n)))
                for d, n in enumerate(summary.present_by_day, start=1)
            )
        ),
        ft.Text(_("Average score: before {pre}, after {post}", pre=pre, post=post)),
    ]
