"""The training register: participants as compact rows, the participant being edited (who
they are, a returning person picked as their name is typed, organisations to pick, the days
the event has), the check-in grid of those days with the test scores, and the bar that keeps
"Save & next" and "Undo" in reach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flet as ft

from fieldapp.forms.spec import FieldSpec, RepeatSpec
from fieldapp.ui.state import TrainingSession
from fieldapp.ui.widgets.common import TOUCH, banner, error_text, keyed, typed
from fieldapp.ui.widgets.fields import choice_label, field_control
from fieldapp.ui.widgets.team_search import TeamSearch

__all__ = ["CheckInGrid", "ParticipantEditor", "ParticipantList", "register_bar"]

PARTICIPANTS = "participants"
_CELL = 44  # px: a day's column in the grid (the checkbox's own target is 40 px)
_GRID_DAYS = 5  # more days than this: a person's days wrap under their name


def _repeat(event: TrainingSession) -> RepeatSpec:
    node = event.spec.node(PARTICIPANTS)
    assert isinstance(node, RepeatSpec)
    return node


def _field(event: TrainingSession, name: str) -> FieldSpec | None:
    node = event.spec.node(name)
    return node if isinstance(node, FieldSpec) else None


def _profession(event: TrainingSession, person: Mapping[str, Any]) -> str:
    node = _field(event, "profession")
    value = person.get("profession")
    if node is None or not value:
        return ""
    if value == "other" and person.get("profession_other"):
        return str(person["profession_other"])
    return choice_label(event, node, str(value))


def _who(event: TrainingSession, person: Mapping[str, Any]) -> str:
    """Profession · organisation: the second line of a participant's row."""
    parts = (_profession(event, person), str(person.get("organisation") or ""))
    return " · ".join(p for p in parts if p)


def _warning(text: str, action: ft.Control) -> ft.Control:
    """The same person twice: said, with what to do about it under it."""
    return ft.Column(spacing=0, controls=[banner(text, icon=ft.Icons.PEOPLE_ALT), action])


@ft.component
def ParticipantList(event: TrainingSession) -> ft.Control:
    """The team search, "Add participant", and one compact row per participant: name, then
    profession and organisation; a warning icon where the entry has a problem or is the
    same person as another."""
    _ = event.words
    query, set_query = ft.use_state("")
    people = event.instances(PARTICIPANTS)
    needle = query.strip().casefold()
    rows: list[ft.Control] = []
    for i, person in enumerate(people):
        name = str(person.get("full_name") or f"#{i + 1}")
        who = _who(event, person)
        if needle and needle not in f"{name} {who}".casefold():
            continue
        problem = any(p.startswith(f"{PARTICIPANTS}[{i}].") for p in event.errors)
        twice = bool(event.duplicates(i))
        rows.append(
            ft.ListTile(
                dense=True,
                min_height=TOUCH,
                content_padding=ft.Padding.symmetric(horizontal=8),
                leading=ft.Icon(
                    ft.Icons.ERROR
                    if problem
                    else ft.Icons.PEOPLE_ALT
                    if twice
                    else ft.Icons.PERSON,
                    color=ft.Colors.ERROR if problem else None,
                ),
                title=ft.Text(name, weight=ft.FontWeight.W_600),
                subtitle=ft.Text(
                    _("Registered twice?") + (f" · {who}" if who else "") if twice else who,
                    size=13,
                ),
                on_click=lambda _e=None, n=i: event.edit_instance(PARTICIPANTS, n),
            )
        )
    count = len(people)
    refused = next((m for m in event.team_matches if m.id == event.duplicate_match), None)
    return ft.Column(
        spacing=6,
        controls=[
            *([keyed(TeamSearch, event, key="team-search")] if _repeat(event).team_roster else []),
            *(
                [
                    _warning(
                        _("{name} is already registered at this event.", name=refused.name),
                        ft.TextButton(
                            _("Add anyway"),
                            on_click=lambda _e=None, m=refused.id: event.add_from_team(
                                m, anyway=True
                            ),
                        ),
                    )
                ]
                if refused is not None
                else []
            ),
            ft.Row(
                controls=[
                    ft.Text(
                        _.ngettext("{n} participant", "{n} participants", count, n=count),
                        size=17,
                        weight=ft.FontWeight.W_600,
                        expand=True,
                    ),
                    ft.FilledTonalButton(
                        _("Add participant"),
                        icon=ft.Icons.PERSON_ADD,
                        height=TOUCH,
                        on_click=event.add_participant,
                    ),
                ]
            ),
            ft.TextField(
                label=_("Search participants"),
                value=query,
                prefix_icon=ft.Icons.SEARCH,
                on_change=typed(set_query),
                visible=count > 5,
            ),
            *rows,
        ],
    )


