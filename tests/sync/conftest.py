"""Fixtures for the sync client tests: a server deployment (SQLite), the real app served by
uvicorn in a thread of the test process or as its own process, and an enrolled device."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import ReferralsClient, SyncClient, enrol
from sync.server import admin
from sync.server.app import create_app
from tests.conftest import PASSPHRASE
from tests.server._harness import running
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._victim_services import Sides


@pytest.fixture
def deployment(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Deployment:
    return Deployment.create(tmp_path / "server" / "data", org_key)


@pytest.fixture
def app_url(deployment: Deployment) -> Iterator[str]:
    """The server app on uvicorn in a thread of this process (loopback, a free port)."""
    with running(create_app(deployment.settings)) as url:
        yield url


@pytest.fixture
def app_transport() -> Iterator[httpx.HTTPTransport]:
    """The transport injected into the sync client (one keep-alive pool, shared by every
    client of the test; the sync client stacks its retries and byte counting on it)."""
    with httpx.HTTPTransport() as transport:
        yield transport


@pytest.fixture
def app_http() -> Iterator[httpx.Client]:
    """An httpx client for the test's own requests to the server."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def device(
    store: Store, deployment: Deployment, app_url: str, app_transport: httpx.BaseTransport
) -> Store:
    """The `store` fixture enrolled as a collector of the deployment."""
    enrol(store, app_url, deployment.code(), transport=app_transport)
    return store


@pytest.fixture
def client(device: Store, app_transport: httpx.BaseTransport) -> Iterator[SyncClient]:
    """A sync client of the enrolled `device`."""
    with SyncClient(device, transport=app_transport) as sync_client:
        yield sync_client


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerProcess]:
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`fieldapp --data-dir DIR ARGS...` in this process; its JSON output."""
    monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)

    def run(data_dir: Path, *args: str) -> Any:
        capsys.readouterr()
        assert main(["--data-dir", str(data_dir), *args]) == 0
        return json.loads(capsys.readouterr().out)

    return run


@pytest.fixture
def new_device(
    deployment: Deployment, app_url: str, app_transport: httpx.BaseTransport, tmp_path: Path
) -> Callable[[str, str, str], Store]:
    """`new_device(org_id, role, folder[, region])`: a store enrolled with the organisation."""

    def make(org_id: str, role: str, folder: str, region: str | None = None) -> Store:
        store = Store.create(tmp_path / folder / STORE_FILENAME, PASSPHRASE)
        with admin.open_server_storage(deployment.settings) as storage:
            server_key = admin.server_public_key(deployment.settings, storage)
            code = admin.enrol_code(storage, org_id, role, region, server_key=server_key)  # type: ignore[arg-type]
        enrol(store, app_url, code.code, transport=app_transport)
        return store

    return make


@pytest.fixture
def org_b(deployment: Deployment) -> tuple[str, crypto.OrgKeyPair]:
    """A second organisation on the same server, with a key pair of its own."""
    key = crypto.OrgKeyPair.generate("X25519")
    with admin.open_server_storage(deployment.settings) as storage:
        org = admin.create_org(storage, "Legal Aid Cambodia", recipients=[key.recipient])
    return org.id, key


@pytest.fixture
def sides(
    deployment: Deployment,
    org_b: tuple[str, crypto.OrgKeyPair],
    app_transport: httpx.BaseTransport,
    new_device: Callable[[str, str, str], Store],
) -> Sides:
    """Org A's social worker; org B's admin lists a legal service and a shelter."""
    b_id, b_key = org_b
    worker = new_device(deployment.org_id, "collector", "a")
    b_admin = new_device(b_id, "admin", "ba")
    with ReferralsClient(b_admin, transport=app_transport) as client:
        client.set_services({"legal": "Legal aid", "shelter": "Women's shelter"})
    return Sides(worker, b_admin, b_id, b_key)


@pytest.fixture
def b_office(sides: Sides, new_device: Callable[[str, str, str], Store]) -> Store:
    """Org B's case manager's device: it answers the referrals to org B."""
    return new_device(sides.b_id, "case_manager", "bo")
