"""Relays for the tests: `fieldapp serve --upstream URL --enrol-code CODE` as its own process
on a free loopback port (started, SIGKILLed and restarted on the same data directory), and
codes for the devices (and relays) that enrol at a relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient, enrol
from sync.protocol import Role
from sync.relay import RelayIdentity
from sync.server import admin
from sync.server.settings import ServerSettings
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
