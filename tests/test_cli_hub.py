"""The data collaborative from the command line: `hub init`, `serve --hub` (a real process on
loopback), `hub member-key` and `admit`, `office share`, `hub release` and `hub download`."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldapp.crypto import OrgKeyPair
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.collaborative import contribute
from sync.client import HubClient
from tests._wait import wait_until
from tests.office.test_collaborative import RARE, common_victims
from tests.test_cli import PASSPHRASE, run
from tests.test_cli_server import _free_port

SECRET = ("--passphrase-env", "FIELDAPP_PASSPHRASE")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[str]:
    made = run(tmp_path, "hub", "init", "--out-dir", str(tmp_path / "steward"), *SECRET)
    assert made.returncode == 0, made.stderr
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldapp", "--data-dir", str(tmp_path / "hub"), "serve",
         "--port", str(port), "--hub", str(tmp_path / "steward" / "hub-public.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> httpx.Response | None:
            assert process.poll() is None, "the hub exited"
            try:
                return httpx.get(f"{url}/v1/hub", timeout=1)
            except httpx.TransportError:
                return None

        assert wait_until(up, 30, "the hub", step=0.2).status_code == 200
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_a_quarter_from_consent_to_csv(tmp_path: Path, hub: str) -> None:
    steward = ("--key-file", str(tmp_path / "steward" / "hub-steward.key"))
    spec = load_builtin_forms()["victim_screening"]
    for name, rows in (("a", common_victims(200)), ("b", [*common_victims(160), RARE])):
        key_file = tmp_path / f"org-{name}.json"
        assert run(tmp_path, "keys", "generate", "--out", str(key_file)).returncode == 0
        member = run(tmp_path, "hub", "member-key", "--key-file", str(key_file), *SECRET)
        assert member.returncode == 0, member.stderr
        admitted = run(
            tmp_path, "hub", "admit", "--hub", hub, *steward, *SECRET,
            "--member-key", member.stdout.strip(), "--name", f"Org {name.upper()}",
        )  # fmt: skip
        assert admitted.returncode == 0, admitted.stderr
        shared = run(
            tmp_path, "office", "share", "--hub", hub, "--org-key", str(key_file), *SECRET,
            "--consent", "yes",
        )  # fmt: skip
        assert "sharing with" in shared.stdout, shared.stderr
        org = OrgKeyPair.load(key_file, PASSPHRASE)
        with HubClient(hub, org.hub_signing_key()) as client:
            contribute(client, spec, rows, "2026Q3", org)
    released = run(tmp_path, "hub", "release", "--hub", hub, *steward, *SECRET,
                   "--period", "2026Q3")  # fmt: skip
    assert "2026Q3 version 1: 2 members" in released.stdout, released.stderr
    out = tmp_path / "pooled.csv"
    downloaded = run(
        tmp_path, "hub", "download", "--hub", hub, "--key-file", str(tmp_path / "org-a.json"),
        *SECRET, "--period", "2026Q3", "--out", str(out),
    )  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    eritrean = [r for r in rows if "nationality=ER" in r["values"]]
    assert eritrean and all(r["count"] == "" and r["suppressed"] == "yes" for r in eritrean)
    assert any(r["values"] == "total" and r["count"] for r in rows)
    withdrawn = run(
        tmp_path, "office", "share", "--hub", hub, "--org-key", str(tmp_path / "org-b.json"),
        *SECRET, "--consent", "no",
    )  # fmt: skip
    assert "not sharing" in withdrawn.stdout, withdrawn.stderr
    again = run(
        tmp_path, "hub", "download", "--hub", hub, *steward, *SECRET, "--period", "2026Q3",
        "--out", str(out),
    )  # fmt: skip
    assert "1 member(s) counted in it have since withdrawn" in again.stdout, again.stderr
    shown = run(tmp_path, "hub", "show", "--hub", hub, *steward, *SECRET, "--period", "2026Q3")
    assert "age_band=12_14, nationality=ER: x" in shown.stdout, shown.stderr
    assert "1 member(s) counted here have since withdrawn" in shown.stdout
    bad = run(tmp_path, "hub", "release", "--hub", hub, *steward, *SECRET, "--period", "2026Q5")
    assert bad.returncode != 0 and "2026Q5" in bad.stderr
