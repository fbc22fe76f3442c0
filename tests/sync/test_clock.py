"""Time from the server: a device whose clock is wrong purges by the server's receipt times,
and is told to set its clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldapp.store import Store
from fieldapp.ui.services import describe_report
from sync.client import SyncClient, SyncReport, enrol
from sync.server.app import create_app
from tests.conftest import PASSPHRASE, screening_values
from tests.server._harness import running
from tests.sync._harness import Deployment
from tests.test_cli import run


class WallClock:
    """A device's date and time, which its owner may set to anything."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def test_a_device_whose_clock_says_2076_purges_by_the_servers_time(
    tmp_path: Path, deployment: Deployment, app_url: str
) -> None:
    clock = WallClock(datetime(2076, 3, 1, 9, 0, tzinfo=UTC))
    store_dir = tmp_path / "device"
    device = Store.create(store_dir / "fieldapp.db", PASSPHRASE, wall_clock=clock)
    try:
        enrol(device, app_url, deployment.code())
        record = device.records.create_final("victim_screening", screening_values())
        with SyncClient(device) as client:
            report = client.sync()
            assert report.ok and report.accepted == 1, report.errors
            assert report.clock_offset is not None
            assert report.clock_offset < -timedelta(days=49 * 365)
            assert client.clock_offset == report.clock_offset
        assert report.clock_warning is not None and "ahead of the server's" in report.clock_warning
        # The server took it a moment ago by its clock: not a day old, whatever this one says.
        assert device.outbox.purge_sent(older_than=timedelta(days=1)) == 0
        # The owner sets the clock right; every receipted record goes with --sent-days 0,
        # though this device stamped it in 2076.
        clock.moment = datetime.now(UTC)
        device.close()
        purged = run(store_dir, "records", "purge", "--sent-days", "0")
        assert purged.returncode == 0, purged.stderr
        assert purged.stdout.startswith("1 sent records removed")
        device = Store(store_dir / "fieldapp.db", wall_clock=clock)
        device.keyring.unlock(PASSPHRASE)
        assert device.records.get(record.id).purged
    finally:
        device.close()


@pytest.fixture
def server_an_hour_ahead(deployment: Deployment) -> Iterator[str]:
    """The server, its clock an hour ahead of this machine's (the devices' here)."""
    app = create_app(deployment.settings, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    with running(app) as url:
        yield url


def test_fieldapp_sync_warns_of_a_clock_far_from_the_servers(
    tmp_path: Path, deployment: Deployment, server_an_hour_ahead: str
) -> None:
    device = tmp_path / "device"
    assert run(device, "init").returncode == 0
    enrolled = run(device, "enrol", "--server", server_an_hour_ahead, "--code", deployment.code())
    assert enrolled.returncode == 0, enrolled.stderr
    synced = run(device, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    offset = json.loads(synced.stdout)["clock_offset_seconds"]
    assert 3500 < offset < 3700
    assert "warning: this device's clock is about 60 minutes behind the server's" in synced.stderr


def test_a_clock_within_ten_minutes_raises_no_warning() -> None:
    report = SyncReport(started_at=datetime.now(UTC), clock_offset=timedelta(minutes=9))
    assert report.clock_warning is None
    assert describe_report(report).message_key == "sync_result"


def test_the_app_says_how_far_the_clock_is_off() -> None:
    report = SyncReport(started_at=datetime.now(UTC), accepted=2, clock_offset=-timedelta(hours=2))
    outcome = describe_report(report)
    assert (outcome.ok, outcome.message_key) == (True, "sync_clock_skew")
    assert outcome.params["minutes"] == 120 and outcome.params["sent"] == 2
