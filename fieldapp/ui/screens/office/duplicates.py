"""The office's "Possible duplicates" section, for case managers and admins: pairs of victim
records whose devices sent a common keyed digest of the person's identifiers (nothing was
decrypted to find them), side by side with their statistical fields, and the case manager's
decision: "Merge" (the record received first stays; the other is marked its duplicate, kept,
and reports count the person once) or "Not the same person"."""

from __future__ import annotations

from typing import Any

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.context import use_office
from fieldapp.ui.services import DuplicatePair
from fieldapp.ui.state.matching import DuplicatesView
from fieldapp.ui.state.steps import display_value
from fieldapp.ui.widgets.common import TOUCH, banner, error_text, page, title

__all__ = ["Duplicates", "record_card"]


def record_card(_: Words, heading: str, lines: list[tuple[str, Any]]) -> ft.Control:
    """One side of a pair: a heading and its fields, one per line."""
    return ft.Container(
        expand=True,
        padding=12,
        border_radius=8,
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        content=ft.Column(
            spacing=4,
            controls=[
                ft.Text(heading, weight=ft.FontWeight.BOLD),
                *(ft.Text(f"{name}: {display_value(value)}", size=13) for name, value in lines),
            ],
        ),
    )


def _pair_card(_: Words, pair: DuplicatePair, view: DuplicatesView) -> ft.Control:
    sides = []
    for index, record in enumerate(pair.records, start=1):
        lines: list[tuple[str, Any]] = [
            (_("Region"), record.region or "-"),
            (_("Received"), record.received_at.strftime("%Y-%m-%d")),
            *sorted(record.stats.items()),
        ]
        sides.append(record_card(_, _("Record {n}", n=index), lines))
    shared = ", ".join(pair.shared)
    return ft.Container(
        padding=12,
        border_radius=8,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        content=ft.Column(
            spacing=8,
            controls=[
                ft.Text(_("Matched on: {keys}", keys=shared), size=13),
                ft.Row(controls=sides, vertical_alignment=ft.CrossAxisAlignment.START, wrap=False),
                ft.Row(
                    wrap=True,
                    controls=[
                        ft.FilledButton(
                            _("Merge"),
                            icon=ft.Icons.MERGE,
                            height=TOUCH,
                            on_click=lambda _e=None: view.decide(pair.pair, True),
                        ),
                        ft.OutlinedButton(
                            _("Not the same person"),
                            icon=ft.Icons.CALL_SPLIT,
                            height=TOUCH,
                            on_click=lambda _e=None: view.decide(pair.pair, False),
                        ),
                    ],
                ),
            ],
        ),
    )


@ft.component
def Duplicates() -> ft.Control:
    """Possible duplicate victim records, each pair to merge or dismiss."""
    office = use_office()
    _ = office.words
    view, _set = ft.use_state(DuplicatesView(office.services))  # the first one is kept
    ft.use_effect(view.load, [])
    controls: list[ft.Control] = [
        title(_("Possible duplicates")),
        ft.Text(
            _(
                "Records that may be the same person, found by keyed fingerprints of names "
                "and dates of birth: nothing was decrypted."
            )
        ),
        error_text(view.error),
    ]
    if view.loaded and not view.pairs:
        controls.append(banner(_("No possible duplicates to check.")))
    controls += [_pair_card(_, pair, view) for pair in view.pairs]
    controls.append(
        ft.TextButton(_("Refresh"), icon=ft.Icons.REFRESH, height=TOUCH, on_click=view.load)
    )
    return page(controls)
