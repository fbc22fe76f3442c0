"""A record is on disk the moment save returns: SIGKILL right after, many times."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fieldapp.store import Store
from tests.conftest import CANARY, PASSPHRASE, screening_values

ROUNDS = int(os.environ.get("FIELDAPP_KILL_ROUNDS", "200"))

WRITER = """
import sys
from fieldapp.store import Store
sys.path.insert(0, sys.argv[2])
from tests.conftest import screening_values
store = Store(sys.argv[1])
store.keyring.unlock(sys.argv[3])
n = 0
while True:
    if n % 3 == 2:
        record = store.records.new_draft("victim_screening", {"case_code": f"DRAFT-{n}"})
    else:
        values = screening_values(case_code=f"K-{n:05d}")
        record = store.records.create_final("victim_screening", values)
    print(record.id, record.status, flush=True)
    n += 1
"""


@pytest.mark.slow
def test_sigkill_right_after_save_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fieldapp.db"
    Store.create(path, PASSPHRASE).close()
    rng = random.Random(20261128)
    acknowledged: dict[str, str] = {}
    repo = str(Path(__file__).resolve().parents[1])
    for _ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), repo, PASSPHRASE],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(rng.randint(1, 4)):
            line = child.stdout.readline()
            assert line, "the writer died before saving"
            record_id, status = line.split()
            acknowledged[record_id] = status
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store(path)
    store.keyring.unlock(PASSPHRASE)
    for record_id, status in acknowledged.items():
        record = store.records.get(record_id)
        assert record.status == status
    store.close()


def test_canary_absent_from_files_and_debug_logs(tmp_path: Path) -> None:
    """Security check 1 with DEBUG logging on, the log file inside the data folder."""
    log_file = tmp_path / "fieldapp.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        store = Store.create(tmp_path / "fieldapp.db", PASSPHRASE)
        draft = store.records.new_draft("victim_screening", {"given_name": CANARY})
        store.records.save_draft(draft.id, screening_values())
        store.records.finalise(draft.id)
        store.records.get(draft.id)
        store.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert log_file.stat().st_size > 0, "the store logs nothing at DEBUG: the check is empty"
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert CANARY.encode() not in file.read_bytes(), file