@ft.component
def ParticipantEditor(event: TrainingSession, index: int) -> ft.Control:
    """One participant: who they are first (a returning person offered as the name is
    typed), the organisation with those already named to pick, consent and contact, the
    days the event has, the scores."""
    _ = event.words
    name_box: Any = ft.use_ref(None)
    people = event.instances(PARTICIPANTS)

    async def focus_name() -> None:  # a blank entry opens with the keyboard on its name
        if isinstance(name_box.current, ft.TextField) and not name_box.current.value:
            await name_box.current.focus()

    ft.use_effect(focus_name, [])
    if event.editing != (PARTICIPANTS, index) or index >= len(people):
        return ft.Container()  # just removed or closed: redrawn once more before it goes
    person = people[index]
    env = event.clean_instance(PARTICIPANTS, index)
    controls: list[ft.Control] = [
        ft.Text(_("Participant {n}", n=index + 1), size=17, weight=ft.FontWeight.W_600)
    ]
    children = {n.name: n for n in _repeat(event).children if isinstance(n, FieldSpec)}
    # who they are and where they work first: the rest as the form orders it
    order = [n for n in _FIRST if n in children] + [n for n in children if n not in _FIRST]
    for name in order:
        node = children[name]
        if not event.relevant(node, env):
            continue
        if name == "attendance":
            controls.append(_days(event, index, person))
            continue
        if node.type == "select_one" and len(event.spec.choices.get(node.choices or "", [])) <= 12:
            controls.append(_choices(event, node, index, person))
            continue
        control = field_control(event, node, repeat=PARTICIPANTS, index=index, source=person)
        if control is None:
            continue
        if name == "full_name":
            name_box.current = control
        controls.append(control)
        if name == "full_name":
            controls.extend(_returning(event, index))
        elif name == "organisation":
            controls.extend(_organisations(event, index))
    return ft.Column(spacing=12, controls=controls)


_FIRST = ("full_name", "organisation", "sex", "profession", "profession_other")


def _choices(
    event: TrainingSession, node: FieldSpec, index: int, person: Mapping[str, Any]
) -> ft.Control:
    """A short choice list as radio buttons side by side, wrapping: the twelve professions
    take six lines rather than twelve."""
    label = event.label(node.label, node.name) + (" *" if node.required else "")
    error = event.errors.get(f"{PARTICIPANTS}[{index}].{node.name}")
    return ft.Column(
        spacing=0,
        controls=[
            ft.Text(label, weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=person.get(node.name),
                on_change=typed(
                    lambda v: event.set_value(node.name, v, repeat=PARTICIPANTS, index=index)
                ),
                content=ft.Row(
                    wrap=True,
                    spacing=0,
                    run_spacing=0,
                    controls=[
                        ft.Radio(value=c.value, label=event.spec.label(c.label, event.lang))
                        for c in event.spec.choices.get(node.choices or "", [])
                    ],
                ),
            ),
            ft.Text(error or "", color=ft.Colors.ERROR, size=13, visible=bool(error)),
        ],
    )


