"""A record's answers as a person reads them, a card per step, each with its problems and an
"Edit" that goes back to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flet as ft

from fieldapp.forms.spec import GroupSpec, Node, RepeatSpec
from fieldapp.ui.state import FormSession, answer_text
from fieldapp.ui.widgets.common import TOUCH, error_text

__all__ = ["review_controls"]


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
    """A card per visible step: its answers, its problems, and "Edit" if `editable`."""
    _ = form.words
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
                                        _("Edit"),
                                        height=TOUCH,
                                        visible=editable,
                                        on_click=lambda _e=None, i=index: form.edit_step(i),
                                    ),
                                ]
                            ),
                            *[error_text(m) for m in errors.values()],
                            *(lines or [ft.Text("—")]),
                        ],
                    ),
                )
            )
        )
    return out
