"""The office's "People" section: a training register's attendances counted as people (the
same name with the same organisation or phone is one person), and the participants with only
the same name for a coordinator to confirm ("Same person") or reject ("Not the same
person"), side by side with their statistical answers."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.context import use_office
from fieldapp.ui.screens.office.duplicates import record_card
from fieldapp.ui.state.matching import PeopleView
from fieldapp.ui.widgets.common import TOUCH, error_text, page, title

__all__ = ["People"]


@ft.component
def People() -> ft.Control:
    """Attendances and people of the training register, same-name pairs to confirm."""
    office = use_office()
    _ = office.words
    view, _set = ft.use_state(PeopleView(office.services))  # the first one is kept
    ft.use_effect(view.load, [])
    controls: list[ft.Control] = [title(_("People")), error_text(view.error)]
    report = view.report
    if report is not None:
        controls.append(
            ft.Text(
                _(
                    "Attendances: {attendances}. People: {people}.",
                    attendances=report.attendances,
                    people=report.people,
                ),
                size=16,
            )
        )
        for pair in report.to_confirm:
            sides = [
                record_card(_, _("Participant {n}", n=index), sorted(a.stats.items()))
                for index, a in enumerate(pair.attendances, start=1)
            ]
            controls.append(
                ft.Column(
                    controls=[
                        ft.Text(_("Same name: the same person?")),
                        ft.Row(controls=sides, vertical_alignment=ft.CrossAxisAlignment.START),
                        ft.Row(
                            wrap=True,
                            controls=[
                                ft.FilledButton(
                                    _("Same person"),
                                    height=TOUCH,
                                    on_click=lambda _e=None, p=pair.pair: view.decide(p, True),
                                ),
                                ft.OutlinedButton(
                                    _("Not the same person"),
                                    height=TOUCH,
                                    on_click=lambda _e=None, p=pair.pair: view.decide(p, False),
                                ),
                            ],
                        ),
                    ]
                )
            )
    return page(controls)
