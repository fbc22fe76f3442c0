"""The pull: the server's change log, page after page from the device's cursor, each change
handed to the handler of its kind; the cursor moves only once a page is stored."""

from __future__ import annotations

import time

from fieldapp import __version__
from fieldapp.store import Store
from sync.client._changes import apply_change
from sync.client._errors import ServerRefused
from sync.client._exchange import Exchange, answer
from sync.client._report import SyncReport
from sync.client._state import STATE_CURSOR
from sync.protocol import APP_VERSION_HEADER, WAITING_HEADER, LenientChangesPage

__all__ = ["CURSOR_SAVE_SECONDS", "DEFAULT_PULL_PAGE", "pull", "self_report"]

DEFAULT_PULL_PAGE = 1000
# The cursor is written (a durable commit) after the pull's last page, when it stops on an
# error, and in between at most this often: a page applied is stored already, and a device
# killed before its cursor caught up pulls those pages again (applying is idempotent).
CURSOR_SAVE_SECONDS = 2.0


def self_report(store: Store) -> dict[str, str]:
    """What a pull tells the office of this device (optional headers a server before them
    ignores): the records still waiting to be sent after the push, and the app's version."""
    waiting, _size = store.outbox.waiting()
    return {WAITING_HEADER: str(waiting), APP_VERSION_HEADER: __version__}


def pull(store: Store, exchange: Exchange, token: str, report: SyncReport, page_size: int) -> None:
    """Apply every change after the stored cursor, `page_size` at a time (counted in
    `report.pulled`). A page is read change by change: one of a kind this version does not
    know is skipped, and the cursor still moves past it. Pages come uncompressed on a link
    measured fast (`Exchange.answer_encoding`). Raises ServerRefused for a page not
    understood or a change log that went backwards, ServerUnreachable when none comes."""
    stored = applied = int(store.settings.get(STATE_CURSOR) or 0)
    about = self_report(store)
    saved_at = time.monotonic()
    try:
        while True:
            response = exchange.request(
                "GET",
                "/v1/changes",
                token=token,
                params={"cursor": applied, "limit": page_size},
                extra_headers={**about, **exchange.answer_encoding()},
            )
            page = answer(response, LenientChangesPage, "page of changes")
            if page.next_cursor < applied:
                raise ServerRefused("the server's change log went backwards: not applied")
            for change in page.changes:
                apply_change(store, change, report)
            report.pulled += len(page.changes)
            # Only now that the page is stored: a crash above re-pulls it.
            finished = not page.has_more or page.next_cursor == applied
            applied = page.next_cursor
            if finished:
                return
            if time.monotonic() - saved_at >= CURSOR_SAVE_SECONDS:
                store.settings.set(STATE_CURSOR, str(applied))
                stored, saved_at = applied, time.monotonic()
    finally:
        if applied != stored:
            store.settings.set(STATE_CURSOR, str(applied))
