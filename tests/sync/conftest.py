"""Fixtures for the sync client tests: a server deployment (SQLite), the real app served by
uvicorn in a thread of the test process or as its own process, and an enrolled device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import enrol
from sync.server.app import create_app
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
def app_http() -> Iterator[httpx.Client]:
    """The httpx client injected into the sync client (one keep-alive pool)."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def device(store: Store, deployment: Deployment, app_url: str, app_http: httpx.Client) -> Store:
    """The `store` fixture enrolled as a collector of the deployment."""
    enrol(store, app_url, deployment.code(), http=app_http)
    return store


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerProcess]:
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()
