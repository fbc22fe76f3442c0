"""The README's first command, and the enrol/sync command line against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldapp.office.demo import DEMO_PASSPHRASE, run_demo
from fieldapp.store import Store
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.conftest import CANARY, screening_values
from tests.server._harness import running
from tests.test_cli import run
from tests.test_cli_server import create_org

pytestmark = pytest.mark.slow  # the whole job end to end in processes: the full run only


def test_demo_runs_the_whole_job(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", say=lines.append)
    assert result.accepted == 6 and result.rejected == 0
    assert result.server_records == 6
    assert result.plaintext_names_on_server == 0
    assert result.opened_case_code.startswith("KH-")
    assert len(lines) >= 6
    device = Store(result.device_dir / "fieldapp.db")
    device.keyring.unlock(DEMO_PASSPHRASE)
    try:  # the office's upcoming training reached the device with the sync
        [shared] = device.roster.shared("event").values()
        # The code brought the north team's key: the training's participants went to the
        # team sealed with it, and came back with the pull.
        team = device.roster.team_key()
        participants = device.records.page(form_id="training_attendance").items[0].stats
        roster = device.roster.entries()
    finally:
        device.close()
    assert team is not None and team.region == "north"
    assert {entry["id"] for entry in roster} == {p["_id"] for p in participants["participants"]}
    assert shared["title"].startswith("Non-punishment of victims")
    # Running it again starts afresh rather than piling up.
    again = run_demo(tmp_path / "demo", say=lines.append)
    assert again.server_records == 6


def test_enrol_and_sync_from_the_command_line(tmp_path: Path) -> None:
    device, server = tmp_path / "device", tmp_path / "server"
    assert run(device, "init").returncode == 0
    cases = tmp_path / "cases.csv"
    values = screening_values()
    del values["languages"], values["exploitation_types"], values["ilo_indicators"]
    del values["immediate_needs"], values["referral_org_shelter"], values["referral_org_medical"]
    cases.write_text(
        ",".join(values) + ",exploitation_types\n" + ",".join(str(v) for v in values.values())
        + ",forced_labour\n",
        encoding="utf-8",
    )  # fmt: skip
    imported = run(device, "records", "import", str(cases), "--form", "victim_screening")
    assert imported.returncode == 0, imported.stderr
    with running(create_app(ServerSettings(data_dir=server))) as url:
        create_org(server, "Office")
        issued = run(
            server, "admin", "enrol-code", "--org", "Office", "--role", "collector", "--json"
        )
        code = json.loads(issued.stdout)["code"]
        refused = run(
            device, "enrol", "--server", url.replace("127.0.0.1", "example.org"), "--code", code
        )
        assert refused.returncode == 1 and "http" in refused.stderr.lower()
        enrolled = run(device, "enrol", "--server", url, "--code", code)
        assert enrolled.returncode == 0, enrolled.stderr
        synced = run(device, "sync", "--json")
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["accepted"] == 1
        again = run(device, "sync", "--json")
        assert json.loads(again.stdout)["accepted"] == 0
        stats = json.loads(run(server, "admin", "stats", "--json").stdout)
        assert stats["records"] == 1
    listed = json.loads(run(device, "records", "list", "--json").stdout)
    assert [r["status"] for r in listed] == ["sent"]
    for path in server.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
