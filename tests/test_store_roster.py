"""The store's team roster: what a finalised record queues for the team, sealed with the team
key; changes and removals; the outbox's bookkeeping, which holds a record's entries until the
server holds the record; a new team key; entries that do not open. Real store files, real
keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fieldapp import crypto
from fieldapp.store import Record, Store, TeamKey
from tests.conftest import CANARY, PASSPHRASE, attendance_values, screening_values

NORTH = TeamKey(crypto.random_key(), "org-1", "north")


def pending(store: Store) -> dict[str, bytes | None]:
    return {key: sealed for key, _, sealed in store.roster.pending()}


def waiting(store: Store) -> int:
    """Entries in the roster outbox, ready to go or held for their record."""
    [(count,)] = store.core.db.execute(
        "SELECT count(*) FROM roster_entries WHERE pending = 1"
    ).fetchall()
    return int(count)


def accepted(store: Store, record: Record) -> None:
    """The server took the record's revision (its receipt came back)."""
    assert store.outbox.record_outcome(record.id, record.revision, "sent", receipt="{}")


def opened(team: TeamKey, key: str, sealed: bytes) -> dict[str, Any]:
    aad = crypto.team_aad("roster", team.org_id, team.region, key)
    entry: dict[str, Any] = json.loads(crypto.decrypt(team.key, sealed, aad))
    return entry


def test_nothing_is_queued_without_a_team_key_and_everything_final_once_it_comes(
    store: Store,
) -> None:
    event = store.records.create_final("training_attendance", attendance_values(participants=2))
    accepted(store, event)
    store.records.new_draft("training_attendance", attendance_values("Draftee", participants=1))
    store.records.create_final("victim_screening", screening_values())  # no roster in this form
    assert waiting(store) == 0 and not store.roster.has_team_key

    assert store.roster.set_team_key(NORTH) == 2
    assert store.roster.has_team_key and store.roster.team_key() == NORTH
    values = store.records.get(event.id).values
    queued = pending(store)
    assert set(queued) == {p["_id"] for p in values["participants"]}
    first = values["participants"][0]
    sealed = queued[first["_id"]]
    assert sealed is not None
    assert opened(NORTH, first["_id"], sealed) == {
        "id": first["_id"],
        "record_id": event.id,
        "form_id": "training_attendance",
        "repeat": "participants",
        "fields": {k: v for k, v in first.items() if k != "_id"},
        "event": {"title": values["title"], "start_date": "2026-11-02"},
    }
    assert store.roster.set_team_key(NORTH) == 0  # the same key again changes nothing


def test_a_change_is_queued_again_a_removal_is_withdrawn_and_the_same_content_is_not(
    store: Store,
) -> None:
    store.roster.set_team_key(NORTH)
    event = store.records.create_final("training_attendance", attendance_values(participants=3))
    accepted(store, event)
    store.roster.pushed({key: digest for key, digest, _ in store.roster.pending()})
    assert waiting(store) == 0
    values = store.records.get(event.id).values

    accepted(store, store.records.finalise(event.id, values))  # again, nothing changed
    assert waiting(store) == 0

    first, second, third = values["participants"]
    edited = {**values, "participants": [{**first, "full_name": "Renamed"}, second]}
    accepted(store, store.records.finalise(event.id, edited))
    queued = store.roster.pending()
    assert {(key, sealed is None) for key, _, sealed in queued} == {
        (first["_id"], False),
        (third["_id"], True),
    }
    # The server answers for what was read; an entry edited meanwhile stays pending.
    again = {**edited, "participants": [{**first, "full_name": "Again"}, second]}
    accepted(store, store.records.finalise(event.id, again))
    assert store.roster.pushed({key: digest for key, digest, _ in queued}) == 1
    [(key, _, sealed)] = store.roster.pending()
    assert key == first["_id"] and sealed is not None
    assert opened(NORTH, key, sealed)["fields"]["full_name"] == "Again"


