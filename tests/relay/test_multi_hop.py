"""A district relay under a regional one (issue #11): device -> district relay -> regional
relay -> centre on PostgreSQL, every server its own process on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient, enrol
from tests._wait import wait_until
from tests.conftest import CANARY, PASSPHRASE
from tests.relay._harness import RelayProcess, code_at_relay
from tests.sync._harness import Deployment, ServerProcess
from tests.sync._records import make_records

FAST = RetryPolicy(base_delay=0.01, max_delay=0.2, attempts=3)


@pytest.mark.postgres
@pytest.mark.slow  # four servers, two of them stopped and started again: the full run only
def test_a_record_crosses_two_relays_to_a_postgresql_centre_once_with_both_hops(
    tmp_path: Path, org_key: crypto.OrgKeyPair, pg_schema_url: str
) -> None:
    centre = Deployment.create(tmp_path / "centre" / "data", org_key, database_url=pg_schema_url)
    server = ServerProcess(centre.settings)
    relays: list[RelayProcess] = []
    server.start()
    try:
        regional = RelayProcess(
            tmp_path / "regional", server.url, centre.issue("relay", region="north").code
        ).start()
        relays.append(regional)
        district = RelayProcess(
            tmp_path / "district", regional.url, code_at_relay(centre, regional, "relay")
        ).start()
        relays.append(district)
        device = Store.create(tmp_path / "phone.db", PASSPHRASE)
        enrol(device, district.url, code_at_relay(centre, district), retry=FAST)
        ids = make_records(device, 4)
        server.stop()  # the centre is away while the device syncs
        with SyncClient(device, retry=FAST) as client:
            assert client.sync().ok
        regional.kill()  # and the regional relay dies mid-round
        regional.start()
        server.start()

        def at_centre() -> list[tuple[str, str, str, str]]:
            with psycopg.connect(pg_schema_url) as pg:
                rows = pg.execute("SELECT id, revision, device_id, hops FROM records").fetchall()
            return [(str(r[0]), r[1], r[2], r[3]) for r in rows]

        rows = wait_until(lambda: len(at_centre()) == 4 and at_centre(), 60, "4 at the centre")
        assert sorted(row[0] for row in rows) == sorted(ids)
        assert len({(row[0], row[1]) for row in rows}) == 4  # exactly once
        for _, _, signer, hops in rows:
            assert signer == device.device_id
            path = json.loads(hops)
            assert [hop["node"] for hop in path] == [district.device_id, regional.device_id]
            assert path[0]["received_at"] <= path[1]["received_at"]
        # The centre verified each signature against the key it enrolled for the device.
        with psycopg.connect(pg_schema_url) as pg:
            audit = pg.execute(
                "SELECT outcome, count(*) FROM audit WHERE action = 'push' GROUP BY outcome"
            ).fetchall()
        outcomes = dict(audit)
        assert outcomes["accepted"] == 4 and set(outcomes) <= {"accepted", "duplicate"}
        for relay in relays:
            leaked = [
                str(path) for path in relay.data_dir.rglob("*")
                if path.is_file() and CANARY.encode() in path.read_bytes()
            ]  # fmt: skip
            assert leaked == []
            assert CANARY.encode() not in relay.log_path.read_bytes()
    finally:
        for relay in reversed(relays):
            relay.stop()
        server.stop()
