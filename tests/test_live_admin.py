"""A receipt is a promise: admin commands run against the data directory of a live server (a
`fieldapp serve` process, or the one `fieldapp demo` runs) while devices sync; then the server
dies at once (SIGKILL), and every revision a device holds a receipt for is in server.db."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from openpyxl import Workbook

from fieldapp import crypto
from fieldapp.office.demo import DEMO_PASSPHRASE
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment, ServerProcess
from tests.test_cli import run
from tests.test_cli_server import create_org

# Runs the demo and keeps it (and its server) up until a line arrives on stdin, as `fieldapp
# demo` does while its app is open.
_DEMO_HELD_OPEN = (
    "import sys\n"
    "from pathlib import Path\n"
    "from fieldapp.office.demo import run_demo\n"
    "def hold(url, device_dir):\n"
    "    print(url, flush=True)\n"
    "    sys.stdin.readline()\n"
    "run_demo(Path(sys.argv[1]), say=lambda line: None, then=hold)\n"
)


def stored_revisions(server_db: Path) -> set[tuple[str, str]]:
    """(id, revision) of every revision in a server's SQLite file, opened after the server
    died (recovering its write-ahead log, if it left one)."""
    conn = sqlite3.connect(server_db)
    try:
        return {(row[0], row[1]) for row in conn.execute("SELECT id, revision FROM records")}
    finally:
        conn.close()


def test_admin_beside_a_running_demo_loses_no_receipted_record(tmp_path: Path) -> None:
    """The demo's server must not share a process with anything reading its files: closing
    any descriptor of a SQLite file drops the process's locks on it, and the admin command
    then takes itself for the last connection and deletes the live write-ahead log."""
    root = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-c", _DEMO_HELD_OPEN, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the demo and its server die together
    )
    try:
        assert demo.stdout is not None
        url = demo.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        stats = run(root / "server", "admin", "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["records"] == 6
        device = Store(root / "device" / "fieldapp.db")
        device.keyring.unlock(DEMO_PASSPHRASE)
        try:
            record = device.records.create_final("victim_screening", screening_values())
            with SyncClient(device) as client:
                report = client.sync()
            assert report.ok and report.accepted == 1, report.errors
            sent = device.records.get(record.id)
        finally:
            device.close()
        assert sent.status == "sent"
    finally:
        os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(30)
        if demo.stdout is not None:
            demo.stdout.close()
        if demo.stdin is not None:
            demo.stdin.close()
    assert (sent.id, sent.revision) in stored_revisions(root / "server" / "server.db")


def receipted(store: Store) -> set[tuple[str, str]]:
    """(id, revision) of the store's records the server sent a verified receipt for."""
    rows = store.core.db.execute(
        "SELECT id, revision FROM records WHERE status = 'sent' AND receipt IS NOT NULL"
    ).fetchall()
    return {(row[0], row[1]) for row in rows}


def _headcount_form(folder: Path, version: int) -> Path:
    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["integer", "people", "How many people"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["headcount", str(version)])
    path = folder / f"headcount-{version}.xlsx"
    book.save(path)
    return path


@pytest.mark.slow
def test_every_admin_command_beside_a_live_server_loses_no_receipted_record(
    tmp_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    deployment = Deployment.create(tmp_path / "server", org_key)
    folder = deployment.settings.data_dir
    server = ServerProcess(deployment.settings, fieldapp_cli=True)
    server.start()
    devices = [Store.create(tmp_path / f"device-{n}" / "fieldapp.db", PASSPHRASE) for n in (1, 2)]
    failures: list[str] = []
    syncing = threading.Event()

    def collect(store: Store) -> None:
        try:
            with SyncClient(store) as client:
                for _ in range(12):
                    store.records.create_final("victim_screening", screening_values())
                    report = client.sync()
                    if not report.ok:
                        failures.extend(report.errors)
                    syncing.set()
        except Exception as exc:  # handed to the test's thread, which fails on it
            failures.append(repr(exc))
            raise

    def admin(*args: str) -> str:
        done = run(folder, *args)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    try:
        for store in devices:
            code = json.loads(
                admin("admin", "enrol-code", "--org", "Field Team", "--role", "collector", "--json")
            )["code"]
            enrol(store, server.url, code)
        workers = [threading.Thread(target=collect, args=(store,)) for store in devices]
        for worker in workers:
            worker.start()
        syncing.wait(120)
        rounds = 0
        while rounds < 2 or any(worker.is_alive() for worker in workers):
            rounds += 1
            create_org(folder, f"Office {rounds}")
            extra = Store.create(tmp_path / f"extra-{rounds}" / "fieldapp.db", PASSPHRASE)
            code = json.loads(
                admin("admin", "enrol-code", "--org", "Field Team", "--role", "trainer", "--json")
            )["code"]
            enrolled = enrol(extra, server.url, code)
            extra.close()
            admin("admin", "revoke", enrolled.device_id)
            key = admin(
                "admin", "share-event", "--org", "Field Team",
                "title=Police workshop", "start_date=2026-12-08",
            ).split("\t")[0]  # fmt: skip
            admin("admin", "withdraw-event", key, "--org", "Field Team")
            record_id, revision = sorted(receipted(devices[0]))[0]
            admin("admin", "resolve", record_id, "--keep", revision, "--org", "Field Team")
            assert json.loads(admin("admin", "stats", "--json"))["records"] >= 1
            admin("forms", "import", str(_headcount_form(tmp_path, rounds)))
        for worker in workers:
            worker.join(120)
        assert failures == []
        promised = set().union(*(receipted(store) for store in devices))
    finally:
        server.kill()
        for store in devices:
            store.close()
    assert len(promised) == 24
    assert promised <= stored_revisions(folder / "server.db")
