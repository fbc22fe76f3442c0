"""A real sync server for the UI tests that sync: one organisation (SQLite), served by uvicorn
in a thread of the test process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from fieldapp import crypto
from sync.server.app import create_app
from tests.server._harness import running
from tests.sync._harness import Deployment
from tests.ui._browser import chromium


@pytest.fixture
def deployment(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Deployment:
    return Deployment.create(tmp_path / "server" / "data", org_key)


@pytest.fixture
def server_url(deployment: Deployment) -> Iterator[str]:
    with running(create_app(deployment.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (the browser tests skip clearly where it is absent)."""
    with chromium() as launched:
        yield launched
