"""A record's answers as a person reads them, a card per step, each with its problems and an
"Edit" that goes back to it."""

from __future__ import annotations

from collections.abc import Sequence

import flet as ft

from fieldapp.ui.state import AnswerLine, FormSession, answer_lines
from fieldapp.ui.widgets.common import TOUCH, error_text

__all__ = ["answer_controls", "review_controls"]


def answer_controls(lines: Sequence[AnswerLine], *, selectable: bool = True) -> list[ft.Control]:
    """Answer lines as the review shows them: a repeat instance's heading, then each label
    small above its answer (selectable unless said otherwise)."""
    out: list[ft.Control] = []
    for line in lines:
        if line.text is None:
            out.append(ft.Text(line.label, weight=ft.FontWeight.W_600))
            continue
        out.append(
            ft.Column(
                spacing=0,
                controls=[
                    ft.Text(line.label, size=13, color=ft.Colors.ON_SURFACE_VARIANT),
                    ft.Text(line.text, size=16, selectable=selectable),
                ],
            )
        )
    return out


def review_controls(form: FormSession, *, editable: bool) -> list[ft.Control]:
    """A card per visible step: its answers, its problems, and "Edit" if `editable`."""
    _ = form.words
    out: list[ft.Control] = []
    for index in form.visible_steps():
        step = form.steps[index]
        lines = answer_controls(answer_lines(form.spec, form.clean, form.lang, nodes=step.nodes))
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