def test_the_outbox_and_the_file_hold_only_ciphertext(store_path: Path, store: Store) -> None:
    store.roster.set_team_key(NORTH)
    event = store.records.create_final("training_attendance", attendance_values(CANARY, 2))
    accepted(store, event)
    store.keyring.lock()
    assert len(store.roster.pending()) == 2  # readable while locked: nothing is decrypted
    store.close()
    for path in store_path.parent.iterdir():
        assert CANARY.encode() not in path.read_bytes(), path


def test_a_new_team_key_starts_the_roster_afresh(store: Store) -> None:
    store.roster.set_team_key(NORTH)
    event = store.records.create_final("training_attendance", attendance_values(participants=2))
    accepted(store, event)
    store.roster.pushed({key: digest for key, digest, _ in store.roster.pending()})
    store.roster.put_shared("roster", "someone-elses", {"sealed": "AAAA"}, seq=7)

    south = TeamKey(crypto.random_key(), "org-1", "south")
    assert store.roster.set_team_key(south) == 2
    assert store.roster.shared("roster") == {}
    assert len(store.roster.pending()) == 2
    for key, _, sealed in store.roster.pending():
        assert sealed is not None and opened(south, key, sealed)["id"] == key

    assert store.roster.set_team_key(None) == 0
    assert (
        store.roster.team_key() is None
        and not store.roster.has_team_key
        and store.roster.pending() == []
    )


def test_the_team_roster_holds_only_entries_that_open_with_this_devices_key(
    store: Store,
) -> None:
    store.roster.set_team_key(NORTH)
    good = {"id": "k-good", "fields": {"full_name": CANARY}}

    def put(key: str, team: TeamKey, entry: Any, seq: int) -> None:
        aad = crypto.team_aad("roster", team.org_id, team.region, key)
        sealed = crypto.encrypt(team.key, crypto.canonical_json(entry), aad)
        store.roster.put_shared("roster", key, {"sealed": base64.b64encode(sealed).decode()}, seq)

    put("k-good", NORTH, good, 1)
    put("k-other-region", NORTH._replace(region="south"), {"id": "k-other-region"}, 2)
    put("k-other-key", TeamKey(crypto.random_key(), "org-1", "north"), {"id": "k-other-key"}, 3)
    put("k-moved", NORTH, {"id": "k-elsewhere"}, 4)  # an entry copied under another key
    store.roster.put_shared("roster", "k-garbage", {"sealed": "not base64"}, 5)
    store.roster.put_shared("roster", "k-empty", {}, 6)

    assert store.roster.entries() == [good]


def test_wiping_the_device_erases_the_roster(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE)
    store.roster.set_team_key(NORTH)
    store.records.create_final("training_attendance", attendance_values(participants=1))
    store.roster.put_shared("roster", "k", {"sealed": "AAAA"}, seq=1)
    store.wipe()
    assert store.roster.pending() == [] and store.roster.shared("roster") == {}
    store.close()


def test_a_records_entries_wait_until_the_server_holds_the_record(store: Store) -> None:
    """A team mate can open a roster entry and read its record id: pushed before the server
    holds the record, it would let them claim that id first. Withdrawals never wait."""
    store.roster.set_team_key(NORTH)
    event = store.records.create_final("training_attendance", attendance_values(participants=2))
    assert waiting(store) == 2 and store.roster.pending() == []

    store.outbox.mark_queued({event.id: event.revision})  # pushed, no answer yet
    assert store.roster.pending() == []
    for status in ("rejected", "conflict"):
        store.outbox.record_outcome(event.id, event.revision, status)
        assert store.roster.pending() == [], status

    accepted(store, event)
    values = store.records.get(event.id).values
    assert set(pending(store)) == {p["_id"] for p in values["participants"]}
    store.roster.pushed({key: digest for key, digest, _ in store.roster.pending()})

    kept, removed = values["participants"]
    renamed = {**values, "participants": [{**kept, "full_name": "Renamed"}]}
    edit = store.records.finalise(event.id, renamed)  # the new revision is not on the server
    assert pending(store) == {removed["_id"]: None}  # the removal goes at once
    accepted(store, edit)
    assert set(pending(store)) == {kept["_id"], removed["_id"]}
