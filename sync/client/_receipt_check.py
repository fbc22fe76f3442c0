"""The receipt check: now and then the device asks the server whether it still holds what it
receipted; anything it no longer holds goes back to the outbox (or is reported lost).

A receipt is a promise; this is how a device finds out the server broke it (a crash that
lost a write, a restore from an older backup) while it can still make up for it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from fieldapp.store import Store
from sync.client._exchange import Exchange, answer
from sync.client._report import SyncReport
from sync.client._state import STATE_RECEIPTS_CHECKED
from sync.protocol import MAX_RECEIPT_CHECK, ReceiptCheck, ReceiptCheckResponse, RevisionRef

__all__ = ["RECEIPT_CHECK_INTERVAL", "RECEIPT_RECHECK_MARGIN", "check_receipts"]

log = logging.getLogger(__name__)

# How often a device asks the server to confirm the receipts it holds, and how far back:
# receipts the server took since this long before the previous check, so a server restored
# from a backup up to a month old is caught even by a device that was away meanwhile.
RECEIPT_CHECK_INTERVAL = timedelta(days=1)
RECEIPT_RECHECK_MARGIN = timedelta(days=30)


def check_receipts(
    store: Store, exchange: Exchange, token: str, report: SyncReport, interval: timedelta
) -> None:
    """Once every `interval` (by the server's time), ask the server whether it still holds
    the revisions it receipted since RECEIPT_RECHECK_MARGIN before the last check (all of
    them the first time); any it left out goes back to the outbox, to leave in this same
    sync, or is counted lost (and named in `report.errors`) if its copy here was purged.
    A server older than the check (404) is let be. Raises ServerRefused or
    ServerUnreachable when the check cannot be made."""
    now = store.settings.server_time()
    checked = store.settings.get(STATE_RECEIPTS_CHECKED)
    last = None if checked is None else datetime.fromisoformat(checked)
    if last is not None and now - last < interval:
        return
    since = None if last is None else last - RECEIPT_RECHECK_MARGIN
    after = ""
    while page := store.outbox.receipts_to_check(since=since, after=after, limit=MAX_RECEIPT_CHECK):
        asked = ReceiptCheck(
            revisions=[RevisionRef(id=uuid.UUID(i), revision=rev) for i, rev in page]
        )
        response = exchange.send_json("POST", "/v1/receipts:check", asked, token=token)
        if response.status_code == 404:
            log.info("the server cannot confirm receipts (it predates the check)")
            break
        held_now = answer(response, ReceiptCheckResponse, "answer to a receipt check")
        held = {(str(ref.id), ref.revision) for ref in held_now.held}
        missing = {i: rev for i, rev in page if (i, rev) not in held}
        if missing:
            requeued, lost = store.outbox.requeue_missing(missing)
            report.requeued += len(requeued)
            report.lost += len(lost)
            report.errors += [
                f"record {record_id}: the server no longer holds it, though it confirmed"
                " it, and this device removed its copy after that receipt, so it cannot be"
                " sent again: tell the office (the receipt kept here proves it was sent)"
                for record_id in lost
            ]
        after = page[-1][0]
    store.settings.set(STATE_RECEIPTS_CHECKED, now.isoformat())
