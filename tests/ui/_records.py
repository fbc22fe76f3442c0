"""Records as the server left them, for the UI tests: one sent and receipted."""

from __future__ import annotations

from typing import Any

from fieldapp.store import Outcome, Record, Store


def sent_record(store: Store, form_id: str, values: dict[str, Any]) -> Record:
    """A finalised record the server took (queued, pushed and receipted, as a sync leaves it)."""
    record = store.records.create_final(form_id, values)
    store.outbox.mark_queued({record.id: record.revision})
    outcome = Outcome(
        record.id, record.revision, "sent", receipt="receipt", server_revision=record.revision
    )
    assert store.outbox.record_outcomes([outcome]) == 1
    return store.records.get(record.id)
