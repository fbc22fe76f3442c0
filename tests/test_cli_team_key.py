"""`fieldapp admin enrol-code --org-key`: the code carries its region's team key, derived
from the organisation's private key file and wrapped by the code (a real process, a real
server database)."""

from __future__ import annotations

import json
from pathlib import Path

from fieldapp import crypto
from sync.server import admin
from sync.server.auth import enrol_code_hash
from sync.server.settings import ServerSettings
from tests.conftest import PASSPHRASE
from tests.test_cli import run
from tests.test_cli_server import create_org


def test_enrol_code_with_the_org_key_carries_the_team_key(tmp_path: Path) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    key_file = tmp_path / "Office.key.json"

    issued = run(
        server, "admin", "enrol-code", "--org", "Office", "--role", "trainer",
        "--region", "north", "--org-key", str(key_file), "--json",
    )  # fmt: skip

    assert issued.returncode == 0, issued.stderr
    answer = json.loads(issued.stdout)
    assert answer["team_key"] is True and answer["region"] == "north"
    with admin.open_server_storage(ServerSettings(data_dir=server)) as storage:
        code = storage.get_enrol_code(enrol_code_hash(answer["code"]))
    assert code.wrapped_team_key is not None
    expected = crypto.OrgKeyPair.load(key_file, PASSPHRASE).team_key(answer["org_id"], "north")
    unwrapped = crypto.unwrap_team_key(
        answer["code"], code.wrapped_team_key, answer["org_id"], "north"
    )
    assert unwrapped == expected

    plain = run(server, "admin", "enrol-code", "--org", "Office", "--role", "trainer")
    assert plain.returncode == 0 and "team key" not in plain.stdout
    keyed = run(
        server, "admin", "enrol-code", "--org", "Office", "--role", "trainer",
        "--org-key", str(key_file),
    )  # fmt: skip
    assert keyed.returncode == 0 and "with the team key" in keyed.stdout


def test_a_key_file_of_another_organisation_or_a_wrong_passphrase_is_refused(
    tmp_path: Path,
) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    create_org(server, "Elsewhere")
    for key_file, passphrase, problem in (
        (tmp_path / "Elsewhere.key.json", PASSPHRASE, "is not one of Office's keys"),
        (tmp_path / "Office.key.json", PASSPHRASE + " typo", "wrong passphrase"),
    ):
        refused = run(
            server, "admin", "enrol-code", "--org", "Office", "--role", "trainer",
            "--org-key", str(key_file), passphrase=passphrase,
        )  # fmt: skip
        assert refused.returncode == 1 and problem in refused.stderr, refused.stderr
