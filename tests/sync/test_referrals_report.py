"""`fieldapp office services --table referrals` over a real server on loopback with two
organisations: org A's social workers in two regions refer survivors to org B, which accepts,
declines and delivers; org A's office counts the referrals made, accepted and completed from
what the referrals API lists to it (never the server's database), and the one referral to a
shelter from the south stays hidden, with what would give it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp.cli import main
from fieldapp.store import Store
from sync.client import ReferralsClient
from tests.conftest import screening_values
from tests.office._attacker import from_json
from tests.sync._harness import Deployment
from tests.sync._victim_services import Sides, synced


def _refer(worker: Store, transport: httpx.BaseTransport, to_org: str, services: list[str]) -> None:
    """One consenting survivor recorded on the worker's device per service, then referred."""
    ids = [worker.records.create_final("victim_screening", screening_values()).id for _ in services]
    synced(worker, transport)
    with ReferralsClient(worker, transport=transport) as client:
        client.directory()
        for record_id, service in zip(ids, services, strict=True):
            client.refer(record_id, to_org, service)


@pytest.fixture
def referred(
    deployment: Deployment,
    sides: Sides,
    b_office: Store,
    app_transport: httpx.BaseTransport,
    new_device: Callable[..., Store],
    tmp_path: Path,
) -> Path:
    """24 referrals from the north (to legal aid), 12 to legal aid and one to the shelter
    from the south; org B accepts 20 of the north's and delivers 12 of them, declines 2.
    Org A's office's data folder."""
    north = new_device(deployment.org_id, "collector", "north", "north")
    south = new_device(deployment.org_id, "collector", "south", "south")
    _refer(north, app_transport, sides.b_id, ["legal"] * 24)
    _refer(south, app_transport, sides.b_id, ["legal"] * 12 + ["shelter"])
    with ReferralsClient(b_office, transport=app_transport) as office:
        incoming = office.referrals("incoming")
        north_ids = [str(r.id) for r in incoming if r.service == "legal"][-24:]
        for referral_id in north_ids[:20]:
            office.accept(referral_id)
        for referral_id in north_ids[:12]:
            office.delivered(referral_id)
        for referral_id in north_ids[20:22]:
            office.decline(referral_id, "no_capacity")
    new_device(deployment.org_id, "admin", "a_office")
    return tmp_path / "a_office"


def test_referrals_made_accepted_and_completed_are_counted(referred: Path, cli: Any) -> None:
    table = cli(referred, "office", "services", "--table", "referrals", "--by", "status",
                "--json")  # fmt: skip
    assert set(table) == {"by", "cells", "margins", "total"}
    assert table["by"] == ["stage"] and table["total"] == 37
    stages = {c["values"]["stage"]: c["count"] for c in table["cells"]}
    assert stages == {"made": 37, "accepted": 20, "completed": 12}


def test_the_lone_shelter_referral_from_the_south_stays_hidden(referred: Path, cli: Any) -> None:
    table = cli(referred, "office", "services", "--table", "referrals", "--by", "service,region",
                "--json")  # fmt: skip
    assert table["by"] == ["service", "region"] and table["total"] == 37
    cells = {(c["values"]["service"], c["values"]["region"]): c for c in table["cells"]}
    assert (
        cells[("shelter", "south")]["suppressed"] and cells[("shelter", "south")]["count"] is None
    )
    hidden = [key for key, cell in cells.items() if cell["suppressed"]]
    assert len(hidden) >= 2, hidden  # its complement too
    attacker = from_json([table])
    lone = frozenset({("service", "shelter"), ("region", "south")})
    low, high = attacker.lp_range({lone: 1})
    assert high - low >= 1, "the lone referral comes back from the margins"


def test_record_filters_are_refused_for_referrals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["office", "services", "--table", "referrals", "--by", "status", "--status", "approved"]
    assert main(["--data-dir", str(tmp_path), *args]) == 1
    assert "--status: filters records, not referrals" in capsys.readouterr().err
