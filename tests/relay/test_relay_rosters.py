"""Team rosters through relays (issue #11): entries a device shares at a relay (sealed with
the team key, which no server holds) reach the centre as that device's, and the devices of
the region wherever they enrolled (the centre, this relay, another relay); entries shared
elsewhere come down through the relay; only the device that shared an entry may replace or
withdraw it, at the relay and at the centre. Real servers on loopback, each its own process."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path

import httpx

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SECRET_TOKEN, enrol
from sync.protocol import RosterEntry, RosterPush, RosterPushResponse, RosterStatus
from sync.relay import RelayIdentity
from sync.server import admin
from tests._wait import wait_until
from tests.conftest import CANARY, PASSPHRASE, attendance_values
from tests.relay._harness import RelayProcess, device_at, sync_ok
from tests.sync._harness import Deployment, ServerProcess
from tests.sync.test_team_roster import event_values, files_holding


def _put_entry(
    url: str, token: str, key: str, sealed: bytes | None, device_id: str | None = None
) -> RosterStatus:
    """What an altered app (or relay) can send under its own token: one roster entry."""
    body = RosterPush(entries=[RosterEntry(key=uuid.UUID(key), sealed=sealed, device_id=device_id)])
    response = httpx.put(
        f"{url}/v1/team/roster",
        content=body.model_dump_json(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    [outcome] = RosterPushResponse.model_validate_json(response.content).outcomes
    return outcome.status


def _token(store: Store) -> str:
    token = store.keyring.secret(SECRET_TOKEN)
    assert token is not None
    return token


def _found(store: Store, keys: set[str]) -> bool:
    """Synced once more, the device opens every entry of `keys` with its team key."""
    sync_ok(store)
    return keys <= {entry["id"] for entry in store.roster.entries()}


def _participants(store: Store, record_id: str) -> list[str]:
    return [p["_id"] for p in store.records.get(record_id).values["participants"]]


def test_roster_entries_cross_relays_both_ways_and_stay_their_devices(
    tmp_path: Path,
    centre: tuple[Deployment, ServerProcess],
    relay: RelayProcess,
    org_key: crypto.OrgKeyPair,
) -> None:
    deployment, server = centre
    with admin.open_server_storage(deployment.settings) as storage:
        team_key = admin.derive_team_key(storage, deployment.org_id, org_key, "north")
    author = device_at(tmp_path, "author", deployment, relay, role="trainer", team_key=team_key)
    mate = device_at(tmp_path, "mate", deployment, relay, role="collector", team_key=team_key)
    direct = Store.create(tmp_path / "direct.db", PASSPHRASE)
    enrol(direct, server.url, deployment.issue("trainer", "north", team_key=team_key).code)
    other_relay = RelayProcess(
        tmp_path / "relay2", server.url, deployment.issue("relay", region="north").code
    ).start()
    try:
        far = device_at(tmp_path, "far", deployment, other_relay, team_key=team_key)

        # Up: shared at the relay, the centre holds them as the author's, still sealed.
        event = author.records.create_final("training_attendance", event_values())
        sync_ok(author)
        keys = set(_participants(author, event.id))

        def at_centre() -> dict[str, str]:
            rows = deployment.query(
                "SELECT key, owner_device_id FROM shared_items WHERE kind = 'roster'"
            )
            return dict(rows)

        wait_until(lambda: keys <= set(at_centre()), 30, "the entries at the centre")
        assert {at_centre()[key] for key in keys} == {author.device_id}
        # Across: the centre's device, the other relay's, and the relay's own team mate.
        for store in (direct, far, mate):
            wait_until(partial(_found, store, keys), 30, "the entries on the device")

        # Down: shared at the centre, it reaches the author through the relay.
        theirs = direct.records.create_final(
            "training_attendance", attendance_values("Sokha", participants=1)
        )
        sync_ok(direct)
        [their_key] = _participants(direct, theirs.id)
        wait_until(lambda: _found(author, {their_key}), 30, "the centre's entry at the relay")

        # Only the device that shared an entry replaces it: not a team mate at the relay, not
        # a device of the centre, and the relay speaks for no device that enrolled elsewhere.
        mine = sorted(keys)[0]
        forged = b"\x00" * 48
        assert _put_entry(relay.url, _token(mate), mine, forged) == "refused"
        assert _put_entry(relay.url, _token(mate), their_key, None) == "refused"
        assert _put_entry(server.url, _token(direct), mine, None) == "refused"
        relay_token = RelayIdentity.load(relay.data_dir).token  # type: ignore[union-attr]
        assert _put_entry(server.url, relay_token, their_key, forged, direct.device_id) == (
            "refused"
        )

        # The author edits its event: one renamed, one removed; the centre's device sees both.
        kept, removed = author.records.get(event.id).values["participants"]
        renamed = {**kept, "full_name": f"Zoé Ngô-Sok {CANARY}"}
        values = {**author.records.get(event.id).values, "participants": [renamed]}
        author.records.finalise(event.id, values)
        sync_ok(author)

        def settled() -> bool:
            sync_ok(direct)
            names = {entry["id"]: entry for entry in direct.roster.entries()}
            gone = removed["_id"] not in direct.roster.shared("roster")
            return gone and f"Ngô-Sok {CANARY}" in str(names.get(kept["_id"]))

        wait_until(settled, 30, "the edit and the withdrawal at the centre's device")
        assert removed["_id"] not in at_centre()
        for folder in (relay.data_dir, other_relay.data_dir, deployment.settings.data_dir):
            assert files_holding(folder, CANARY) == [], folder
        assert CANARY.encode() not in relay.log_path.read_bytes()
    finally:
        other_relay.stop()
