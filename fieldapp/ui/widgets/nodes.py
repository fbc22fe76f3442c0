"""One level of a form as controls: its relevant questions, groups under their titles, and
repeats as a list of entries with "Add" and the entry being edited in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flet as ft

from fieldapp.forms.spec import FieldSpec, GroupSpec, Node, RepeatSpec
from fieldapp.ui.state import FormSession
from fieldapp.ui.widgets.common import TOUCH, error_text, keyed, typed
from fieldapp.ui.widgets.fields import choice_label, field_control
from fieldapp.ui.widgets.team_search import TeamSearch

__all__ = ["RepeatSection", "node_controls"]


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
            parts.append(choice_label(form, node, str(instance[node.name])))
        if len(parts) == 3:
            break
    return " · ".join(parts) or f"#{n}"


@ft.component
def RepeatSection(form: FormSession, repeat: RepeatSpec) -> ft.Control:
    """A repeat: its entries as a list, "Add", and the entry being edited in place."""
    _ = form.words
    query, set_query = ft.use_state("")
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
                            _("Save & next"), height=TOUCH, on_click=form.save_and_next
                        ),
                        ft.OutlinedButton(_("Done"), height=TOUCH, on_click=form.close_instance),
                        ft.TextButton(
                            _("Remove"),
                            height=TOUCH,
                            on_click=lambda: form.remove_instance(name, index),
                            visible=repeat.count is None,  # counted: the answer decides
                        ),
                    ],
                ),
            ],
        )
    instances = form.instances(name)
    rows = []
    needle = query.strip().casefold()
    for i, instance in enumerate(instances):
        entry = _instance_title(form, repeat, instance, i + 1)
        if needle and needle not in entry.casefold():
            continue
        problems = any(p.startswith(f"{name}[{i}].") for p in form.errors)
        rows.append(
            ft.ListTile(
                title=ft.Text(entry),
                leading=ft.Icon(ft.Icons.ERROR if problems else ft.Icons.PERSON),
                trailing=ft.TextButton(
                    _("Edit"), on_click=lambda _e=None, n=i: form.edit_instance(name, n)
                ),
                min_height=TOUCH,
                on_click=lambda _e=None, n=i: form.edit_instance(name, n),
            )
        )
    count = len(instances)
    entries = _.ngettext("{n} entry", "{n} entries", count, n=count)
    return ft.Column(
        spacing=8,
        controls=[
            *([keyed(TeamSearch, form, key=f"{name}-team-search")] if repeat.team_roster else []),
            ft.Text(
                f"{label} · {entries}",
                size=17,
                weight=ft.FontWeight.W_600,
            ),
            ft.TextField(
                label=_("Search participants"),
                value=query,
                prefix_icon=ft.Icons.SEARCH,
                on_change=typed(set_query),
                visible=len(instances) > 5,
            ),
            *rows,
            error_text(form.errors.get(name)),
            ft.FilledTonalButton(
                _("Add: {label}", label=label),
                icon=ft.Icons.ADD,
                height=TOUCH,
                on_click=lambda: form.add_instance(name),
                visible=repeat.count is None,
            ),
        ],
    )
