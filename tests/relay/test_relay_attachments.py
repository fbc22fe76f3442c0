"""Photos and signatures through a relay (issue #11): the relay keeps each chunk as the
device sent it (ciphertext: it holds no key), and once the centre has the record naming it,
sends the chunks the centre lacks. Real servers on loopback, each its own process, the centre
stopped while the device syncs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests._wait import wait_until
from tests.conftest import CANARY
from tests.media.test_device_bundles import photographed_records
from tests.relay._harness import RelayProcess, device_at, sync_ok
from tests.sync._harness import Deployment, ServerProcess
from tests.sync.test_team_roster import files_holding


def _chunks(db_path: Path) -> dict[str, bytes]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT digest, data FROM attachment_chunks").fetchall()
    return {digest: bytes(data) for digest, data in rows}


@pytest.mark.slow  # the centre stopped and started again: the full run only
def test_chunks_go_up_after_their_records_unchanged_and_sealed(
    tmp_path: Path, centre: tuple[Deployment, ServerProcess], relay: RelayProcess
) -> None:
    deployment, server = centre
    device = device_at(tmp_path, "photographer", deployment, relay)
    server.stop()  # the line is down while the device syncs its photos
    named = photographed_records(device)
    sync_ok(device)
    digests = {digest for chunks in named.values() for digest in chunks}
    at_relay = _chunks(relay.data_dir / "server.db")
    assert set(at_relay) == digests  # taken at the relay while the centre was away

    server.start()
    wait_until(lambda: set(_chunks(deployment.db_path)) == digests, 60, "the chunks upstream")
    assert _chunks(deployment.db_path) == at_relay  # byte for byte as the device sent them
    # Each record at the centre is complete: every chunk its manifest names is there.
    named_there = deployment.query("SELECT record_id, digest FROM record_chunks")
    assert {record_id for record_id, _ in named_there} == set(named)
    assert {digest for _, digest in named_there} == digests
    # The relay never held a photo in clear, in its database or its log.
    assert files_holding(relay.data_dir, CANARY) == []
    assert CANARY.encode() not in relay.log_path.read_bytes()