def _returning(event: TrainingSession, index: int) -> list[ft.Control]:
    """People of earlier events with the name being typed (one tap copies who they are), and
    a warning where this entry is someone already registered at this event."""
    _ = event.words
    out: list[ft.Control] = []
    for match in event.returning(index):
        where = " · ".join(p for p in (match.event_title, match.event_start) if p)
        out.append(
            ft.TextButton(
                on_click=lambda _e=None, m=match.id: event.use_returning(index, m),
                style=ft.ButtonStyle(padding=ft.Padding.symmetric(horizontal=8, vertical=4)),
                content=ft.Row(
                    controls=[
                        ft.Icon(ft.Icons.HISTORY),
                        ft.Column(
                            spacing=0,
                            expand=True,
                            controls=[
                                ft.Text(
                                    _("Returning: {name}", name=match.name),
                                    weight=ft.FontWeight.W_600,
                                ),
                                ft.Text(
                                    " · ".join(
                                        p for p in (_profession(event, match.details), where) if p
                                    ),
                                    size=13,
                                ),
                            ],
                        ),
                    ]
                ),
            )
        )
    people = event.instances(PARTICIPANTS)
    for other in event.duplicates(index):
        who = _who(event, people[other])
        out.append(
            _warning(
                _(
                    "Already registered at this event as participant {n}: {name}",
                    n=other + 1,
                    name=str(people[other].get("full_name") or "") + (f" · {who}" if who else ""),
                ),
                ft.TextButton(
                    _("Remove this entry"),
                    on_click=lambda _e=None: event.remove_participant(index),
                ),
            )
        )
    return out


def _organisations(event: TrainingSession, index: int) -> list[ft.Control]:
    """Organisations already named (here or at earlier events) to pick rather than type."""
    picks = event.organisations(index)
    if not picks:
        return []
    return [
        ft.Row(
            wrap=True,
            spacing=6,
            run_spacing=0,
            controls=[
                ft.OutlinedButton(
                    org,
                    icon=ft.Icons.APARTMENT,
                    on_click=lambda _e=None, o=org: event.set_value(
                        "organisation", o, repeat=PARTICIPANTS, index=index
                    ),
                )
                for org in picks
            ],
        )
    ]


def _days(event: TrainingSession, index: int, person: Mapping[str, Any]) -> ft.Control:
    """The days the event has, to tick: no Day 5 for a three-day event."""
    _ = event.words
    picked = person.get("attendance") or []
    error = event.errors.get(f"{PARTICIPANTS}[{index}].attendance")
    node = _field(event, "attendance")
    label = event.label(node.label, "attendance") if node is not None else ""
    days = ft.Row(
        wrap=True,
        spacing=0,
        controls=[
            ft.Checkbox(
                label=_("Day {n}", n=d),
                value=f"day{d}" in picked,
                on_change=lambda _e=None, d=d: event.toggle_attendance(index, d),
            )
            for d in range(1, event.event_days + 1)
        ],
    )
    controls: list[ft.Control] = [ft.Text(label, weight=ft.FontWeight.W_600), days]
    if not event.dates_known:
        controls.append(ft.Text(_("The event's dates give its days."), size=13))
    controls.append(error_text(error))
    return ft.Column(spacing=2, controls=controls)


@ft.component
def CheckInGrid(event: TrainingSession) -> ft.Control:
    """Who was there each day: a column per day the event has (tick "Everyone" to mark a
    whole day, then untick who was absent), a row per participant; then the test scores."""
    _ = event.words
    days = list(range(1, event.event_days + 1))
    people = event.instances(PARTICIPANTS)
    if not people:
        return ft.Text(_("No participants yet: add them on the Participants tab."))

    def line(name: ft.Control, cells: list[ft.Control]) -> ft.Control:
        if len(days) <= _GRID_DAYS:
            return ft.Row(spacing=0, controls=[ft.Container(name, expand=True), *cells])
        return ft.Column(spacing=0, controls=[name, ft.Row(wrap=True, spacing=0, controls=cells)])

    def cell(control: ft.Control) -> ft.Control:
        return ft.Container(control, width=_CELL, alignment=ft.Alignment.CENTER)

    present = [sum(1 for p in people if f"day{d}" in (p.get("attendance") or [])) for d in days]
    grid: list[ft.Control] = [
        line(
            ft.Text(""),
            [cell(ft.Text(_("Day {n}", n=d), size=12, weight=ft.FontWeight.W_600)) for d in days],
        ),
        line(
            ft.Checkbox(
                label=_("Everyone, every day"),
                value=event.everyone_every_day(),
                on_change=lambda _e=None: event.toggle_all_days(),
            ),
            [
                cell(
                    ft.Checkbox(
                        value=event.everyone_present(d),
                        semantics_label=_("Everyone present on day {n}", n=d),
                        on_change=lambda _e=None, d=d: event.toggle_day(d),
                    )
                )
                for d in days
            ],
        ),
        ft.Divider(height=1),
    ]
    for i, person in enumerate(people):
        name = str(person.get("full_name") or f"#{i + 1}")
        picked = person.get("attendance") or []
        grid.append(
            line(
                ft.Text(name, max_lines=2),
                [
                    cell(
                        ft.Checkbox(
                            value=f"day{d}" in picked,
                            semantics_label=_("{name}, day {n}", name=name, n=d),
                            on_change=lambda _e=None, n=i, d=d: event.toggle_attendance(n, d),
                        )
                    )
                    for d in days
                ],
            )
        )
    grid.append(
        line(
            ft.Text(_("Present"), weight=ft.FontWeight.W_600),
            [cell(ft.Text(str(n), weight=ft.FontWeight.W_600)) for n in present],
        )
    )
    if not event.dates_known:
        grid.insert(0, ft.Text(_("The event's dates give its days."), size=13))
    return ft.Column(spacing=4, controls=[*grid, *_scores(event)])


