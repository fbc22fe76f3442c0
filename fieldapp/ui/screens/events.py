"""Training attendance: the events on this device and those the organisation shares, and a
new one."""

from __future__ import annotations

from functools import partial

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.formats import format_day
from fieldapp.ui.services import STATUS_GROUPS, TRAINING_FORM, StatusGroup
from fieldapp.ui.widgets.common import STATUS_LABELS, TOUCH, message_box, page, title

__all__ = ["Events"]


# The status group a record's status is counted in (an event lists its record's).
_GROUP_OF: dict[str, StatusGroup] = {
    status: group for group, statuses in STATUS_GROUPS.items() for status in statuses
}


@ft.component
def Events() -> ft.Control:
    state = use_app()
    _ = state.words
    rows: list[ft.Control] = []
    for row in state.events:
        day = format_day(row.start_date, state.lang)
        if row.shared_key is not None:
            subtitle = f"{day} · " + _("Shared by your organisation")
            icon, action = ft.Icons.CLOUD_DOWNLOAD, partial(state.open_shared_event, row.shared_key)
        else:
            people = _.ngettext(
                "{n} participant", "{n} participants", row.participants, n=row.participants
            )
            status = _(STATUS_LABELS[_GROUP_OF[row.status]])
            subtitle = f"{day} · {people} · {status}"
            icon, action = ft.Icons.EVENT, partial(state.open_record, row.record_id)
        rows.append(
            ft.ListTile(
                leading=ft.Icon(icon),
                title=ft.Text(row.title),
                subtitle=ft.Text(subtitle),
                min_height=TOUCH,
                on_click=lambda _e=None, act=action: act(),
            )
        )
    return page(
        [
            *message_box(state),
            title(_("Events")),
            ft.FilledButton(
                _("New event"),
                icon=ft.Icons.ADD,
                height=TOUCH,
                on_click=lambda: state.new_record(TRAINING_FORM),
            ),
            *(rows or [ft.Text(_("No events yet."))]),
        ]
    )
