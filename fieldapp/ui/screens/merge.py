"""Merging a record in conflict: the differences between this device's version and the other
one, as far as this device may see them; a choice for each, then one button sends."""

from __future__ import annotations

from functools import partial

import flet as ft

from fieldapp.ui.state import AppState, MergeSession
from fieldapp.ui.widgets.common import TOUCH, page, title, typed

__all__ = ["Merge"]


def _office_note(text: str) -> ft.Control:
    return ft.Container(
        padding=12,
        border_radius=8,
        bgcolor=ft.Colors.PRIMARY_CONTAINER,
        content=ft.Row(
            controls=[
                ft.Icon(ft.Icons.LOCK, color=ft.Colors.ON_PRIMARY_CONTAINER),
                ft.Text(text, expand=True, color=ft.Colors.ON_PRIMARY_CONTAINER),
            ]
        ),
    )


@ft.component
def Merge(state: AppState, merge: MergeSession) -> ft.Control:
    _ = state.words
    rows = merge.rows()
    additions = merge.additions()
    body: list[ft.Control] = [
        title(_("Merge the two versions")),
        ft.Text(
            _(
                "For each difference, choose the answer to keep. Yours is kept unless you pick"
                " the other version's."
            )
        ),
    ]
    if merge.office_only_details:
        note = _(
            "Only the office can see the other version's personal details (names, places,"
            " notes). They may differ from yours: the office keeps both versions and will"
            " check them."
        )
        body.append(_office_note(note))
    if not rows and not additions:
        body.append(ft.Text(_("The answers you can see here are the same in both versions.")))
    for row in rows:
        body.append(
            ft.Card(
                content=ft.Container(
                    padding=12,
                    content=ft.Column(
                        spacing=4,
                        controls=[
                            ft.Text(row.label, weight=ft.FontWeight.W_600),
                            ft.RadioGroup(
                                value=merge.choices[row.key],
                                on_change=typed(partial(merge.choose, row.key)),
                                content=ft.Column(
                                    spacing=0,
                                    controls=[
                                        ft.Radio(
                                            value="mine",
                                            label=_("Mine: {value}", value=row.mine),
                                        ),
                                        ft.Radio(
                                            value="theirs",
                                            label=_("Other version: {value}", value=row.theirs),
                                        ),
                                    ],
                                ),
                            ),
                        ],
                    ),
                )
            )
        )
    if additions:
        body.append(ft.Text(_("Only in the other version"), size=17, weight=ft.FontWeight.W_600))
    for addition in additions:
        body.append(
            ft.Column(
                spacing=0,
                controls=[
                    ft.Checkbox(
                        label=addition.label,
                        value=merge.choices[addition.key] == "theirs",
                        on_change=lambda _e=None, key=addition.key: merge.toggle(key),
                    ),
                    ft.Text(addition.summary, size=13, color=ft.Colors.ON_SURFACE_VARIANT),
                ],
            )
        )
    buttons = ft.Container(
        padding=ft.Padding.symmetric(horizontal=12, vertical=8),
        content=ft.Row(
            alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
            controls=[
                ft.OutlinedButton(_("Cancel"), height=TOUCH, on_click=state.close_merge),
                ft.FilledButton(
                    _("Send merged version"),
                    icon=ft.Icons.SEND,
                    height=TOUCH,
                    on_click=state.send_merge,
                ),
            ],
        ),
    )
    return ft.Column(expand=True, spacing=0, controls=[page(body), buttons])
