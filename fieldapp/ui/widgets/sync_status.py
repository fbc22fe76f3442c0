"""The device's sync status in words, as home and the sync screen show it: online or offline as
last checked and when, what waits to be sent, what is in flight, the last successful sync and
the last problem. Every line is drawn from one `SyncStatus` snapshot, never from a memory of
an earlier one."""

from __future__ import annotations

from datetime import datetime

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.services import SyncStatus
from fieldapp.ui.widgets.common import when

__all__ = [
    "last_sync_line",
    "link_line",
    "problem_line",
    "progress_line",
    "size_text",
    "waiting_line",
]


def size_text(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


def _when(moment: datetime | None) -> str:
    return when(moment.isoformat()) if moment is not None else ""


def link_line(_: Words, status: SyncStatus) -> tuple[str, ft.IconData]:
    """Online or offline as the last check found it, and when; with its icon."""
    if status.online is None or status.probed_at is None:
        return _("Not checked yet"), ft.Icons.CLOUD_QUEUE
    checked = _("checked {when}", when=_when(status.probed_at))
    if status.online:
        online = _("Online")
        return f"{online} · {checked}", ft.Icons.CLOUD_DONE
    offline = _("Offline")
    return f"{offline} · {checked}", ft.Icons.CLOUD_OFF


def waiting_line(_: Words, status: SyncStatus) -> str:
    """What waits to be sent, counted, with its size; or that nothing does."""
    if not status.waiting:
        return _("Nothing waits to be sent.")
    return _.ngettext(
        "{count} record waits to be sent · {size}",
        "{count} records wait to be sent · {size}",
        status.waiting,
        count=status.waiting,
        size=size_text(status.waiting_bytes),
    )


def last_sync_line(_: Words, status: SyncStatus) -> str:
    if status.last_success_at is None:
        return _("Never synced")
    return _("Last sync: {when}", when=_when(status.last_success_at))


def progress_line(_: Words, status: SyncStatus) -> str | None:
    """The sync in flight: records done of the total and the bytes sent (None if none)."""
    if not status.running:
        return None
    return _.ngettext(
        "{done} of {total} record · {size}",
        "{done} of {total} records · {size}",
        status.total,
        done=status.done,
        total=status.total,
        size=size_text(status.sent_bytes),
    )


def problem_line(_: Words, status: SyncStatus) -> str | None:
    """The last problem, when, in words (None once a sync went well)."""
    if not status.last_error:
        return None
    return _(
        "Last problem ({when}): {detail}",
        when=_when(status.last_error_at or status.last_attempt_at),
        detail=status.last_error,
    )
