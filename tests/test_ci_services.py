"""A missing service (here PostgreSQL, at a closed port) skips its tests on a developer's
machine and fails them under CI, where a skip would hide a broken setup behind a green run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pytest run again in child processes: the full run only

ROOT = Path(__file__).resolve().parents[1]
CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/test"
NEEDS_POSTGRES = (
    "tests/server/storage/test_migrations.py::test_migrations_are_recorded_and_idempotent[postgres]"
)


def run_without_postgres(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"FIELDAPP_TEST_PG_URL": CLOSED_PORT, "PYTHONPATH": str(ROOT)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", NEEDS_POSTGRES, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_ci_a_missing_postgresql_skips_saying_why() -> None:
    result = run_without_postgres(None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout and "PostgreSQL is not reachable" in result.stdout


def test_under_ci_a_missing_postgresql_fails_the_run() -> None:
    result = run_without_postgres("true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "CI=true: a missing service fails the run" in result.stdout
