"""Two `fieldapp serve` processes on one PostgreSQL database, devices syncing through both."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests._services import service_missing
from tests._wait import wait_until
from tests.conftest import PASSPHRASE, screening_values
from tests.test_cli import run
from tests.test_cli_server import _free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # server processes on a fresh database
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def database_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})")
    name = f"fieldapp_scale_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def _start(data: Path, database_url: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldapp", "--data-dir", str(data), "serve",
         "--port", str(port), "--database-url", database_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FIELDAPP_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"a server process exited ({process.returncode})")
        try:
            httpx.get(f"{url}/v1/health", timeout=1).raise_for_status()
        except httpx.HTTPError:
            return False
        return True

    try:
        wait_until(healthy, 30, f"a server process on port {port}", step=0.2)
    except AssertionError:
        process.kill()
        raise
    return process, url


def test_devices_sync_through_two_server_processes(tmp_path: Path, database_url: str) -> None:
    server_dir = tmp_path / "server"  # shared configuration: the key-wrapping secret
    key = tmp_path / "org.key.json"
    assert run(tmp_path, "keys", "generate", "--out", str(key), "--kem", "X25519").returncode == 0
    created = run(
        server_dir, "admin", "create-org", "National",
        "--recipient", str(tmp_path / "org.key.pub.json"), "--database-url", database_url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    processes = [_start(server_dir, database_url) for _ in range(2)]
    try:
        urls = [url for _, url in processes]
        stores: list[Store] = []
        expected: set[str] = set()
        for index in range(4):
            issued = run(
                server_dir, "admin", "enrol-code", "--org", "National", "--role", "coordinator",
                "--json", "--database-url", database_url,
            )  # fmt: skip
            store = Store.create(tmp_path / f"device{index}" / "fieldapp.db", PASSPHRASE)
            enrol(store, urls[index % 2], json.loads(issued.stdout)["code"])
            stores.append(store)
        for round_number in range(3):
            for index, store in enumerate(stores):
                for n in range(5):
                    code = f"R{round_number}-{index}-{n:03d}"
                    expected.add(
                        store.records.create_final(
                            "victim_screening", screening_values(case_code=code)
                        ).id
                    )
                # Each round goes through the other server process: one database behind both.
                url = urls[(index + round_number) % 2]
                with SyncClient(store, url) as client:
                    report = client.sync()
                assert report.ok and report.accepted == 5, report.errors
        for store in stores:
            assert store.records.count(status="sent") == 15
        stats = json.loads(
            run(server_dir, "admin", "stats", "--json", "--database-url", database_url).stdout
        )
        assert stats["records"] == len(expected) == 60
    finally:
        for process, _ in processes:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        for store in stores:
            store.close()
