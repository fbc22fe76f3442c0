"""The UI reaches the domain only through its services: no SQL, no HTTP, no Flet below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "fieldapp" / "ui"
BANNED_IN_UI = {"sqlite3", "sqlite_utils", "httpx"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_scan_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import httpx.x\nfrom sqlite_utils import Database\ndef f():\n import os\n")
    assert imported_roots(sample) == {"httpx", "sqlite_utils", "os"}


def _name(path: Path) -> str:
    return path.relative_to(UI).as_posix()


@pytest.mark.parametrize("path", sorted(UI.rglob("*.py")), ids=_name)
def test_ui_code_imports_no_sql_or_http(path: Path) -> None:
    assert not imported_roots(path) & BANNED_IN_UI


@pytest.mark.parametrize("path", sorted((UI / "services").rglob("*.py")), ids=_name)
def test_services_are_plain_python(path: Path) -> None:
    assert "flet" not in imported_roots(path)
