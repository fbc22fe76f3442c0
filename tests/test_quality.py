"""House rules the code must keep: lint, types, and what the mobile app may import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = ("fastapi", "starlette", "uvicorn", "psycopg", "pyxform", "openpyxl", "xlrd", "segno")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_imports_no_server_only_package() -> None:
    """Everything `fieldapp` imports at run time must ship inside a Flet mobile build."""
    modules = sorted(
        "fieldapp." + ".".join(p.relative_to(ROOT / "fieldapp").with_suffix("").parts)
        for p in (ROOT / "fieldapp").rglob("*.py")
        if p.name not in ("__main__.py",)
    )
    modules = [m.removesuffix(".__init__") for m in modules] + ["sync", "sync.protocol"]
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
