"""Sealing epochs end to end through the real server (docs/sync-protocol.md, *Sealing
epochs*): a device enrolled at a server that takes them seals its records in one epoch, pushes
the epoch header once per batch; the server checks each envelope alone (the device's
signature, the recipients read from the header), keeps the header content-addressed and never
the epoch secret; the case manager's device opens each record with the header the server
gives. A device still sealing the old way is accepted and opened as before, and switches once
a push answer says the server takes epochs. An epoch envelope whose header never came is
refused by name."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.crypto import CaseFileKey
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import OfficeClient, SyncClient, _push, enrol, open_record
from sync.protocol import SEALING_EPOCHS_HEADER
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.security.canary import scan_paths
from tests.sync._harness import Deployment


@pytest.fixture
def office(
    deployment: Deployment, app_url: str, app_transport: httpx.BaseTransport, tmp_path: Path
) -> Store:
    """A case manager's device of the deployment (it holds the organisation's key file)."""
    store = Store.create(tmp_path / "office" / STORE_FILENAME, PASSPHRASE)
    enrol(store, app_url, deployment.issue("case_manager").code, transport=app_transport)
    return store


def _opened(
    office: Store, transport: httpx.BaseTransport, org_key: crypto.OrgKeyPair, record_id: str
) -> dict[str, Any]:
    forms = load_builtin_forms()
    with OfficeClient(office, transport=transport) as client:
        opened = open_record(
            client, CaseFileKey(org_key, timer=False), record_id, lambda form, _v: forms[form]
        )
    return opened.revisions[-1].values


def test_epoch_envelopes_verify_alone_and_open_at_the_office_with_the_servers_header(
    deployment: Deployment,
    org_key: crypto.OrgKeyPair,
    device: Store,
    client: SyncClient,
    office: Store,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    assert device.outbox.seals_in_epochs  # the enrolment answer said so
    ids = [device.records.create_final("victim_screening", screening_values()).id for _ in range(3)]
    report = client.sync()
    assert report.ok and device.records.count(status="sent") == 3

    rows = deployment.query("SELECT sealed FROM records")
    epochs = {crypto.envelope_epoch_id(bytes(sealed)) for (sealed,) in rows}
    assert len(epochs) == 1 and None not in epochs  # one epoch, one encapsulation
    [(epoch_id, header)] = deployment.query("SELECT epoch_id, header FROM sealing_epochs")
    assert epochs == {epoch_id} and crypto.epoch_id_of(bytes(header)) == epoch_id
    # Each stored envelope verifies alone with the device's enrolled key.
    [(public_key,)] = deployment.query(
        "SELECT public_key FROM devices WHERE id = ?", (device.device_id,)
    )
    with SyncClient(device, transport=app_transport) as again:
        for record_id in ids:
            view = again.record_view(record_id)
            envelope = view.revisions[-1]
            crypto.verify(bytes(public_key), envelope.signature, envelope.signing_bytes())

    for record_id in ids:
        assert _opened(office, app_transport, org_key, record_id)["given_name"] == CANARY

    # The server holds neither the victim's name nor the epoch secret, in any encoding.
    epoch = device.outbox._epoch  # the device's live epoch: its secret is in memory only
    assert epoch is not None and epoch.epoch_id == epoch_id
    secret = epoch._secret
    hits, scanned = scan_paths([deployment.settings.data_dir], CANARY)
    assert not hits and scanned > 0
    server_files = list(deployment.settings.data_dir.rglob("*"))
    for needle in (secret, secret.hex().encode(), base64.b64encode(secret)):
        assert not [path for path in server_files if path.is_file() and needle in path.read_bytes()]
    device_files = list(tmp_path.rglob("*"))
    assert not [path for path in device_files if path.is_file() and secret in path.read_bytes()]


def test_an_old_format_device_is_accepted_opened_and_switches_once_told(
    device: Store,
    client: SyncClient,
    office: Store,
    deployment: Deployment,
    org_key: crypto.OrgKeyPair,
    app_transport: httpx.BaseTransport,
) -> None:
    device.outbox.set_seals_in_epochs(False)  # as an app from before epochs seals
    old = device.records.create_final("victim_screening", screening_values()).id
    assert client.sync().ok
    [(sealed,)] = deployment.query("SELECT sealed FROM records WHERE id = ?", (old,))
    assert crypto.envelope_epoch_id(bytes(sealed)) is None
    assert device.outbox.seals_in_epochs  # the push answer said the server takes epochs
    new = device.records.create_final("victim_screening", screening_values()).id
    assert client.sync().ok
    [(sealed,)] = deployment.query("SELECT sealed FROM records WHERE id = ?", (new,))
    assert crypto.envelope_epoch_id(bytes(sealed)) is not None

    for record_id in (old, new):
        assert _opened(office, app_transport, org_key, record_id)["given_name"] == CANARY


def test_an_epoch_envelope_without_its_header_is_refused_by_name(
    deployment: Deployment, device: Store, app_url: str, app_http: httpx.Client
) -> None:
    device.records.create_final("victim_screening", screening_values())
    [entry] = device.outbox.pending()
    token = device.keyring.secret("token")
    body = b'{"protocol":1,"records":[' + entry.envelope + b"]}"  # no "epochs"
    response = app_http.post(
        f"{app_url}/v1/records:push",
        content=gzip.compress(body),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200 and response.headers[SEALING_EPOCHS_HEADER] == "epochs"
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "rejected"
    [error] = outcome["errors"]
    assert (error["field"], error["code"]) == ("sealed", "unknown_epoch")
    assert "epoch header" in error["message"]
    assert deployment.query("SELECT count(*) FROM records") == [(0,)]
    # The same envelope with a header that is not its own: the header's id is what counts.
    other = crypto.SealingEpoch(device.outbox.recipients()).header
    tampered = json.loads(body)
    tampered["epochs"] = [base64.b64encode(other).decode()]
    response = app_http.post(
        f"{app_url}/v1/records:push",
        json=tampered,
        headers={"Authorization": f"Bearer {token}"},
    )
    [outcome] = response.json()["outcomes"]
    assert [error["code"] for error in outcome["errors"]] == ["unknown_epoch"]
    assert deployment.query("SELECT count(*) FROM sealing_epochs") == [(0,)]
    assert uuid.UUID(outcome["id"])


class _Encodings(httpx.BaseTransport):
    """Passes requests on, noting each push body's Content-Encoding."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.seen = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/records:push":
            self.seen.append(request.headers.get("Content-Encoding"))
        return self.inner.handle_request(request)


def test_on_a_slow_link_pushes_go_as_xz_once_the_server_says_it_takes_it(
    deployment: Deployment,
    device: Store,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", float("inf"))  # every link is slow
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)  # and every batch measures it
    ids = [
        device.records.create_final("victim_screening", screening_values()).id for _ in range(12)
    ]
    encodings = _Encodings(app_transport)
    with SyncClient(device, transport=encodings, max_batch_bytes=2048) as client:
        report = client.sync()
    assert report.ok and device.records.count(status="sent") == len(ids)
    # The first batches leave as gzip (one is prepared while the first is out); once an
    # answer says `Accept-Encoding: gzip, xz`, the next go as xz, and are stored alike.
    assert encodings.seen[0] == "gzip" and "xz" in encodings.seen
    assert deployment.query("SELECT count(*) FROM records") == [(len(ids),)]