def _scores(event: TrainingSession) -> list[ft.Control]:
    """Each person's two scores side by side, in the order of the list: Enter goes from one
    to the next, so a pile of marked tests is typed in one go."""
    _ = event.words
    nodes = [n for n in (_field(event, "pre_score"), _field(event, "post_score")) if n]
    if len(nodes) < 2:
        return []
    rows: list[ft.Control] = []
    order = 0
    for i, person in enumerate(event.instances(PARTICIPANTS)):
        boxes: list[ft.Control] = []
        for node in nodes:
            box = field_control(event, node, repeat=PARTICIPANTS, index=i, source=person)
            if isinstance(box, ft.TextField):
                box.expand = True
                box.data = order
                box.on_submit = _next_score
                order += 1
                boxes.append(box)
        rows.append(
            ft.Column(
                spacing=4,
                controls=[
                    ft.Text(
                        str(person.get("full_name") or f"#{i + 1}"), weight=ft.FontWeight.W_600
                    ),
                    ft.Row(controls=boxes),
                ],
            )
        )
    return [
        ft.Text(_("Test scores"), size=17, weight=ft.FontWeight.W_600),
        ft.Column(spacing=8, data=_SCORES, controls=rows),
    ]


_SCORES = "scores"


async def _next_score(e: ft.Event[ft.TextField]) -> None:
    """Enter in a score: the next one (the next person's first after a post-test score)."""
    section: Any = e.control.parent
    while section is not None and getattr(section, "data", None) != _SCORES:
        section = section.parent
    if section is None:
        return
    wanted = e.control.data + 1
    for row in section.controls:
        for box in row.controls[1].controls:
            if isinstance(box, ft.TextField) and box.data == wanted:
                await box.focus()
                return


def register_bar(event: TrainingSession) -> list[ft.Control]:
    """What stays in reach over the buttons: "Removed X · Undo"."""
    _ = event.words
    removed = event.removed
    if removed is None:
        return []
    return [
        ft.Container(
            padding=ft.Padding.only(left=16, right=4),
            bgcolor=ft.Colors.INVERSE_SURFACE,
            content=ft.Row(
                controls=[
                    ft.Text(
                        _("Removed {name}", name=removed.name),
                        color=ft.Colors.ON_INVERSE_SURFACE,
                        expand=True,
                    ),
                    ft.TextButton(
                        _("Undo"),
                        height=TOUCH,
                        style=ft.ButtonStyle(color=ft.Colors.INVERSE_PRIMARY),
                        on_click=event.undo_remove,
                    ),
                    ft.IconButton(
                        ft.Icons.CLOSE,
                        icon_color=ft.Colors.ON_INVERSE_SURFACE,
                        tooltip=_("Dismiss"),
                        on_click=event.dismiss_removed,
                    ),
                ]
            ),
        )
    ]
