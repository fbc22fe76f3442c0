"""A relay says to its devices only what its upstream takes (issue #11): it forwards their
envelopes unchanged, so a device must not seal in epochs or sign batches that an older centre
would refuse. The centre here is today's server app behind a layer that answers as a centre
of before those features (no capability headers, no `sealing_epochs` in enrolment answers,
no relay codes), on loopback; the relay is its own process."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SECRET_TOKEN, enrol
from sync.protocol import BATCH_SIGNATURES_HEADER, SEALING_EPOCHS_HEADER, PushRequest
from sync.server import admin
from sync.server.app import create_app
from sync.server.limits import ASGIApp, Message, Receive, Scope, Send
from sync.server.serve import running_in_thread
from tests._wait import wait_until
from tests.conftest import PASSPHRASE
from tests.relay._harness import FAST, RelayProcess, code_at_relay, sync_ok
from tests.sync._harness import Deployment
from tests.sync._records import make_records

_NEW_HEADERS = {SEALING_EPOCHS_HEADER.lower().encode(), BATCH_SIGNATURES_HEADER.lower().encode()}


class OlderCentre:
    """Answers as a centre from before sealing epochs, batch signatures and relay codes,
    while `older` is set; as today's once it is cleared (the centre upgraded)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.older = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.older:
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/v1/relay/codes":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        enrolment = scope["path"] in ("/v1/enrol", "/v1/relay/enrol")
        body: list[bytes] = []

        async def older(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if k.lower() not in _NEW_HEADERS]
                if enrolment:  # the length changes with the body
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                message = {**message, "headers": headers}
            elif enrolment and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                answer = json.loads(b"".join(body) or b"{}")
                answer.pop("sealing_epochs", None)
                message = {"type": "http.response.body", "body": json.dumps(answer).encode()}
            await send(message)

        await self.app(scope, receive, older)


@pytest.fixture
def older_centre(
    tmp_path: Path, org_key: crypto.OrgKeyPair
) -> Iterator[tuple[Deployment, str, OlderCentre]]:
    deployment = Deployment.create(tmp_path / "centre" / "data", org_key)
    layer = OlderCentre(create_app(deployment.settings))
    with running_in_thread(layer) as url:  # type: ignore[arg-type]
        yield deployment, url, layer


def _says(url: str, store: Store) -> dict[str, str]:
    """The capability headers of the answer to an empty push."""
    response = httpx.post(
        f"{url}/v1/records:push",
        content=PushRequest(records=[]).model_dump_json(),
        headers={
            "Authorization": f"Bearer {store.keyring.secret(SECRET_TOKEN)}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {
        name: response.headers[name]
        for name in (SEALING_EPOCHS_HEADER, BATCH_SIGNATURES_HEADER)
        if name in response.headers
    }


def test_a_relay_says_what_its_upstream_takes_and_no_more(
    tmp_path: Path, older_centre: tuple[Deployment, str, OlderCentre]
) -> None:
    deployment, url, layer = older_centre
    relay = RelayProcess(
        tmp_path / "relay", url, deployment.issue("relay", region="north").code
    ).start()
    try:
        device = Store.create(tmp_path / "phone.db", PASSPHRASE)
        enrol(device, relay.url, code_at_relay(deployment, relay), retry=FAST)
        assert not device.outbox.seals_in_epochs  # the enrolment answer did not offer it
        assert _says(relay.url, device) == {}
        ids = [*make_records(device, 2)]
        sync_ok(device)
        ids += make_records(device, 2)
        sync_ok(device)  # a second batch: still signed one by one

        def at_centre() -> dict[str, tuple[bytes, object]]:
            rows = deployment.query("SELECT id, sealed, signature_proof FROM records")
            return {row[0]: (bytes(row[1]), row[2]) for row in rows}

        wait_until(lambda: len(at_centre()) == 4, 30, "the 4 records at the older centre")
        for sealed, proof in at_centre().values():
            assert crypto.envelope_epoch_id(sealed) is None and proof is None
        assert device.outbox.seals_in_epochs is False

        # The centre is upgraded: the relay learns it from its next forward, and says it.
        layer.older = False
        make_records(device, 1)
        sync_ok(device)
        wait_until(lambda: len(at_centre()) == 5, 30, "the fifth record at the centre")
        expected = {SEALING_EPOCHS_HEADER: "epochs", BATCH_SIGNATURES_HEADER: "batch"}
        wait_until(lambda: _says(relay.url, device) == expected, 30, "the relay to say it")
        with admin.open_server_storage(deployment.settings) as storage:
            assert all(storage.list_revisions(deployment.org_id, uuid.UUID(i)) for i in ids)
    finally:
        relay.stop()
