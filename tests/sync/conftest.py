"""Fixtures for the sync client tests: a server deployment (SQLite), the real app served by
uvicorn in a thread of the test process or as its own process, and an enrolled device."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.app import create_app
from tests.conftest import PASSPHRASE
from tests.server._harness import running
from tests.sync._harness import Deployment, ServerProcess


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
