"""Record ownership end to end (issue 9): a team mate who read the id of a trainer's record
from the team roster, and whose app was altered to send what it likes (signed with its own
key, under its own token), can neither take the record over nor erase it; the author's copy
survives its next sync, and the author goes on editing it. Two real devices (Store and
SyncClient) against the real server app (uvicorn on 127.0.0.1, SQLite)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync import SyncClient, enrol
from sync.client import SECRET_TOKEN
from sync.protocol import PushRequest, PushResponse, RecordEnvelope, RecordOutcome, Role
from sync.server import admin
from tests.conftest import CANARY, PASSPHRASE, attendance_values
from tests.sync._harness import Deployment


@pytest.fixture
def team(
    tmp_path: Path, deployment: Deployment, org_key: crypto.OrgKeyPair, app_url: str
) -> Iterator[dict[str, Store]]:
    """A trainer and a collector of region north, enrolled with the team key."""
    stores = {}
    roles: dict[str, Role] = {"author": "trainer", "mate": "collector"}
    for name, role in roles.items():
        with admin.open_server_storage(deployment.settings) as storage:
            key = admin.derive_team_key(storage, deployment.org_id, org_key, "north")
        code = deployment.issue(role, "north", team_key=key)
        stores[name] = Store.create(tmp_path / name / "fieldapp.db", PASSPHRASE)
        enrol(stores[name], app_url, code.code)
    yield stores
    for store in stores.values():
        store.close()


def sync(store: Store) -> Any:
    with SyncClient(store) as client:
        report = client.sync()
    assert report.ok, report.errors
    return report


def altered_app_push(store: Store, url: str, template: str, **fields: Any) -> RecordOutcome:
    """What an altered app can send: the envelope of one of the device's own records with
    `fields` changed, signed with the device's own key, pushed with its own token."""
    [text] = store.core.db.execute("SELECT sealed FROM records WHERE id = ?", [template]).fetchone()
    envelope = RecordEnvelope.model_validate_json(text).model_copy(update=fields)
    # The device's own key: an altered app holds it.
    signed = envelope.model_copy(update={"signature": store.keyring.sign(envelope.signing_bytes())})
    response = httpx.post(
        f"{url}/v1/records:push",
        content=PushRequest(records=[signed]).model_dump_json(),
        headers={
            "Authorization": f"Bearer {store.keyring.secret(SECRET_TOKEN)}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    [outcome] = PushResponse.model_validate_json(response.content).outcomes
    return outcome


def test_a_team_mate_who_read_a_record_id_in_the_roster_cannot_take_it_over_or_erase_it(
    team: dict[str, Store], deployment: Deployment, app_url: str
) -> None:
    author, mate = team["author"], team["mate"]
    event = author.records.create_final("training_attendance", attendance_values(participants=2))
    assert sync(author).accepted == 1
    sync(mate)
    [learnt] = {entry["record_id"] for entry in mate.roster.entries()}
    assert learnt == event.id
    own = mate.records.create_final(
        "training_attendance", attendance_values("Mate", participants=1)
    ).id
    sync(mate)  # its sealing epoch's header reaches the server, as with any honest push
    target = uuid.UUID(event.id)

    takeover = altered_app_push(
        mate, app_url, own, id=target, revision=f"1-{uuid.uuid4().hex}", base_revision=None
    )
    erasure = altered_app_push(
        mate, app_url, own, id=target, revision=f"2-{uuid.uuid4().hex}",
        base_revision=takeover.revision, sealed=None, consent_withdrawn=True,
    )  # fmt: skip
    on_head = altered_app_push(
        mate, app_url, own, id=target, revision=f"2-{uuid.uuid4().hex}",
        base_revision=event.revision,
    )  # fmt: skip
    report = sync(author)

    # The author's copy was not erased by its pull, and nothing came back to settle.
    assert (report.erased, report.conflict) == (0, 0)
    copy = author.records.get(event.id)
    assert (copy.status, copy.revision, copy.consent_withdrawn) == ("sent", event.revision, False)
    assert [p["full_name"] for p in copy.values["participants"]] == [f"{CANARY} 0", f"{CANARY} 1"]
    for outcome in (takeover, erasure, on_head):
        assert (outcome.status, [e.code for e in outcome.errors]) == (
            "rejected",
            ["not_record_owner"],
        )
    stored = deployment.query("SELECT revision, sealed FROM records WHERE id = ?", (event.id,))
    assert [(revision, sealed is not None) for revision, sealed in stored] == [
        (event.revision, True)
    ]
    assert deployment.query(
        "SELECT head_revision, in_conflict, consent_withdrawn, owner_device_id FROM record_heads"
        " WHERE id = ?",
        (event.id,),
    ) == [(event.revision, 0, 0, author.device_id)]
    refused = deployment.query(
        "SELECT device_id, record_id FROM audit WHERE outcome = 'refused:not_record_owner'"
    )
    assert refused == [(mate.device_id, event.id)] * 3

    # The author goes on with its record.
    values = {**copy.values, "venue": "Provincial court, room 2"}
    author.records.finalise(event.id, values)
    assert sync(author).accepted == 1
