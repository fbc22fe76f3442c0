"""Real servers and real faults for the sync client tests (and bench/sync.py).

- `ServerProcess`: the sync server as its own uvicorn process on 127.0.0.1 (SQLite in a data
  dir), started, SIGKILLed and restarted on the same port and database.
- `FaultProxy`: a loopback TCP proxy that cuts connections before a request reaches the
  server, after the server got it but before its answer, or in the middle of the answer.
- `Deployment`: an organisation with the built-in forms published and enrolment codes.
- `Rewriting`: real HTTP with hooks that see (and may rewrite) each request or push answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import httpx

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from sync.protocol import Role
from sync.server import admin
from sync.server.admin import IssuedCode
from sync.server.settings import ServerSettings
from tests._wait import wait_until

REPO = Path(__file__).resolve().parents[2]

# Runs the server with any ServerSettings (the `python -m sync.server` CLI exposes only a few).
_LAUNCHER = (
    "import sys\n"
    "from sync.server.serve import serve\n"
    "from sync.server.settings import ServerSettings\n"
    "serve(ServerSettings.model_validate_json(sys.argv[1]), '127.0.0.1', int(sys.argv[2]))\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """The server as a child process: `python -m sync.server` (`module_cli`), `fieldapp serve`
    (`fieldapp_cli`), else a launcher taking any settings; its output goes to `log_path`."""

    def __init__(
        self,
        settings: ServerSettings,
        port: int | None = None,
        *,
        module_cli: bool = False,
        fieldapp_cli: bool = False,
        log_path: Path | None = None,
        cli_args: tuple[str, ...] = (),
    ) -> None:
        """`cli_args`: more options of `fieldapp serve` (with `fieldapp_cli`)."""
        self.settings = settings
        self.cli_args = cli_args
        self.port = port or free_port()
        self.module_cli = module_cli
        self.fieldapp_cli = fieldapp_cli
        self.log_path = log_path or settings.data_dir.parent / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.module_cli:
            args = ["-m", "sync.server", "--data-dir", str(self.settings.data_dir)]
            args += ["--port", str(self.port), "--database-url", self.settings.database_url]
        elif self.fieldapp_cli:
            args = ["-m", "fieldapp", "--data-dir", str(self.settings.data_dir), "serve"]
            args += ["--port", str(self.port), "--database-url", self.settings.database_url]
            args += self.cli_args
        else:
            args = ["-c", _LAUNCHER, self.settings.model_dump_json(), str(self.port)]
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until(self._healthy, timeout, f"the server on port {self.port}", step=0.05)

    def _healthy(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"the server exited: see {self.log_path}")
        try:
            return httpx.get(self.url + "/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, whatever the server was doing."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._closed()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._closed()

    def _closed(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Deployment:
    """A server data dir with one organisation, the built-in forms published for all."""

    settings: ServerSettings
    org_id: str

    @classmethod
    def create(cls, data_dir: Path, org_key: crypto.OrgKeyPair, **settings: Any) -> Deployment:
        server_settings = ServerSettings(data_dir=data_dir, **settings)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with admin.open_server_storage(server_settings) as storage:
            org = admin.create_org(storage, "Field Team", recipients=[org_key.recipient])
            for spec in load_builtin_forms().values():
                admin.publish_form(storage, spec)
        return cls(server_settings, org.id)

    def code(self, role: Literal["collector", "coordinator"] = "collector") -> str:
        return self.issue(role).code

    def issue(
        self, role: Role = "collector", region: str | None = None, **options: Any
    ) -> IssuedCode:
        """A one-time code, as `fieldapp admin enrol-code` issues it on this data dir."""
        with admin.open_server_storage(self.settings) as storage:
            server_key = admin.server_public_key(self.settings, storage)
            return admin.enrol_code(
                storage, self.org_id, role, region, server_key=server_key, **options
            )

    @property
    def db_path(self) -> Path:
        return self.settings.data_dir / "server.db"

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the server's SQLite database directly (a separate, read-only connection)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


class Rewriting(httpx.BaseTransport):
    """A real HTTP transport with a hook that may rewrite each request (or only look at it)
    or push answer, as a hostile or older server in between would. It sits under the sync
    client's retries, so a hook sees every attempt."""

    def __init__(
        self,
        on_request: Callable[[httpx.Request], httpx.Request] = lambda request: request,
        on_answer: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._inner = httpx.HTTPTransport()
        self._on_request = on_request
        self._on_answer = on_answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(self._on_request(request))
        if self._on_answer is None or not request.url.path.endswith("records:push"):
            return response
        body = json.loads(response.read())
        self._on_answer(body)
        return httpx.Response(response.status_code, json=body)

    def close(self) -> None:
        self._inner.close()


Fault = Literal["pass", "before_request", "mid_request", "after_request", "mid_response"]
FAULTS: tuple[Fault, ...] = ("before_request", "after_request", "mid_response")
# With a request cut halfway through its first bytes too (a chunk upload cut mid-body).
MID_TRANSFER_FAULTS: tuple[Fault, ...] = (*FAULTS, "mid_request")


class FaultProxy:
    """Forwards 127.0.0.1:port to the upstream port, cutting a share of the exchanges.

    Each request (the first bytes a client sends after an answer) draws its fate: pass, or
    cut before forwarding it, after forwarding it but before any answer byte, or after half
    of the answer's first chunk; with `faults` holding `mid_request`, also after half of the
    request's first bytes (its headers and the start of its body). Keep-alive connections
    draw again for every request.
    """

    def __init__(
        self,
        upstream_port: int,
        rng: random.Random,
        fault_rate: float,
        faults: tuple[Fault, ...] = FAULTS,
    ) -> None:
        self.upstream_port = upstream_port
        self.rng = rng
        self.fault_rate = fault_rate
        self.faults = faults
        self.cuts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _draw(self) -> Fault:
        with self._lock:
            if self.rng.random() >= self.fault_rate:
                return "pass"
            return self.rng.choice(self.faults)

    def _budget(self) -> int:
        """How many bytes of a `mid_request` request get through: up to a chunk upload's."""
        with self._lock:
            return self.rng.randrange(1, 300_000)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        except OSError:
            client.close()  # the server is down: so is the proxy, as far as the client knows
            return
        state: dict[str, Any] = {"fate": "pass", "answering": True, "budget": 0}

        def cut() -> None:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

        def requests() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    if state["answering"]:  # a new request starts
                        state["answering"] = False
                        state["fate"] = self._draw()
                        if state["fate"] == "before_request":
                            self._count("before_request")
                            cut()
                            return
                        if state["fate"] == "mid_request":
                            state["budget"] = self._budget()
                    if state["fate"] == "mid_request":
                        if len(data) >= state["budget"]:
                            self._count("mid_request")
                            upstream.sendall(data[: state["budget"]])
                            cut()
                            return
                        state["budget"] -= len(data)
                    upstream.sendall(data)
            cut()

        def answers() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    if not state["answering"]:  # the first bytes of an answer
                        state["answering"] = True
                        if state["fate"] in ("after_request", "mid_request"):
                            self._count(str(state["fate"]))
                            cut()
                            return
                        if state["fate"] == "mid_response":
                            self._count("mid_response")
                            client.sendall(data[: max(1, len(data) // 2)])
                            cut()
                            return
                    client.sendall(data)
            cut()

        threading.Thread(target=requests, daemon=True).start()
        answers()

    def _count(self, fault: str) -> None:
        with self._lock:
            self.cuts[fault] += 1

    def close(self) -> None:
        self._stopping = True
        self._listener.close()


def run_client_process(
    store_path: Path, passphrase: str, url: str, *, max_batch_bytes: int
) -> subprocess.Popen[bytes]:
    """A separate process that opens the store and runs one sync (see _sync_process.py)."""
    script = Path(__file__).with_name("_sync_process.py")
    return subprocess.Popen(
        [sys.executable, str(script), str(store_path), url, str(max_batch_bytes)],
        cwd=REPO,
        env={**os.environ, "FIELDAPP_TEST_PASSPHRASE": passphrase},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def report_of(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=120)
    lines = out.decode("utf-8", "replace").strip().splitlines()
    assert lines, "the client process printed nothing"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def server_records(deployment: Deployment) -> Iterator[tuple[str, str, str]]:
    """(id, revision, status) of every stored revision on the server."""
    for row in deployment.query("SELECT id, revision, status FROM records"):
        yield row[0], row[1], row[2]
