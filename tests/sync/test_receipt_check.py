"""A receipt is a promise the device checks: revisions the server lost behind its back (a
crash, a restore from an older backup) are sent again, or reported lost when they cannot be."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests.conftest import screening_values
from tests.sync._harness import Deployment, ServerProcess, server_records


def forget(deployment: Deployment, record_id: str) -> None:
    """What a restore from a backup taken before the record arrived does: no trace of it."""
    conn = sqlite3.connect(deployment.db_path)
    try:
        with conn:
            conn.execute("DELETE FROM records WHERE id = ?", (record_id,))
            conn.execute("DELETE FROM record_heads WHERE id = ?", (record_id,))
    finally:
        conn.close()


def test_a_revision_the_server_lost_is_sent_again_and_a_purged_one_reported(
    store: Store, deployment: Deployment, server: ServerProcess
) -> None:
    enrol(store, server.url, deployment.code())
    kept, resent, purged = (
        store.records.create_final("victim_screening", screening_values(name)).id
        for name in ("Alpha", "Bravo", "Charlie")
    )
    with SyncClient(store, receipt_check_interval=timedelta(0)) as client:
        first = client.sync()
        assert first.ok and first.accepted == 3, first.errors
        store.core.db.execute(  # only this one: purge_sent would take all three
            "UPDATE records SET fields = NULL, sealed = NULL, purged_at = received_at WHERE id = ?",
            [purged],
        )
        server.stop()
        forget(deployment, resent)
        forget(deployment, purged)
        server.start()

        second = client.sync()
        assert (second.requeued, second.lost, second.accepted) == (1, 1, 1)
        assert [error for error in second.errors if purged in error], second.errors
        assert {record_id for record_id, _, _ in server_records(deployment)} == {kept, resent}
        assert store.records.get(resent).status == "sent"
        [problem] = store.records.get(purged).problems
        assert problem["code"] == "lost_on_server"

        third = client.sync()  # found lost once: not reported at every sync
        assert third.ok and (third.requeued, third.lost) == (0, 0), third.errors
