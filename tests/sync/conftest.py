"""Fixtures for the sync client tests: a server deployment (SQLite), the real app in-process
(fastapi's TestClient is an httpx.Client), a real uvicorn process, and an enrolled device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import enrol
from sync.server.app import create_app
from tests.sync._harness import Deployment, ServerProcess

# The in-process app answers whatever host is named; a loopback name keeps http:// allowed.
IN_PROCESS_URL = "http://127.0.0.1:9"


@pytest.fixture
def deployment(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Deployment:
    return Deployment.create(tmp_path / "server" / "data", org_key)


@pytest.fixture
def app_http(deployment: Deployment) -> Iterator[httpx.Client]:
    with TestClient(create_app(deployment.settings)) as client:
        yield client


@pytest.fixture
def device(store: Store, deployment: Deployment, app_http: httpx.Client) -> Store:
    """The `store` fixture enrolled (in-process) as a collector of the deployment."""
    enrol(store, IN_PROCESS_URL, deployment.code(), http=app_http)
    return store


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerProcess]:
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()
