"""The server side of the command line: serve, admin, publishing forms."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from openpyxl import Workbook

from sync.server import admin
from sync.server.settings import ServerSettings
from tests._wait import wait_until
from tests.server.storage._support import Conflict
from tests.test_cli import run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_admin_commands(tmp_path: Path) -> None:
    server = tmp_path / "server"
    keys = run(tmp_path, "keys", "generate", "--out", str(tmp_path / "org.json"))
    assert keys.returncode == 0, keys.stderr
    created = run(
        server, "admin", "create-org", "Provincial Office",
        "--recipient", str(tmp_path / "org.pub.json"),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    org_id = created.stdout.split("\t")[0]
    issued = run(
        server, "admin", "enrol-code", "--org", "Provincial Office", "--role", "trainer", "--json"
    )
    assert issued.returncode == 0, issued.stderr
    code = json.loads(issued.stdout)
    assert code["org_id"] == org_id and code["role"] == "trainer" and len(code["code"]) >= 16
    stats = run(server, "admin", "stats", "--json")
    assert stats.returncode == 0 and json.loads(stats.stdout)["records"] == 0
    missing = run(server, "admin", "enrol-code", "--org", "Nobody", "--role", "trainer")
    assert missing.returncode == 1 and "Nobody" in missing.stderr
    revoked = run(server, "admin", "revoke", "no-such-device")
    assert revoked.returncode == 1 and "no-such-device" in revoked.stderr


def test_admin_resolve_settles_a_conflict(tmp_path: Path) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    with admin.open_server_storage(ServerSettings(data_dir=server)) as storage:
        org_id = storage.organisation_by_name("Office").id
        conflict = Conflict(storage, org_id)
    record_id = str(conflict.v1.id)

    ancestor = run(server, "admin", "resolve", record_id, "--keep", conflict.v1.revision)
    assert ancestor.returncode == 1 and "not in conflict" in ancestor.stderr
    not_a_uuid = run(server, "admin", "resolve", "nope", "--keep", conflict.v1.revision)
    assert not_a_uuid.returncode == 1 and "not a record id" in not_a_uuid.stderr
    keep = conflict.bob_v2.revision
    resolved = run(server, "admin", "resolve", record_id, "--keep", keep)
    assert resolved.returncode == 0, resolved.stderr
    assert keep in resolved.stdout
    with admin.open_server_storage(ServerSettings(data_dir=server)) as storage:
        head = storage.get_record(org_id, conflict.v1.id)
        assert (head.head_revision, head.in_conflict) == (keep, False)
        [audit] = [e for e in storage.list_audit(org_id) if e.action == "resolve_conflict"]
        assert (audit.actor, audit.outcome) == (admin.CLI_ACTOR, "ok")

    create_org(server, "Second Office")
    ambiguous = run(server, "admin", "resolve", record_id, "--keep", keep)
    assert ambiguous.returncode == 1 and "--org" in ambiguous.stderr
    elsewhere = run(server, "admin", "resolve", record_id, "--keep", keep, "--org", "Second Office")
    assert elsewhere.returncode == 1 and f"no record {record_id}" in elsewhere.stderr
    again = run(server, "admin", "resolve", record_id, "--keep", keep, "--org", "Office")
    assert again.returncode == 0, again.stderr


def create_org(folder: Path, name: str) -> None:
    """An organisation with a fresh key pair (the private key beside the server's folder)."""
    key = folder.parent / f"{name}.key.json"
    assert run(folder, "keys", "generate", "--out", str(key), "--kem", "X25519").returncode == 0
    pub = str(key.with_name(key.stem + ".pub.json"))
    result = run(folder, "admin", "create-org", name, "--recipient", pub)
    assert result.returncode == 0, result.stderr


def test_admin_share_event_checks_every_detail(tmp_path: Path) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    share = ("admin", "share-event", "--org", "Office")

    unknown = run(server, *share, "title=Workshop", "start_date=2026-12-01", "budget=900")
    assert unknown.returncode == 1 and "not an event field: budget" in unknown.stderr
    invalid = run(server, *share, "start_date=2026-13-01", "country=Atlantis")
    assert invalid.returncode == 1
    for problem in ("title: required", "start_date:", "country:"):
        assert problem in invalid.stderr, invalid.stderr
    not_a_pair = run(server, *share, "title")
    assert not_a_pair.returncode == 1 and "FIELD=VALUE" in not_a_pair.stderr

    shared = run(
        server, *share, "--region", "Kampot", "title=Police workshop", "start_date=2026-12-08"
    )
    assert shared.returncode == 0, shared.stderr
    key, message = shared.stdout.strip().split("\t")
    assert message == "shared with the trainers of region Kampot"
    withdrawn = run(server, "admin", "withdraw-event", key, "--org", "Office")
    assert withdrawn.returncode == 0 and key in withdrawn.stdout
    again = run(server, "admin", "withdraw-event", key, "--org", "Office")
    assert again.returncode == 1 and "shares no event" in again.stderr
    with admin.open_server_storage(ServerSettings(data_dir=server)) as storage:
        org_id = storage.organisation_by_name("Office").id
        actions = [e.action for e in storage.list_audit(org_id)]
    assert actions.count("share_event") == 1 and actions.count("withdraw_event") == 1


def test_an_organisation_needs_a_key_to_seal_to(tmp_path: Path) -> None:
    result = run(tmp_path, "admin", "create-org", "Office")
    assert result.returncode == 1 and "keys generate" in result.stderr


def test_forms_import_on_a_server_publishes(tmp_path: Path) -> None:
    server = tmp_path / "server"
    create_org(server, "Office")
    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["integer", "people", "How many people"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["headcount", "3"])
    path = tmp_path / "headcount.xlsx"
    book.save(path)
    result = run(server, "forms", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "headcount 3 (published on the server)" in result.stdout


def test_serve_binds_loopback_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fieldapp",
            "--data-dir",
            str(tmp_path),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def health() -> httpx.Response | None:
            if process.poll() is not None:
                raise AssertionError(f"the server exited ({process.returncode})")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            except httpx.TransportError:
                return None

        response = wait_until(health, 30, f"the server on port {port}", step=0.2)
        assert response.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
