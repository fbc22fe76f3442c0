"""Find a returning person among those anyone in the team registered, and add them to an
event in one tap (their details copied into a new entry)."""

from __future__ import annotations

import flet as ft

from fieldapp.ui.state import FormSession
from fieldapp.ui.widgets.common import typed

__all__ = ["TeamSearch"]


@ft.component
def TeamSearch(form: FormSession) -> ft.Control:
    """The search box over a team roster repeat, and the people it finds."""
    _ = form.words
    if not form.team_search_available:
        return ft.Text(
            _(
                "Team search is unavailable: this device has no team key (ask your coordinator"
                " for an enrolment code that includes it)."
            ),
            size=13,
            color=ft.Colors.ON_SURFACE_VARIANT,
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
                                _(
                                    "Registered at: {event}",
                                    event=" · ".join(
                                        p for p in (match.event_title, match.event_start) if p
                                    ),
                                ),
                                size=13,
                            ),
                        ],
                    ),
                    ft.Icon(ft.Icons.PERSON_ADD, semantics_label=_("Add")),
                ]
            ),
        )
        for match in form.team_matches
    ]
    if len(form.team_query.strip()) >= 2 and not rows:
        rows.append(ft.Text(_("Nobody of that name yet: add them below."), size=13))
    return ft.Column(
        spacing=4,
        controls=[
            ft.TextField(
                label=_("Search the team's participants"),
                value=form.team_query,
                hint_text=_("A name: people registered by anyone in your team"),
                prefix_icon=ft.Icons.PERSON_SEARCH,
                on_change=typed(form.search_team),
            ),
            *rows,
        ],
    )
