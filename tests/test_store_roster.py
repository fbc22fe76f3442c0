"""The store's team roster: what a finalised record queues for the team, sealed with the team
key; changes and removals; the outbox's bookkeeping; a new team key; entries that do not open.
Real store files, real keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fieldapp import crypto
from fieldapp.store import Store, TeamKey
from tests.conftest import CANARY, PASSPHRASE, attendance_values, screening_values

NORTH = TeamKey(crypto.random_key(), "org-1", "north")


def pending(store: Store) -> dict[str, bytes | None]:
    return {key: sealed for key, _, sealed in store.roster_outbox()}


def opened(team: TeamKey, key: str, sealed: bytes) -> dict[str, Any]:
    aad = crypto.team_aad("roster", team.org_id, team.region, key)
    entry: dict[str, Any] = json.loads(crypto.decrypt(team.key, sealed, aad))
    return entry


def test_nothing_is_queued_without_a_team_key_and_everything_final_once_it_comes(
    store: Store,
) -> None:
    event = store.create_final("training_attendance", attendance_values(participants=2))
    store.new_draft("training_attendance", attendance_values("Draftee", participants=1))
    store.create_final("victim_screening", screening_values())  # no roster in this form
    assert store.roster_outbox() == [] and not store.has_team_key

    assert store.set_team_key(NORTH) == 2
    assert store.has_team_key and store.team_key() == NORTH
    values = store.get(event.id).values
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
    assert store.set_team_key(NORTH) == 0  # the same key again changes nothing


def test_a_change_is_queued_again_a_removal_is_withdrawn_and_the_same_content_is_not(
    store: Store,
) -> None:
    store.set_team_key(NORTH)
    event = store.create_final("training_attendance", attendance_values(participants=3))
    store.roster_pushed({key: digest for key, digest, _ in store.roster_outbox()})
    assert store.roster_outbox() == []
    values = store.get(event.id).values

    store.finalise(event.id, values)  # finalised again, nothing changed
    assert store.roster_outbox() == []

    first, second, third = values["participants"]
    edited = {**values, "participants": [{**first, "full_name": "Renamed"}, second]}
    store.finalise(event.id, edited)
    queued = store.roster_outbox()
    assert {(key, sealed is None) for key, _, sealed in queued} == {
        (first["_id"], False),
        (third["_id"], True),
    }
    # The server answers for what was read; an entry edited meanwhile stays pending.
    store.finalise(event.id, {**edited, "participants": [{**first, "full_name": "Again"}, second]})
    assert store.roster_pushed({key: digest for key, digest, _ in queued}) == 1
    [(key, _, sealed)] = store.roster_outbox()
    assert key == first["_id"] and sealed is not None
    assert opened(NORTH, key, sealed)["fields"]["full_name"] == "Again"


def test_the_outbox_and_the_file_hold_only_ciphertext(store_path: Path, store: Store) -> None:
    store.set_team_key(NORTH)
    store.create_final("training_attendance", attendance_values(CANARY, participants=2))
    store.lock()
    assert len(store.roster_outbox()) == 2  # readable while locked: nothing is decrypted
    store.close()
    for path in store_path.parent.iterdir():
        assert CANARY.encode() not in path.read_bytes(), path


def test_a_new_team_key_starts_the_roster_afresh(store: Store) -> None:
    store.set_team_key(NORTH)
    store.create_final("training_attendance", attendance_values(participants=2))
    store.roster_pushed({key: digest for key, digest, _ in store.roster_outbox()})
    store.put_shared("roster", "someone-elses", {"sealed": "AAAA"}, seq=7)

    south = TeamKey(crypto.random_key(), "org-1", "south")
    assert store.set_team_key(south) == 2
    assert store.shared("roster") == {}
    for key, _, sealed in store.roster_outbox():
        assert sealed is not None and opened(south, key, sealed)["id"] == key

    assert store.set_team_key(None) == 0
    assert store.team_key() is None and not store.has_team_key and store.roster_outbox() == []


def test_the_team_roster_holds_only_entries_that_open_with_this_devices_key(
    store: Store,
) -> None:
    store.set_team_key(NORTH)
    good = {"id": "k-good", "fields": {"full_name": CANARY}}

    def put(key: str, team: TeamKey, entry: Any, seq: int) -> None:
        aad = crypto.team_aad("roster", team.org_id, team.region, key)
        sealed = crypto.encrypt(team.key, crypto.canonical_json(entry), aad)
        store.put_shared("roster", key, {"sealed": base64.b64encode(sealed).decode()}, seq)

    put("k-good", NORTH, good, 1)
    put("k-other-region", NORTH._replace(region="south"), {"id": "k-other-region"}, 2)
    put("k-other-key", TeamKey(crypto.random_key(), "org-1", "north"), {"id": "k-other-key"}, 3)
    put("k-moved", NORTH, {"id": "k-elsewhere"}, 4)  # an entry copied under another key
    store.put_shared("roster", "k-garbage", {"sealed": "not base64"}, 5)
    store.put_shared("roster", "k-empty", {}, 6)

    assert store.team_roster() == [good]


def test_wiping_the_device_erases_the_roster(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE)
    store.set_team_key(NORTH)
    store.create_final("training_attendance", attendance_values(participants=1))
    store.put_shared("roster", "k", {"sealed": "AAAA"}, seq=1)
    store.wipe()
    assert store.roster_outbox() == [] and store.shared("roster") == {}
    store.close()
