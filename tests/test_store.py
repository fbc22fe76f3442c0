"""The store as a whole, on a real SQLite file: one connection shared by threads, no sensitive
value anywhere on disk."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from fieldapp import crypto
from fieldapp.store import Store
from tests.conftest import CANARY, attendance_values, screening_values


def test_canary_never_on_disk(store: Store, store_path: Path, org_key: crypto.OrgKeyPair) -> None:
    store.outbox.set_recipients([org_key.recipient])
    draft = store.records.new_draft("victim_screening", {"given_name": CANARY})
    store.records.save_draft(draft.id, screening_values())
    store.records.finalise(draft.id)
    store.records.create_final("victim_screening", screening_values())
    store.records.create_final("training_attendance", attendance_values(participants=3))
    hits = canary_hits(store_path.parent)
    store.close()
    hits += canary_hits(store_path.parent)
    assert hits == []


def canary_hits(folder: Path) -> list[str]:
    needles = [CANARY.encode(), CANARY.encode("utf-16-le"), CANARY.lower().encode()]
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]


def test_a_write_from_another_thread_survives_a_rolled_back_transaction(store: Store) -> None:
    """The sync thread's bookkeeping must not join (and vanish with) the UI thread's
    transaction on the shared connection."""
    inside, release = threading.Event(), threading.Event()

    def failing_batch() -> None:
        with contextlib.suppress(RuntimeError), store.batch():
            inside.set()
            release.wait(5)
            raise RuntimeError("rolled back")

    holder = threading.Thread(target=failing_batch)
    holder.start()
    assert inside.wait(5)
    writer = threading.Thread(
        target=lambda: (
            store.settings.set("cursor", "42"),
            store.roster.put_shared("reference", "regions", {"names": ["north"]}, 1),
        )
    )
    writer.start()
    writer.join(0.3)  # with the lock it waits for the transaction; without, it joins it
    release.set()
    holder.join(5)
    writer.join(5)
    assert store.settings.get("cursor") == "42"
    assert store.roster.shared("reference") == {"regions": {"names": ["north"]}}
