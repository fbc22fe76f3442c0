"""Shared pieces of the bench scripts: the records, the machine, servers they start and stop.

Every script uses the same synthetic records (`sample_records`): fictional victim screenings
and training attendance sheets from `fieldapp.office.sample_data`, about 1.2 KB each as JSON. The
servers run on 127.0.0.1 only, on a free port, and every one a script starts is stopped by it
(context managers), as are the throwaway PostgreSQL databases it creates.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if sys.path[0] != str(REPO):  # bench/sync.py would shadow the sync package
    sys.path.insert(0, str(REPO))

from fieldapp import crypto  # noqa: E402
from fieldapp.forms.builtin import load_builtin_forms  # noqa: E402
from fieldapp.office.sample_data import sample_event, sample_screening  # noqa: E402
from fieldapp.store import Store  # noqa: E402
from sync.server import admin  # noqa: E402
from sync.server.settings import ServerSettings  # noqa: E402

__all__ = [
    "PASSPHRASE",
    "REPO",
    "Deployment",
    "ServerProcess",
    "fill_store",
    "free_port",
    "machine",
    "percentile",
    "print_table",
    "sample_records",
    "temp_postgres",
    "vm_hwm_mb",
]

PASSPHRASE = "bench passphrase: fictional records only"
SCREENING, ATTENDANCE = "victim_screening", "training_attendance"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def sample_records(count: int, seed: int = 2026) -> list[tuple[str, dict[str, Any]]]:
    """`count` (form id, values): alternately a victim screening (a fifth of them a child or
    without consent) and an attendance sheet of 4-6 participants; ~1.2 KB of JSON on average."""
    rng = random.Random(seed)
    records: list[tuple[str, dict[str, Any]]] = []
    for index in range(count):
        if index % 2 == 0:
            kind = rng.random()
            values = sample_screening(
                rng, minor=kind < 0.1, consent=kind >= 0.2, code=f"KH-2026-{index:06d}"
            )
            records.append((SCREENING, values))
        else:
            records.append((ATTENDANCE, sample_event(rng, participants=rng.randint(4, 6))))
    return records


def json_size(values: dict[str, Any]) -> int:
    return len(json.dumps(values, ensure_ascii=False).encode("utf-8"))


def fill_store(
    store: Store, records: Sequence[tuple[str, dict[str, Any]]], *, say: Any = None
) -> float:
    """Finalise every record on the device (validated, encrypted, sealed, signed), 500 per
    commit; returns seconds taken (setup only)."""
    started = time.perf_counter()
    for start in range(0, len(records), 500):
        with store.batch():
            for form_id, values in records[start : start + 500]:
                store.records.create_final(form_id, values)
        if say is not None and (start // 500) % 20 == 19:
            say(f"  {start + 500} records finalised on the device")
    return time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def machine() -> str:
    """When and where: date (UTC), core count, CPU model, Python."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({model}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table, columns sized to fit (first column left, the rest right)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def temp_postgres(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped on exit, connections and all); its URL."""
    import psycopg

    name = f"fieldapp_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable(admin_url: str = PG_ADMIN_URL) -> bool:
    import psycopg

    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


class Deployment:
    """A server database with one organisation, the built-in forms published for it."""

    def __init__(self, settings: ServerSettings, org_key: crypto.OrgKeyPair) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with admin.open_server_storage(settings) as storage:
            org = admin.create_org(storage, "Bench Team", recipients=[org_key.recipient])
            for spec in load_builtin_forms().values():
                admin.publish_form(storage, spec)
        self.org_id = org.id

    def codes(self, count: int, role: str = "collector") -> list[str]:
        with admin.open_server_storage(self.settings) as storage:
            server_key = admin.server_public_key(self.settings, storage)
            return [
                admin.enrol_code(  # type: ignore[arg-type]
                    storage, self.org_id, role, server_key=server_key
                ).code
                for _ in range(count)
            ]

    def stored_revisions(self) -> list[tuple[str, str]]:
        """(record id, revision) of every record revision the server holds for the org."""
        rows = self._query("SELECT id, revision FROM records WHERE org_id = {}")
        return [(str(row[0]), str(row[1])) for row in rows]

    def stored_chunks(self) -> dict[str, int]:
        """Every attachment chunk the server holds for the org: its size by its digest (a
        chunk stored twice would be counted twice: the digest is the table's key)."""
        rows = self._query("SELECT digest, LENGTH(data) FROM attachment_chunks WHERE org_id = {}")
        found: dict[str, int] = {}
        for digest, size in rows:
            if digest in found:
                raise AssertionError(f"chunk {digest} is stored twice")
            found[str(digest)] = int(size)
        return found

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        """`sql` (`{}` for the org id's placeholder) on the server's database, read-only."""
        url = self.settings.database_url
        if url.startswith("sqlite:///"):
            import sqlite3

            conn = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
            try:
                return list(conn.execute(sql.format("?"), (self.org_id,)).fetchall())
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(url) as pg:
            return list(pg.execute(sql.format("%s"), (self.org_id,)).fetchall())


# Runs the server with full ServerSettings (the CLI exposes only a few), access log off.
_LAUNCHER = (
    "import sys\n"
    "from sync.server.serve import uvicorn_server\n"
    "from sync.server.settings import ServerSettings\n"
    "settings = ServerSettings.model_validate_json(sys.argv[1])\n"
    "uvicorn_server(settings, '127.0.0.1', int(sys.argv[2]), log_level='warning').run()\n"
)


class ServerProcess:
    """The sync server as its own process on 127.0.0.1: `fieldapp serve` itself (`cli=True`,
    the settings' data dir and database URL only) or any ServerSettings (e.g. a raised rate
    limit) through uvicorn with the access log off. A context manager: stopped on exit."""

    def __init__(self, settings: ServerSettings, *, cli: bool = False) -> None:
        self.settings = settings
        self.cli = cli
        self.port = free_port()
        self.log_path = settings.data_dir.parent / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        if self.cli:
            args = ["-m", "fieldapp", "--data-dir", str(self.settings.data_dir), "serve"]
            args += ["--port", str(self.port), "--database-url", self.settings.database_url]
        else:
            args = ["-c", _LAUNCHER, self.settings.model_dump_json(), str(self.port)]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit(f"the fieldapp server did not start: see {self.log_path}")
            time.sleep(0.1)
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        return vm_hwm_mb(self.process.pid)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
