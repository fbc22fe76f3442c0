"""`fieldapp office open RECORD_ID --org-key FILE` on an enrolled case manager's data
directory, against a real server on 127.0.0.1: a victim record recorded and synced by a
collector's device is opened with the organisation's key file and its passphrase (from an
environment variable), labelled in a chosen language or as JSON; a wrong passphrase, another
file, a coordinator's device each give a clear error. And the canary check: after the
openings, the victim's name is in no byte of the case manager's data folder, the server's
(database, -wal, -shm, its DEBUG log), any captured log line, nor any temporary file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.app import create_app
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.security.canary import scan_bytes, scan_paths, temporary_files_in
from tests.security.test_canary import everything_logged_at_debug
from tests.server._harness import running
from tests.sync._harness import Deployment

KEY_PASSPHRASE = "the organisation's own passphrase"


@dataclass
class Office:
    deployment: Deployment
    url: str
    key_file: Path
    manager_dir: Path
    record_id: str
    temp_dir: Path

    def run(self, *args: str, data_dir: Path | None = None) -> int:
        return main(["--data-dir", str(data_dir or self.manager_dir), *args])

    def enrolled(self, name: str, role: str) -> Path:
        data_dir = self.deployment.settings.data_dir.parent.parent / name
        store = Store.create(data_dir / STORE_FILENAME, PASSPHRASE)
        enrol(store, self.url, self.deployment.issue(role).code)  # type: ignore[arg-type]
        store.close()
        return data_dir


@pytest.fixture
def office(
    tmp_path: Path, org_key: crypto.OrgKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Office]:
    temp_dir = temporary_files_in(tmp_path / "tmp", monkeypatch)
    deployment = Deployment.create(tmp_path / "server" / "data", org_key)
    key_file = tmp_path / "keys" / "org.key"
    key_file.parent.mkdir()
    org_key.save(key_file, KEY_PASSPHRASE)
    monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ORG_KEY_PASSPHRASE", KEY_PASSPHRASE)
    with running(create_app(deployment.settings)) as url:
        phone = Store.create(tmp_path / "phone" / STORE_FILENAME, PASSPHRASE)
        enrol(phone, url, deployment.issue("collector", "north").code)
        record = phone.records.create_final("victim_screening", screening_values())
        with SyncClient(phone) as client:
            assert client.sync().ok
        phone.close()
        office = Office(deployment, url, key_file, Path(), record.id, temp_dir)
        office.manager_dir = office.enrolled("manager", "case_manager")
        yield office


def test_a_case_manager_opens_a_record_and_nothing_is_left_in_clear(
    office: Office,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server_dir = office.deployment.settings.data_dir
    log_file = server_dir / "server-debug.log"
    key = ["--org-key", str(office.key_file), "--passphrase-env", "ORG_KEY_PASSPHRASE"]
    with everything_logged_at_debug(log_file):
        assert office.run("office", "open", office.record_id, *key) == 0
        shown = capfd.readouterr().out
        assert f"Given name(s): {CANARY}" in shown
        assert "Sex / gender: Female" in shown  # a statistical answer, labelled too
        assert office.run("office", "open", office.record_id, *key, "--json", "--lang", "fr") == 0
        opened = json.loads(capfd.readouterr().out)
        answers = {a["name"]: a for a in opened["revisions"][0]["answers"]}
        assert answers["given_name"] == {
            "name": "given_name", "label": "Prénom(s)", "text": CANARY, "sealed": True,
        }  # fmt: skip
        assert opened["id"] == office.record_id and opened["region"] == "north"
        # While the store and the server are open: their -wal and -shm files exist now.
        open_hits, _ = scan_paths([office.manager_dir, server_dir, office.temp_dir], CANARY)
    closed_hits, scanned = scan_paths([office.manager_dir, server_dir, office.temp_dir], CANARY)
    log_hits = scan_bytes("caplog", caplog.text.encode(), CANARY)
    assert not [*open_hits, *closed_hits, *log_hits], [*open_hits, *closed_hits, *log_hits]
    assert scanned > 50_000 and log_file.stat().st_size > 0
    assert "GET /v1/office/records/" in log_file.read_text()
    assert [p for p in office.temp_dir.rglob("*")] == []  # no temporary file at all
    names = {p.name for p in office.manager_dir.rglob("*")}
    assert not {n for n in names if "key" in n.lower() or n.endswith(".tmp")}, names


def test_clear_errors(office: Office, capfd: pytest.CaptureFixture[str]) -> None:
    key = ["--org-key", str(office.key_file)]
    wrong = f"wrong passphrase for {office.key_file}"
    cases = [
        ((*key, "--passphrase-env", "NOT_SET"), "the variable NOT_SET is not set"),
        ((*key, "--passphrase-env", "FIELDAPP_PASSPHRASE"), wrong),
        (("--org-key", str(office.manager_dir / STORE_FILENAME), "--passphrase-env",
          "ORG_KEY_PASSPHRASE"), "is not a valid organisation key file"),
        (("--org-key", "/no/such/file", "--passphrase-env", "ORG_KEY_PASSPHRASE"),
         "--org-key: cannot read /no/such/file"),
    ]  # fmt: skip
    for options, message in cases:
        assert office.run("office", "open", office.record_id, *options) == 1
        assert message in capfd.readouterr().err
    assert office.run("office", "open", "not-an-id", *key) == 1
    assert "RECORD_ID: 'not-an-id' is not a record id" in capfd.readouterr().err
    # Another organisation's key file.
    other = office.key_file.with_name("other.key")
    crypto.OrgKeyPair.generate("X25519").save(other, KEY_PASSPHRASE)
    assert office.run("office", "open", office.record_id, "--org-key", str(other),
                      "--passphrase-env", "ORG_KEY_PASSPHRASE") == 1  # fmt: skip
    assert "which is not one of this organisation's keys" in capfd.readouterr().err
    # A coordinator's device: the server refuses it.
    coordinator = office.enrolled("coordinator", "coordinator")
    assert office.run("office", "open", office.record_id, *key, "--passphrase-env",
                      "ORG_KEY_PASSPHRASE", data_dir=coordinator) == 1  # fmt: skip
    err = capfd.readouterr().err
    assert "a coordinator device may not open sealed records" in err and CANARY not in err
