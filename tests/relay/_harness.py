"""Relays for the tests: `fieldapp serve --upstream URL --enrol-code CODE` as its own process
on a free loopback port (started, SIGKILLed and restarted on the same data directory), and
codes for the devices (and relays) that enrol at a relay."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient, enrol
from sync.protocol import EnrolRequest, ErrorBody, Role
from sync.relay import RelayIdentity
from sync.server import admin
from sync.server.auth import enrol_proof_key
from sync.server.settings import ServerSettings
from tests._wait import wait_until
from tests.conftest import PASSPHRASE
from tests.sync._harness import Deployment, ServerProcess

FAST = RetryPolicy(base_delay=0.01, max_delay=0.2, attempts=3)


class RelayProcess(ServerProcess):
    """A relay as a child process of the real command line (`fieldapp serve --upstream URL
    --enrol-code CODE`), its output in `<data dir>.log` beside its data directory."""

    def __init__(
        self, data_dir: Path, upstream: str, code: str, *, forward_every: float = 0.2
    ) -> None:
        super().__init__(
            ServerSettings(data_dir=data_dir),
            fieldapp_cli=True,
            log_path=data_dir.parent / f"{data_dir.name}.log",
            cli_args=("--upstream", upstream, "--enrol-code", code,
                      "--forward-every", str(forward_every)),
        )  # fmt: skip
        self.data_dir = data_dir

    @property
    def device_id(self) -> str:
        """The relay's device id at its upstream (once it has enrolled there)."""
        identity = RelayIdentity.load(self.data_dir)
        assert identity is not None, "the relay has not enrolled upstream"
        return identity.device_id

    def start(self, timeout: float = 60.0) -> RelayProcess:  # type: ignore[override]
        super().start(timeout)
        return self


def code_at_relay(
    centre: Deployment, relay: RelayProcess, role: Role = "collector", **options: Any
) -> str:
    """A one-time code the centre issues for a device (or a relay) enrolling at `relay`:
    `fieldapp admin enrol-code --relay ID` on the centre's data directory."""
    with admin.open_server_storage(centre.settings) as storage:
        region, key = admin.relay_for_code(storage, relay.device_id, None)
        return admin.enrol_code(
            storage,
            centre.org_id,
            role,
            region,
            server_key=key,
            relay_id=relay.device_id,
            **options,
        ).code


def device_at(
    tmp_path: Path, name: str, deployment: Deployment, relay: RelayProcess, **options: Any
) -> Store:
    """A new device enrolled at `relay` with a code the centre issued for it."""
    store = Store.create(tmp_path / f"{name}.db", PASSPHRASE)
    enrol(store, relay.url, code_at_relay(deployment, relay, **options), retry=FAST)
    return store


def sync_ok(store: Store, url: str | None = None) -> None:
    """One sync of the device, which must succeed."""
    with SyncClient(store, url, retry=FAST) as client:
        report = client.sync()
    assert report.ok, report.errors


def refusal(url: str, code: str) -> tuple[int, str]:
    """What a server answers a new device that enrols with `code`: status and error code."""
    request = EnrolRequest(
        code=code,
        device_id=str(uuid.uuid4()),
        device_public_key=crypto.SigningKey.generate().public_key,
    )
    response = httpx.post(
        f"{url}/v1/enrol",
        content=request.model_dump_json(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    return response.status_code, ErrorBody.model_validate_json(response.content).error


def centre_device(deployment: Deployment, device_id: str) -> tuple[bytes, str | None] | None:
    """The device's key at the centre and the relay it enrolled through; None if unknown."""
    rows = deployment.query(
        "SELECT public_key, enrolled_via FROM devices WHERE id = ?", (device_id,)
    )
    return (bytes(rows[0][0]), rows[0][1]) if rows else None


def secrets_of(code: str) -> list[str]:
    """What a relay must never hold of a code: its secret (typed any way) and proof key."""
    return [crypto.enrol_code_secret(code), code, enrol_proof_key(code)]


def verified_at_centre(
    deployment: Deployment, device: Store, ids: list[str], via: RelayProcess
) -> None:
    """Wait until the centre holds exactly these records of `device`, then check that it
    knows the device by the key the device made, through `via`, and that each record's
    signature verifies with that key."""

    def arrived() -> bool:
        rows = deployment.query("SELECT id, device_id FROM records")
        return sorted(rows) == sorted((record_id, device.device_id) for record_id in ids)

    wait_until(arrived, 60, "the device's records at the centre")
    key, enrolled_via = centre_device(deployment, device.device_id) or (b"", None)
    assert key == device.keyring.public_key and enrolled_via == via.device_id
    with admin.open_server_storage(deployment.settings) as storage:
        for record_id in ids:
            [revision] = storage.list_revisions(deployment.org_id, uuid.UUID(record_id))
            envelope = revision.to_envelope()
            crypto.verify(key, envelope.signature, envelope.signed_message())
