"""Relays for the tests: `fieldapp serve --upstream URL --enrol-code CODE` as its own process
on a free loopback port (started, SIGKILLed and restarted on the same data directory), and
codes for the devices (and relays) that enrol at a relay."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx

from sync.protocol import Role
from sync.relay import RelayIdentity
from sync.server import admin
from tests._wait import wait_until
from tests.sync._harness import REPO, Deployment, free_port


class RelayProcess:
    """A relay as a child process of the real command line; its output goes to `log_path`."""

    def __init__(
        self, data_dir: Path, upstream: str, code: str, *, forward_every: float = 0.2
    ) -> None:
        self.data_dir = data_dir
        self.upstream = upstream
        self.code = code
        self.forward_every = forward_every
        self.port = free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def device_id(self) -> str:
        """The relay's device id at its upstream (once it has enrolled there)."""
        identity = RelayIdentity.load(self.data_dir)
        assert identity is not None, "the relay has not enrolled upstream"
        return identity.device_id

    def start(self, timeout: float = 60.0) -> RelayProcess:
        args = ["-m", "fieldapp", "--data-dir", str(self.data_dir), "serve"]
        args += ["--port", str(self.port), "--upstream", self.upstream]
        args += ["--enrol-code", self.code, "--forward-every", str(self.forward_every)]
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until(self._healthy, timeout, f"the relay on port {self.port}", step=0.05)
        return self

    def _healthy(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"the relay exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(self.url + "/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
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


def code_at_relay(
    centre: Deployment, relay: RelayProcess, role: Role = "collector", **options: Any
) -> str:
    """A one-time code the centre issues for a device (or a relay) enrolling at `relay`:
    `fieldapp admin enrol-code --relay ID` on the centre's data directory."""
    with admin.open_server_storage(centre.settings) as storage:
        region, key = admin.relay_for_code(storage, relay.device_id, None)
        return admin.enrol_code(
            storage, centre.org_id, role, region, server_key=key, **options
        ).code
