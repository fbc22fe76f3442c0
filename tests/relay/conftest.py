"""The relay tests' fixtures: a centre (its own server process on loopback, SQLite), a relay
of region north under it, a district relay under that one, and a fresh PostgreSQL schema
for a centre on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from tests.relay._harness import RelayProcess, code_at_relay
from tests.server.conftest import pg_schema_url
from tests.sync._harness import Deployment, ServerProcess

__all__ = ["centre", "district", "pg_schema_url", "relay"]


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


@pytest.fixture
def district(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> Iterator[RelayProcess]:
    """A district relay enrolled at `relay`, with a code the centre issued for that one."""
    deployment, _ = centre
    process = RelayProcess(
        tmp_path / "district", relay.url, code_at_relay(deployment, relay, "relay")
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()
