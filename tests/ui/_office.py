"""The office's test world: a real server (the app on uvicorn in a thread, loopback, a free
port) with one organisation and the built-in forms, and devices enrolled through the real API,
each a data directory of its own holding a real store (passphrase `PASSPHRASE`).

Usable by service tests (`world.services(data_dir)`: the app's services, unlocked, no
background sync) and by browser tests (`world.app(data_dir)`: the app process on that data
directory, its server prefilled; start it, open it, unlock it). Module-scoped or not:
`office_world(directory, org_key)` is a context manager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldapp import crypto
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Record, Store
from fieldapp.ui.services import Services
from sync.client import SyncClient, SyncReport, enrol
from sync.protocol import Role
from sync.server.app import create_app
from tests.conftest import PASSPHRASE, attendance_values, screening_values
from tests.server._harness import running
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess

__all__ = ["PASSPHRASE", "OfficeWorld", "attendance_values", "office_world", "screening_values"]


@dataclass
class OfficeWorld:
    """A running server (`url`) with one organisation (`deployment.org_id`); devices are
    data directories under `root`."""

    deployment: Deployment
    url: str
    root: Path

    def enrol(self, name: str, role: Role, region: str | None = None, **code: Any) -> Path:
        """A new device's data directory, its store created and enrolled as `role` of
        `region` (None: organisation-wide); `code`: options of the enrolment code (its
        team_key, match_key)."""
        data_dir = self.root / name
        data_dir.mkdir(parents=True)
        store = Store.create(data_dir / STORE_FILENAME, PASSPHRASE)
        try:
            enrol(store, self.url, self.deployment.issue(role, region, **code).code, label=name)
        finally:
            store.close()
        return data_dir

    def data_dir(self, name: str) -> Path:
        """The data directory of the device enrolled as `name`."""
        return self.root / name

    @contextlib.contextmanager
    def store(self, data_dir: Path) -> Iterator[Store]:
        """The device's store, unlocked, closed after."""
        store = Store(data_dir / STORE_FILENAME)
        try:
            store.keyring.unlock(PASSPHRASE)
            yield store
        finally:
            store.close()

    def collect(
        self, data_dir: Path, form_id: str, values: dict[str, Any], *, sync: bool = True
    ) -> Record:
        """A record finalised on the device (and sent, with `sync`)."""
        with self.store(data_dir) as store:
            record = store.records.create_final(form_id, values)
            if sync:
                with SyncClient(store) as client:
                    client.sync()
            return record

    def sync(self, data_dir: Path) -> SyncReport:
        """One sync of the device (push, pull)."""
        with self.store(data_dir) as store, SyncClient(store) as client:
            return client.sync()

    def services(self, data_dir: Path) -> Services:
        """The app's services on the device, unlocked, without background sync (close it)."""
        services = Services(data_dir, background_sync=False)
        services.unlock(PASSPHRASE)
        return services

    def app(self, data_dir: Path) -> AppProcess:
        """The app process on the device (not started: `start()`, and `stop()` after)."""
        return AppProcess(data_dir, server_url=self.url)


@contextlib.contextmanager
def office_world(directory: Path, org_key: crypto.OrgKeyPair) -> Iterator[OfficeWorld]:
    """A server with one organisation under `directory`, running until the block ends."""
    deployment = Deployment.create(directory / "server", org_key, rate_limit_burst=10_000)
    with running(create_app(deployment.settings)) as url:
        yield OfficeWorld(deployment, url, directory / "devices")
