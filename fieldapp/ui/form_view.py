"""The generic FormSpec renderer: one control per field type, groups as wizard steps, repeats
as a list with "Add". Any form (built-in or imported from XLSForm) is drawn by this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import flet as ft

from fieldapp.forms.spec import FieldSpec, GroupSpec, Node, RepeatSpec
from fieldapp.ui.state import AppState, FormSession, answer_text, display_value
from fieldapp.ui.strings import t

__all__ = ["TOUCH", "FormScreen", "keyed", "typed"]

TOUCH = 52  # px: every tap target is at least 48 px high
_RADIO_LIMIT = 12  # more choices than this get a search box instead of radio buttons
_MATCHES = 6


def keyed(component: Any, *args: Any, key: str) -> ft.Control:
    """A component instance with a `key` (the decorator accepts it; its type hints do not)."""
    control: ft.Control = component(*args, key=key)
    return control


def typed(apply: Callable[[str], Any]) -> Callable[[Any], None]:
    """An on_change handler fed with the text the event carried.

    Not `e.control.value`: the keystrokes of a fast typist queue up, and by the time one is
    handled the control may already be a newer render holding an older value, so the last
    characters would be lost.
    """
    return lambda e: apply(e.data if isinstance(e.data, str) else "")


def _required(node: FieldSpec) -> bool:
    return node.required is True or isinstance(node.required, str)


def _field_label(form: FormSession, node: FieldSpec) -> str:
    text = form.label(node.label, node.name)
    return f"{text} *" if _required(node) else text


def _path(node: Node, repeat: str | None, index: int | None) -> str:
    return node.name if repeat is None else f"{repeat}[{index}].{node.name}"


def _error_text(message: str | None) -> ft.Control:
    return ft.Text(message or "", color=ft.Colors.ERROR, size=13, visible=bool(message))


def _hint(form: FormSession, node: FieldSpec) -> str | None:
    return form.label(node.hint) or None


def _choice_label(form: FormSession, node: FieldSpec, value: str) -> str:
    return form.spec.choice_label(node.choices or "", value, form.lang)


@ft.component
def ChoiceSearch(
    form: FormSession, node: FieldSpec, repeat: str | None, index: int | None, value: Any
) -> ft.Control:
    """A long choice list (countries): type a few letters, tap the match."""
    query, set_query = ft.use_state("")
    error = form.errors.get(_path(node, repeat, index))
    label = _field_label(form, node)

    def choose(choice: str) -> None:
        set_query("")
        form.set_value(node.name, choice, repeat=repeat, index=index)

    if value:
        return ft.Column(
            spacing=2,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                ft.Row(
                    controls=[
                        ft.Text(_choice_label(form, node, str(value)), size=16, expand=True),
                        ft.TextButton(
                            t("change", form.lang),
                            height=TOUCH,
                            on_click=lambda: form.set_value(
                                node.name, None, repeat=repeat, index=index
                            ),
                        ),
                    ]
                ),
                _error_text(error),
            ],
        )
    needle = query.strip().casefold()
    matches: list[tuple[str, str]] = []
    if needle:
        options = [
            (c.value, form.spec.label(c.label, form.lang))
            for c in form.spec.choices.get(node.choices or "", [])
        ]
        starts = [o for o in options if o[1].casefold().startswith(needle)]
        contains = [o for o in options if needle in o[1].casefold() and o not in starts]
        matches = (starts + contains)[:_MATCHES]
    return ft.Column(
        spacing=2,
        controls=[
            ft.TextField(
                label=label,
                value=query,
                hint_text=t("search_choice", form.lang),
                prefix_icon=ft.Icons.SEARCH,
                error=error,
                on_change=typed(set_query),
            ),
            *[
                ft.TextButton(
                    text,
                    height=TOUCH,
                    on_click=lambda _e=None, v=choice: choose(v),
                )
                for choice, text in matches
            ],
        ],
    )


def field_control(
    form: FormSession,
    node: FieldSpec,
    *,
    repeat: str | None = None,
    index: int | None = None,
    source: Mapping[str, Any] | None = None,
) -> ft.Control | None:
    """The control for one question; None for calculations (computed, never typed)."""
    if node.type == "calculate":
        return None
    label = _field_label(form, node)
    if node.type == "note":
        return ft.Container(
            content=ft.Text(form.label(node.label)),
            padding=12,
            border_radius=8,
            bgcolor=ft.Colors.SECONDARY_CONTAINER,
        )
    values = form.values if source is None else source
    value = values.get(node.name)
    error = form.errors.get(_path(node, repeat, index))

    def put(new: Any) -> None:
        form.set_value(node.name, new, repeat=repeat, index=index)

    if node.type == "select_one":
        choices = form.spec.choices.get(node.choices or "", [])
        if len(choices) > _RADIO_LIMIT or node.appearance == "autocomplete":
            return keyed(
                ChoiceSearch, form, node, repeat, index, value, key=_path(node, repeat, index)
            )
        return ft.Column(
            spacing=0,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                ft.RadioGroup(
                    value=value,
                    on_change=typed(put),
                    content=ft.Column(
                        spacing=0,
                        controls=[
                            ft.Radio(value=c.value, label=form.spec.label(c.label, form.lang))
                            for c in choices
                        ],
                    ),
                ),
                _error_text(error),
            ],
        )
    if node.type == "select_multiple":
        picked = list(value or [])
        return ft.Column(
            spacing=0,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                *[
                    ft.Checkbox(
                        label=form.spec.label(c.label, form.lang),
                        value=c.value in picked,
                        on_change=lambda _e=None, v=c.value: form.toggle_choice(
                            node.name, v, repeat=repeat, index=index
                        ),
                    )
                    for c in form.spec.choices.get(node.choices or "", [])
                ],
                _error_text(error),
            ],
        )
    if node.type == "boolean":
        return ft.Column(
            spacing=0,
            controls=[
                ft.Checkbox(
                    label=label, value=bool(value), on_change=lambda e: put(bool(e.control.value))
                ),
                _error_text(error),
            ],
        )
    keyboard = {
        "integer": ft.KeyboardType.NUMBER,
        "decimal": ft.KeyboardType.NUMBER,
        "date": ft.KeyboardType.DATETIME,
        "datetime": ft.KeyboardType.DATETIME,
    }.get(node.type, ft.KeyboardType.TEXT)
    hint = _hint(form, node)
    if node.type in ("date", "datetime"):
        hint = hint or t("date_hint", form.lang)
    elif node.type == "geopoint":
        hint = hint or t("geopoint_hint", form.lang)
    multiline = node.appearance == "multiline"
    return ft.TextField(
        key=_path(node, repeat, index),
        label=label,
        value=display_value(value),
        hint_text=hint,
        error=error,
        keyboard_type=ft.KeyboardType.MULTILINE if multiline else keyboard,
        multiline=multiline,
        min_lines=3 if multiline else None,
        read_only=node.read_only,
        on_change=typed(put),
    )


def node_controls(
    form: FormSession,
    nodes: tuple[Node, ...] | list[Node],
    *,
    repeat: str | None = None,
    index: int | None = None,
    source: Mapping[str, Any] | None = None,
) -> list[ft.Control]:
    """Controls for the relevant nodes of one level (relevance re-judged as values change)."""
    env = None if repeat is None or index is None else form.clean_instance(repeat, index)
    out: list[ft.Control] = []
    for node in nodes:
        if not form.relevant(node, env):
            continue
        if isinstance(node, GroupSpec):
            out.append(
                ft.Text(form.label(node.label, node.name), size=17, weight=ft.FontWeight.W_600)
            )
            out.extend(
                node_controls(form, node.children, repeat=repeat, index=index, source=source)
            )
        elif isinstance(node, RepeatSpec):
            out.append(keyed(RepeatSection, form, node, key=node.name))
        else:
            control = field_control(form, node, repeat=repeat, index=index, source=source)
            if control is not None:
                out.append(control)
    return out


def _instance_title(
    form: FormSession, repeat: RepeatSpec, instance: Mapping[str, Any], n: int
) -> str:
    parts: list[str] = []
    for node in repeat.children:
        if not isinstance(node, FieldSpec) or node.name not in instance:
            continue
        if node.type == "text":
            parts.append(str(instance[node.name]))
        elif node.type == "select_one":
            parts.append(_choice_label(form, node, str(instance[node.name])))
        if len(parts) == 3:
            break
    return " · ".join(parts) or f"#{n}"


@ft.component
def TeamSearch(form: FormSession) -> ft.Control:
    """Find a returning person among those anyone in the team registered, and add them to
    this event in one tap (their details copied into a new entry)."""
    lang = form.lang
    if not form.team_search_available:
        return ft.Text(
            t("team_search_unavailable", lang), size=13, color=ft.Colors.ON_SURFACE_VARIANT
        )
    # Buttons, not list tiles: a ListTile appearing under the field made Flutter clear it.
    rows: list[ft.Control] = [
        ft.TextButton(
            on_click=lambda _e=None, m=match.id: form.add_from_team(m),
            style=ft.ButtonStyle(padding=ft.Padding.symmetric(horizontal=8, vertical=6)),
            content=ft.Row(
                controls=[
                    ft.Icon(ft.Icons.GROUPS if match.from_team else ft.Icons.PERSON),
                    ft.Column(
                        spacing=0,
                        expand=True,
                        controls=[
                            ft.Text(match.name, weight=ft.FontWeight.W_600),
                            ft.Text(
                                t(
                                    "team_registered_at",
                                    lang,
                                    event=" · ".join(
                                        p for p in (match.event_title, match.event_start) if p
                                    ),
                                ),
                                size=13,
                            ),
                        ],
                    ),
                    ft.Icon(ft.Icons.PERSON_ADD, semantics_label=t("team_add", lang)),
                ]
            ),
        )
        for match in form.team_matches
    ]
    if len(form.team_query.strip()) >= 2 and not rows:
        rows.append(ft.Text(t("team_no_match", lang), size=13))
    return ft.Column(
        spacing=4,
        controls=[
            ft.TextField(
                label=t("team_search", lang),
                value=form.team_query,
                hint_text=t("team_search_hint", lang),
                prefix_icon=ft.Icons.PERSON_SEARCH,
                on_change=typed(form.search_team),
            ),
            *rows,
        ],
    )


@ft.component
def RepeatSection(form: FormSession, repeat: RepeatSpec) -> ft.Control:
    """A repeat: its entries as a list, "Add", and the entry being edited in place."""
    query, set_query = ft.use_state("")
    lang = form.lang
    name = repeat.name
    label = form.label(repeat.label, name)
    if form.editing is not None and form.editing[0] == name:
        index = form.editing[1]
        instance = form.instances(name)[index]
        return ft.Column(
            spacing=12,
            controls=[
                ft.Text(f"{label} #{index + 1}", size=17, weight=ft.FontWeight.W_600),
                *node_controls(form, repeat.children, repeat=name, index=index, source=instance),
                ft.Row(
                    wrap=True,
                    controls=[
                        ft.FilledButton(
                            t("save_and_next", lang), height=TOUCH, on_click=form.save_and_next
                        ),
                        ft.OutlinedButton(
                            t("done", lang), height=TOUCH, on_click=form.close_instance
                        ),
                        ft.TextButton(
                            t("remove", lang),
                            height=TOUCH,
                            on_click=lambda: form.remove_instance(name, index),
                        ),
                    ],
                ),
            ],
        )
    instances = form.instances(name)
    rows = []
    needle = query.strip().casefold()
    for i, instance in enumerate(instances):
        title = _instance_title(form, repeat, instance, i + 1)
        if needle and needle not in title.casefold():
            continue
        problems = any(p.startswith(f"{name}[{i}].") for p in form.errors)
        rows.append(
            ft.ListTile(
                title=ft.Text(title),
                leading=ft.Icon(ft.Icons.ERROR if problems else ft.Icons.PERSON),
                trailing=ft.TextButton(
                    t("edit", lang), on_click=lambda _e=None, n=i: form.edit_instance(name, n)
                ),
                min_height=TOUCH,
                on_click=lambda _e=None, n=i: form.edit_instance(name, n),
            )
        )
    return ft.Column(
        spacing=8,
        controls=[
            *([keyed(TeamSearch, form, key=f"{name}-team-search")] if repeat.team_roster else []),
            ft.Text(
                f"{label} · {t('entries', lang, n=len(instances))}",
                size=17,
                weight=ft.FontWeight.W_600,
            ),
            ft.TextField(
                label=t("search_participants", lang),
                value=query,
                prefix_icon=ft.Icons.SEARCH,
                on_change=typed(set_query),
                visible=len(instances) > 5,
            ),
            *rows,
            _error_text(form.errors.get(name)),
            ft.FilledTonalButton(
                f"{t('add_entry', lang)}: {label}",
                icon=ft.Icons.ADD,
                height=TOUCH,
                on_click=lambda: form.add_instance(name),
            ),
        ],
    )


def _banner(text: str, *, error: bool = False, icon: ft.IconData | None = None) -> ft.Control:
    return ft.Container(
        padding=12,
        border_radius=8,
        bgcolor=ft.Colors.ERROR_CONTAINER if error else ft.Colors.PRIMARY_CONTAINER,
        content=ft.Row(
            controls=[
                ft.Icon(icon or (ft.Icons.WARNING if error else ft.Icons.INFO)),
                ft.Text(
                    text,
                    expand=True,
                    color=ft.Colors.ON_ERROR_CONTAINER if error else ft.Colors.ON_PRIMARY_CONTAINER,
                ),
            ]
        ),
    )


def child_alert(form: FormSession) -> ft.Control:
    lang = form.lang
    return ft.Container(
        padding=14,
        border_radius=8,
        bgcolor=ft.Colors.ERROR_CONTAINER,
        border=ft.Border.all(2, ft.Colors.ERROR),
        content=ft.Column(
            spacing=6,
            controls=[
                ft.Row(
                    controls=[
                        ft.Icon(ft.Icons.CHILD_CARE, color=ft.Colors.ERROR),
                        ft.Text(
                            t("child_alert_title", lang),
                            weight=ft.FontWeight.BOLD,
                            size=17,
                            color=ft.Colors.ON_ERROR_CONTAINER,
                            expand=True,
                        ),
                    ]
                ),
                ft.Text(t("child_alert_body", lang), color=ft.Colors.ON_ERROR_CONTAINER),
            ],
        ),
    )


def _review_lines(
    form: FormSession, nodes: tuple[Node, ...] | list[Node], values: Mapping[str, Any]
) -> list[ft.Control]:
    lines: list[ft.Control] = []
    for node in nodes:
        if isinstance(node, GroupSpec):
            lines.extend(_review_lines(form, node.children, values))
        elif isinstance(node, RepeatSpec):
            for n, instance in enumerate(values.get(node.name) or [], start=1):
                lines.append(
                    ft.Text(f"{form.label(node.label, node.name)} #{n}", weight=ft.FontWeight.W_600)
                )
                lines.extend(_review_lines(form, node.children, instance))
        elif node.holds_value and node.type != "calculate" and node.name in values:
            lines.append(
                ft.Column(
                    spacing=0,
                    controls=[
                        ft.Text(
                            form.label(node.label, node.name),
                            size=13,
                            color=ft.Colors.ON_SURFACE_VARIANT,
                        ),
                        ft.Text(
                            answer_text(form.spec, node, values[node.name], form.lang),
                            size=16,
                            selectable=True,
                        ),
                    ],
                )
            )
    return lines


def review_controls(form: FormSession, *, editable: bool) -> list[ft.Control]:
    out: list[ft.Control] = []
    for index in form.visible_steps():
        step = form.steps[index]
        lines = _review_lines(form, step.nodes, form.clean)
        errors = form.step_errors(index)
        out.append(
            ft.Card(
                content=ft.Container(
                    padding=12,
                    content=ft.Column(
                        spacing=6,
                        controls=[
                            ft.Row(
                                controls=[
                                    ft.Text(
                                        form.label(step.label, step.name),
                                        size=17,
                                        weight=ft.FontWeight.W_600,
                                        expand=True,
                                    ),
                                    ft.TextButton(
                                        t("edit", form.lang),
                                        height=TOUCH,
                                        visible=editable,
                                        on_click=lambda _e=None, i=index: form.go_to(i),
                                    ),
                                ]
                            ),
                            *[_error_text(m) for m in errors.values()],
                            *(lines or [ft.Text(t("none", form.lang))]),
                        ],
                    ),
                )
            )
        )
    return out


def _problem_text(form: FormSession, problem: Mapping[str, Any]) -> str:
    """The server's reason in the user's words where the app knows the code."""
    if problem.get("code") == "unknown_form_version":
        return t("problem_unknown_form_version", form.lang)
    return str(problem.get("message") or problem.get("code") or "")


def _problems(form: FormSession) -> list[ft.Control]:
    if form.consent_withdrawn:
        return [_banner(t("withdrawn_note", form.lang), icon=ft.Icons.PERSON_OFF)]
    if form.mine_is_newest:
        return [_banner(t("conflict_mine_newest", form.lang), icon=ft.Icons.CALL_SPLIT)]
    if form.status == "conflict":
        title = t("conflict_title", form.lang)
        return [
            _banner(
                f"{title}\n{t('conflict_body', form.lang)}", error=True, icon=ft.Icons.CALL_SPLIT
            )
        ]
    if form.superseded_note is not None:  # calm: nothing is lost, nothing to do
        return [_banner(form.superseded_note, icon=ft.Icons.HISTORY)]
    if form.status != "rejected" or not form.problems:
        return []
    lines = [_problem_text(form, p) for p in form.problems]
    return [_banner("\n".join([t("problems_from_server", form.lang), *lines]), error=True)]


def _nav(buttons: list[ft.Control]) -> ft.Control:
    return ft.Container(
        padding=ft.Padding.symmetric(horizontal=12, vertical=8),
        content=ft.Row(alignment=ft.MainAxisAlignment.SPACE_BETWEEN, controls=buttons),
    )


@ft.component
def FormScreen(state: AppState, form: FormSession) -> ft.Control:
    """The wizard for any form: [body, bottom buttons]. Training events get tabs instead."""
    lang = form.lang
    ft.use_dialog(_withdraw_dialog(state, form) if state.confirm_withdraw else None)
    body: list[ft.Control] = []
    visible = form.visible_steps()
    if form.child_alert:
        body.append(child_alert(form))
    body.extend(_problems(form))
    if form.status == "conflict":  # in the body: the buttons below are full already
        body.append(
            ft.FilledTonalButton(
                t("compare_merge", lang),
                icon=ft.Icons.CALL_MERGE,
                height=TOUCH,
                on_click=state.open_merge,
            )
        )
    if form.message_key:
        failed = form.message_key in (
            "fix_errors",
            "consent_first",
            "merge_offline",
            "merge_unavailable",
            "not_enrolled",
            "storage_full",
        )
        body.append(_banner(t(form.message_key, lang), error=failed))
    if form.spec.id == "training_attendance" and not form.reviewing:
        return _training(state, form, body)
    if form.reviewing:
        body.append(ft.Text(t("review", lang), size=20, weight=ft.FontWeight.BOLD))
        body.extend(review_controls(form, editable=form.editable))
        if form.can_withdraw_consent:
            body.append(_withdraw_button(state, form))
        buttons = _finish_buttons(state, form)
        if form.editable:  # a conflict is settled here, a withdrawn record is gone
            buttons.insert(
                0, ft.OutlinedButton(t("previous", lang), height=TOUCH, on_click=form.back)
            )
        return _screen(body, buttons, page=_page_key(form))
    step = form.steps[form.step]
    position = visible.index(form.step) + 1 if form.step in visible else 1
    body.insert(
        0,
        ft.Column(
            spacing=4,
            controls=[
                ft.Text(t("step_of", lang, n=position, total=len(visible)), size=13),
                ft.ProgressBar(
                    value=position / max(1, len(visible)),
                    semantics_label=t("step_of", lang, n=position, total=len(visible)),
                ),
                ft.Text(form.label(step.label, step.name), size=20, weight=ft.FontWeight.BOLD),
            ],
        ),
    )
    body.extend(node_controls(form, step.nodes))
    if form.saved_at:
        body.append(
            ft.Row(
                controls=[
                    ft.Icon(ft.Icons.LOCK, size=16, color=ft.Colors.PRIMARY),
                    ft.Text(t("saved_draft", lang), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
                ]
            )
        )
    if form.can_withdraw_consent:  # a person may withdraw in the middle of the interview
        body.append(_withdraw_button(state, form))
    first = bool(visible) and form.step == visible[0]
    nav: list[ft.Control] = [
        ft.OutlinedButton(t("previous", lang), height=TOUCH, on_click=form.back, disabled=first),
    ]
    if form.editing is None:
        last = bool(visible) and form.step == visible[-1]
        nav.append(
            ft.FilledButton(
                t("review" if last else "next", lang),
                icon=ft.Icons.ARROW_FORWARD,
                height=TOUCH,
                on_click=form.next,
            )
        )
    return _screen(body, nav, page=_page_key(form))


def _screen(body: list[ft.Control], buttons: list[ft.Control], *, page: str) -> ft.Control:
    """The scrolling body over the buttons. `page` names what shows (step, tab, entry): a new
    one gets a new list, so it opens at its top rather than where the last one was scrolled
    (and a tap never lands on a field that has just moved under the finger)."""
    body_list = ft.ListView(key=page, controls=body, spacing=14, padding=16, expand=True)
    return ft.Column(expand=True, spacing=0, controls=[body_list, _nav(buttons)])


def _page_key(form: FormSession) -> str:
    editing = "" if form.editing is None else f"{form.editing[0]}[{form.editing[1]}]"
    return f"{form.step}|{form.tab}|{editing}"


# The training event's own step names get short tab words; another step keeps its label.
_TRAINING_TABS = {"event": "tab_details", "participants": "tab_participants"}
_TAB_ICONS = {
    "event": ft.Icons.EVENT_NOTE,
    "participants": ft.Icons.GROUPS,
    "checkin": ft.Icons.HOW_TO_REG,
    "summary": ft.Icons.INSIGHTS,
}


def _tab(
    icon: ft.IconData, text: str, *, selected: bool, on_click: Callable[[], None]
) -> ft.Control:
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
                    max_lines=1,
                    overflow=ft.TextOverflow.ELLIPSIS,
                    text_align=ft.TextAlign.CENTER,
                ),
            ],
        ),
    )


def _training(state: AppState, form: FormSession, body: list[ft.Control]) -> ft.Control:
    """A training event: details, participants, daily check-in and summary as tabs."""
    lang = form.lang
    title = str(form.values.get("title") or form.title)
    tabs: list[tuple[str, str]] = [
        (
            step.name,
            t(_TRAINING_TABS[step.name], lang)
            if step.name in _TRAINING_TABS
            else form.label(step.label, step.name),
        )
        for step in form.steps
    ] + [("checkin", t("tab_checkin", lang)), ("summary", t("tab_summary", lang))]
    current = form.tab or form.steps[0].name

    def pick(name: str) -> None:
        form.editing = None
        form.tab = name

    body.insert(0, ft.Text(title, size=20, weight=ft.FontWeight.BOLD))
    body.insert(
        1,
        ft.Row(
            spacing=4,
            controls=[
                _tab(
                    _TAB_ICONS.get(name, ft.Icons.LIST),
                    text,
                    selected=name == current,
                    on_click=partial(pick, name),
                )
                for name, text in tabs
            ],
        ),
    )
    if current == "checkin":
        body.append(keyed(CheckIn, form, key="checkin"))
    elif current == "summary":
        body.extend(_summary(form))
    else:
        step = next(s for s in form.steps if s.name == current)
        body.extend(node_controls(form, step.nodes))
    nav: list[ft.Control] = [
        ft.OutlinedButton(t("back", lang), height=TOUCH, on_click=state.close_record),
    ]
    if form.editing is None:
        nav.extend(_finish_buttons(state, form))
    return _screen(body, nav, page=_page_key(form))


def _withdraw_button(state: AppState, form: FormSession) -> ft.Control:
    """The person withdrew their consent: erase the record (after the dialog says what goes)."""
    return ft.OutlinedButton(
        t("withdraw_consent", form.lang),
        icon=ft.Icons.PERSON_REMOVE,
        height=TOUCH,
        style=ft.ButtonStyle(color=ft.Colors.ERROR, icon_color=ft.Colors.ERROR),
        on_click=lambda: state.ask_withdraw(True),
    )


def _withdraw_dialog(state: AppState, form: FormSession) -> ft.AlertDialog:
    """What "Withdraw consent and erase" erases, that it cannot be undone; modal: only one
    of its two buttons closes it."""
    lang = form.lang
    return ft.AlertDialog(
        modal=True,
        icon=ft.Icon(ft.Icons.PERSON_REMOVE, color=ft.Colors.ERROR),
        title=ft.Text(t("withdraw_title", lang)),
        content=ft.Text(t("withdraw_confirm", lang)),
        actions=[
            ft.TextButton(
                t("cancel", lang), height=TOUCH, on_click=lambda: state.ask_withdraw(False)
            ),
            ft.FilledButton(
                t("withdraw_yes", lang),
                height=TOUCH,
                bgcolor=ft.Colors.ERROR,
                color=ft.Colors.ON_ERROR,
                on_click=state.withdraw_consent,
            ),
        ],
    )


def _finish_buttons(state: AppState, form: FormSession) -> list[ft.Control]:
    """Finalise a draft, resend a rejected record, or settle a conflict."""
    lang = form.lang
    if form.consent_withdrawn:
        return []  # nothing left to send or settle from here
    if form.status == "conflict" and form.mine_is_newest:
        return []  # nothing left to do here: the office settles it
    if form.status == "conflict":
        return [
            ft.OutlinedButton(
                t("office_decides", lang), height=TOUCH, on_click=state.leave_for_office
            ),
            ft.FilledButton(t("keep_mine", lang), height=TOUCH, on_click=state.keep_my_version),
        ]
    if form.status not in ("draft", "rejected"):
        return []
    label = "fix_and_resend" if form.status == "rejected" else "finalise"
    return [
        ft.FilledButton(t(label, lang), icon=ft.Icons.CHECK, height=TOUCH, on_click=state.finalise)
    ]


@ft.component
def CheckIn(form: FormSession) -> ft.Control:
    """Tap-to-mark daily attendance: pick the day, tick each person who is here."""
    day, set_day = ft.use_state(1)
    lang = form.lang
    days = form.event_days
    day = min(day, days)
    people = form.instances("participants")
    present = sum(1 for p in people if f"day{day}" in (p.get("attendance") or []))
    return ft.Column(
        spacing=6,
        controls=[
            ft.Row(
                scroll=ft.ScrollMode.AUTO,
                controls=[
                    (ft.FilledButton if d == day else ft.OutlinedButton)(
                        t("day_n", lang, n=d),
                        height=TOUCH,
                        on_click=lambda _e=None, n=d: set_day(n),
                    )
                    for d in range(1, days + 1)
                ],
            ),
            ft.Text(t("present_count", lang, n=present), weight=ft.FontWeight.W_600),
            *[
                ft.Checkbox(
                    label=str(p.get("full_name") or f"#{i + 1}"),
                    value=f"day{day}" in (p.get("attendance") or []),
                    on_change=lambda _e=None, n=i: form.toggle_attendance(n, day),
                )
                for i, p in enumerate(people)
            ],
        ],
    )


def _summary(form: FormSession) -> list[ft.Control]:
    lang = form.lang
    summary = form.summary()
    sex = form.spec.node("sex")
    job = form.spec.node("profession")

    def rows(title: str, node: Any, items: list[Any]) -> ft.Control:
        return ft.Card(
            content=ft.Container(
                padding=12,
                content=ft.Column(
                    controls=[
                        ft.Text(title, weight=ft.FontWeight.W_600),
                        *[
                            ft.Row(
                                controls=[
                                    ft.Text(
                                        _choice_label(form, node, r.value) if r.value else "—",
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
    return [
        ft.Text(
            t("participants_count", lang, n=summary.participants),
            size=17,
            weight=ft.FontWeight.W_600,
        ),
        rows(t("by_sex", lang), sex, summary.by_sex),
        rows(t("by_profession", lang), job, summary.by_profession),
        ft.Text(
            " · ".join(
                f"{t('day_n', lang, n=d)}: {n}"
                for d, n in enumerate(summary.present_by_day, start=1)
            )
        ),
        ft.Text(t("avg_scores", lang, pre=pre, post=post)),
    ]
