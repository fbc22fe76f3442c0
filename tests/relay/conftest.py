"""The relay tests' fixtures: a centre (its own server process on loopback, SQLite), a relay
of region north under it, and a fresh PostgreSQL schema for a centre on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from tests.relay._harness import RelayProcess
from tests.server.conftest import pg_schema_url
from tests.sync._harness import Deployment, ServerProcess

__all__ = ["centre", "pg_schema_url", "relay"]


@pytest.fixture
def centre(
    tmp_path: Path, org_key: crypto.OrgKeyPair
) -> Iterator[tuple[Deployment, ServerProcess]]:
    deployment = Deployment.create(tmp_path / "centre" / "data", org_key)
    process = ServerProcess(deployment.settings)
    process.start()
    try:
        yield deployment, process
    finally:
        process.stop()


@pytest.fixture
def relay(tmp_path: Path, centre: tuple[Deployment, ServerProcess]) -> Iterator[RelayProcess]:
    deployment, server = centre
    code = deployment.issue("relay", region="north").code
    process = RelayProcess(tmp_path / "relay", server.url, code)
    process.start()
    try:
        yield process
    finally:
        process.stop()
