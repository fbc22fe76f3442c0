"""For the UI tests: a record as the server left it (sent and receipted), the app unlocked on
a new device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldapp.store import Outcome, Record, Store
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from tests.conftest import PASSPHRASE, Clock


def sent_record(store: Store, form_id: str, values: dict[str, Any]) -> Record:
    """A finalised record the server took (queued, pushed and receipted, as a sync leaves it)."""
    record = store.records.create_final(form_id, values)
    store.outbox.mark_queued({record.id: record.revision})
    outcome = Outcome(
        record.id, record.revision, "sent", receipt="receipt", server_revision=record.revision
    )
    assert store.outbox.record_outcomes([outcome]) == 1
    return store.records.get(record.id)


def unlocked_app(data_dir: Path, clock: Clock) -> AppState:
    """The app on a device set up offline, unlocked, on its home screen."""
    services = Services(data_dir, clock=clock)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    state = AppState(services=services)
    state.go("home")
    return state
