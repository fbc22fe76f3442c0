"""What runs where: the import contracts, what the server and the phone load, the phone build.

The phone build is what `flet build` makes of `[tool.flet.app]` in pyproject.toml: it copies
`path` minus `exclude` (paths relative to `path`, matched exactly, directories whole; `build`
always) and runs `<module>.py` from its root as `__main__` (flet-cli's build command and
serious_python's package command, Flet 1.0). Every check starts a fresh interpreter on this
tree, so nothing an earlier test imported hides a forbidden import.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp.ui.services import Services
from sync.protocol import check_server_url
from tests._wait import wait_until
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FLET_APP: dict[str, Any] = PYPROJECT["tool"]["flet"]["app"]
APP_ROOT = (ROOT / FLET_APP["path"]).resolve()
ENTRY_MODULE = Path(FLET_APP["module"]).stem  # flet build takes the stem, as a file at the root

SERVER_ONLY_PACKAGES = ("fastapi", "starlette", "uvicorn", "psycopg", "pyxform", "openpyxl")
SERVER_ONLY_PACKAGES += ("xlrd", "segno", "fpdf")
LAPTOP_AND_SERVER_CODE = (
    "fieldapp.office", "fieldapp.cli", "fieldapp.__main__", "sync.server", "sync.relay",
)  # fmt: skip


def _python(code: str, *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`code` in a new interpreter that finds this tree first (an editable install of the
    project may point at another checkout)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _contract(contract_id: str) -> dict[str, Any]:
    contracts: list[dict[str, Any]] = PYPROJECT["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == contract_id)


def _is_within(module: str, packages: tuple[str, ...] | list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _shipped_files(directory: Path = APP_ROOT) -> Iterator[Path]:
    excluded = {"build", *FLET_APP["exclude"]}
    for entry in sorted(directory.iterdir()):
        if entry.relative_to(APP_ROOT).as_posix() in excluded:
            continue
        if entry.is_dir():
            yield from _shipped_files(entry)
        elif entry.is_file():
            yield entry


def shipped_modules() -> list[str]:
    """The Python modules the phone build ships, by their import names."""
    modules = []
    for path in _shipped_files():
        if path.suffix == ".py":
            parts = path.relative_to(APP_ROOT).with_suffix("").parts
            modules.append(".".join(parts).removesuffix(".__init__"))
    return sorted(modules)


def test_import_contracts_are_kept() -> None:
    """`lint-imports` over [tool.importlinter] (see pyproject.toml); a broken contract names
    the import chain that breaks it."""
    result = _python(
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports('pyproject.toml', no_cache=True, no_logo=True))\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_server_loads_neither_the_device_store_nor_the_http_client() -> None:
    result = _python(
        "import sys, sync.server.app\n"
        "print(sorted(m for m in ('fieldapp.store', 'httpx', 'sqlite_utils', 'flet',"
        " 'sync.client') if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_phone_entry_module_loads_no_server_or_office_package() -> None:
    result = _python(
        f"import sys, {ENTRY_MODULE}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY_PACKAGES!r}"
        f" or any(m == p or m.startswith(p + '.') for p in {LAPTOP_AND_SERVER_CODE!r})))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_office_tools_and_cli_load_fpdf_only_to_write_a_pdf() -> None:
    result = _python(
        "import sys, fieldapp.cli, fieldapp.office.dashboard, fieldapp.cli.office_dashboard\n"
        "print('fpdf' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_phone_build_ships_the_app_and_no_laptop_or_server_code() -> None:
    modules = shipped_modules()
    assert (APP_ROOT / f"{ENTRY_MODULE}.py").is_file()
    assert ENTRY_MODULE in modules
    strays = [m for m in modules if m != ENTRY_MODULE and not _is_within(m, ["fieldapp", "sync"])]
    assert strays == [], f"{strays} would ship in the phone build: exclude them in [tool.flet.app]"
    assert [m for m in modules if _is_within(m, LAPTOP_AND_SERVER_CODE)] == []
    for needed in ("fieldapp.ui.app", "fieldapp.store", "sync.client", "sync.protocol"):
        assert needed in modules
    # What ships is what the phone-build import contract guards.
    guarded = _contract("phone-build")["source_modules"]
    unguarded = [m for m in modules if m not in (ENTRY_MODULE, "fieldapp", "sync")]
    assert [m for m in unguarded if not _is_within(m, guarded)] == []


def test_every_shipped_module_imports_without_laptop_or_server_code() -> None:
    """Each module the build ships, imported in turn in one fresh interpreter: what each
    one pulls in first is charged to it. The entry module starts nothing when imported."""
    modules = shipped_modules()
    result = _python(
        "import importlib, json, sys\n"
        f"server_only, code = {SERVER_ONLY_PACKAGES!r}, {LAPTOP_AND_SERVER_CODE!r}\n"
        "def forbidden():\n"
        "    return {m for m in sys.modules if m.split('.')[0] in server_only\n"
        "            or any(m == p or m.startswith(p + '.') for p in code)}\n"
        "charged, seen = {}, forbidden()\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    new = forbidden() - seen\n"
        "    if new:\n"
        "        charged[name] = sorted(new)\n"
        "        seen |= new\n"
        "print(json.dumps(charged))\n"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://Sync.Example.ORG/Path/",
        "https://sync.example.org:443/",
        "https://sync.example.org:8443/sync/",
        "http://LOCALHOST:80",
        "http://[::1]:8765/",
        "https://exämple.org/x",
        "  https://a.org/p?q=1  ",
        "https://user@a.org",
    ],
)
def test_the_protocols_url_rule_gives_the_address_the_http_client_would(url: str) -> None:
    """The rule moved below the client, away from httpx; devices stored what httpx made of
    an address, so an enrolment again with the same address must find the same text."""
    assert check_server_url(url) == str(httpx.URL(url.strip())).rstrip("/")


def test_a_protocol_error_in_the_cli_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDAPP_DATA_DIR": str(tmp_path)}
    env["FIELDAPP_PASSPHRASE"] = PASSPHRASE
    fieldapp = [sys.executable, "-m", "fieldapp"]
    subprocess.run([*fieldapp, "init"], env=env, capture_output=True, check=True)
    enrol = [*fieldapp, "enrol", "--server", "http://sync.example.org", "--code", "ABCDEFGH"]
    result = subprocess.run(enrol, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: http://sync.example.org would send records")


def test_a_stored_server_address_the_rule_refuses_stops_sync_not_the_app(tmp_path: Path) -> None:
    """InsecureServerURL is a protocol error now, no longer a SyncError: the UI's gateway
    still treats it as one when it starts the sync client."""
    services = Services(tmp_path / "device")
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.store.settings.set("server_url", "http://192.0.2.10:8000")
    services.device.store.settings.set("server_public_key", "AAAA")
    services.device.store.settings.set("server_key_id", "k1")
    try:
        outcome = services.sync.sync_now()
    finally:
        services.close()
    assert (outcome.ok, outcome.message_key) == (False, "not_enrolled")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_entry_module_starts_the_app(tmp_path: Path) -> None:
    """`python main.py` as the build runs it, served as the web app here (the bundled Flet
    web client, no CDN) on a free port with its own data folder: the page answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {
        "PYTHONPATH": str(APP_ROOT),
        "FIELDAPP_DATA_DIR": str(tmp_path / "data"),
        "FLET_FORCE_WEB_SERVER": "1",  # Flet's own switch: a web server, never a window
        "FLET_SERVER_PORT": str(port),
    }
    log = tmp_path / "app.log"
    with log.open("wb") as out:
        app = subprocess.Popen(
            [sys.executable, str(APP_ROOT / f"{ENTRY_MODULE}.py")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        page = _first_page(app, f"http://127.0.0.1:{port}/", log)
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(10)
    assert b"flet.noCdn=true;" in page  # the Flet web client, served from the package
    assert (tmp_path / "data").is_dir()


def _first_page(app: subprocess.Popen[bytes], url: str, log: Path) -> bytes:
    def page() -> bytes | None:
        if app.poll() is not None:
            raise RuntimeError(f"the app exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
                body: bytes = response.read()
                return body
        except (urllib.error.URLError, ConnectionError):
            return None

    try:
        return wait_until(page, 60, f"a page at {url}", step=0.2)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}: {log.read_text()[-2000:]}") from None
