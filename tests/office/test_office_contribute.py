"""`fieldapp office share` and `office contribute` from an enrolled office's data directory:
the quarter's screenings, asked of the organisation's server (its office API), counted on the
laptop and sent sealed to a hub (another server on loopback, `serve --hub`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.office.collaborative import hub_info_of, open_contribution
from sync.client import HubClient
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.conftest import PASSPHRASE
from tests.office.test_office_cli import Office, office, victims  # noqa: F401 (fixture)
from tests.server._harness import running


def test_the_quarters_identified_victims_reach_the_hub_as_sealed_counts(
    office: Office,  # noqa: F811
    org_key: crypto.OrgKeyPair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    north = office.collector("north")
    identified = {"screening_outcome": "identified_victim", "nationality": "NG", "sex": "male"}
    rows = [identified] * 12 + [{**identified, "screening_outcome": "not_victim"}] * 3
    response = office.world.push(north, *victims(north, rows))
    assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}
    steward_keys = crypto.OrgKeyPair.generate("X25519")
    public = tmp_path / "hub-public.json"
    public.write_text(hub_info_of(steward_keys, 11).model_dump_json())
    key_file = tmp_path / "org.json"
    org_key.save(key_file, PASSPHRASE)
    monkeypatch.setenv("ORG_KEY_PASSPHRASE", PASSPHRASE)
    secret = ("--org-key", str(key_file), "--passphrase-env", "ORG_KEY_PASSPHRASE")
    now = datetime.now(UTC)
    period = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    hub = create_app(ServerSettings(data_dir=tmp_path / "hub", hub_keys=public))
    with running(hub) as url, HubClient(url, steward_keys.hub_signing_key()) as steward:
        steward.admit(org_key.hub_signing_key().public_key, "Field Team")
        assert office.run("office", "contribute", "--hub", url, *secret, "--period", period) == 1
        assert office.run("office", "share", "--hub", url, *secret, "--consent", "yes") == 0
        assert office.run("office", "contribute", "--hub", url, *secret, "--period", period) == 0
        [sealed] = steward.contributions(period)
        opened = open_contribution(steward_keys, sealed.sealed, period, sealed.org_key or b"")
    counts = {(tuple(map(tuple, values))): n for _, values, n in opened.counts}
    assert counts[()] == 12  # the identified victims only
    assert counts[(("region", "north"),)] == 12
    assert counts[(("month", now.strftime("%Y-%m")),)] == 12
    assert counts[(("nationality", "NG"), ("sex", "male"))] == 12
