"""The device's sync status in words, as home and the sync screen show it: online or offline as
last checked and when, what waits to be sent, what is in flight, the last successful sync and
the last problem. Every line is drawn from one `SyncStatus` snapshot, never from a memory of
an earlier one."""

from __future__ import annotations

from datetime import datetime

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.formats import format_size
from fieldapp.ui.services import SyncStatus
from fieldapp.ui.widgets.common import when

__all__ = [
    "last_sync_line",
    "link_line",
    "problem_line",
    "progress_line",
    "waiting_line",
]


def _when(moment: datetime | None, lang: str) -> str:
    return when(moment.isoformat(), lang) if moment is not None else ""


def link_line(_: Words, status: SyncStatus) -> tuple[str, ft.IconData]:
    """Online or offline as the last check found it, and when; with its icon."""
    lang = (
        _.lang
    )  # read outside the message calls: Babel's extractor takes `_` in them as a message
    if status.online is None or status.probed_at is None:
        return _("Not checked yet"), ft.Icons.CLOUD_QUEUE
    checked = _("checked {when}", when=_when(status.probed_at, lang))
    if status.online:
        online = _("Online")
        return f"{online} · {checked}", ft.Icons.CLOUD_DONE
    offline = _("Offline")
    return f"{offline} · {checked}", ft.Icons.CLOUD_OFF


def waiting_line(_: Words, status: SyncStatus) -> str:
    """What waits to be sent, counted, with its size; or that nothing does."""
    lang = _.lang
    if not status.waiting:
        return _("Nothing waits to be sent.")
    return _.ngettext(
        "{count} record waits to be sent · {size}",
        "{count} records wait to be sent · {size}",
        status.waiting,
        count=status.waiting,
        size=format_size(status.waiting_bytes, lang),
    )


def last_sync_line(_: Words, status: SyncStatus) -> str:
    lang = _.lang
    if status.last_success_at is None:
        return _("Never synced")
    return _("Last sync: {when}", when=_when(status.last_success_at, lang))


def progress_line(_: Words, status: SyncStatus) -> str | None:
    """The sync in flight: records done of the total and the bytes sent (None if none)."""
    lang = _.lang
    if not status.running:
        return None
    return _.ngettext(
        "{done} of {total} record · {size}",
        "{done} of {total} records · {size}",
        status.total,
        done=status.done,
        total=status.total,
        size=format_size(status.sent_bytes, lang),
    )


def problem_line(_: Words, status: SyncStatus) -> str | None:
    """The last problem, when, in words (None once a sync went well)."""
    lang = _.lang
    if not status.last_error:
        return None
    return _(
        "Last problem ({when}): {detail}",
        when=_when(status.last_error_at or status.last_attempt_at, lang),
        detail=status.last_error,
    )
