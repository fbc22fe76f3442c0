"""A case manager's key and sealed records: unlocking the organisation's key file, opening one
victim screening sealed with ML-KEM-768 + X25519 (as devices seal them), and the bytes sealed.

    .venv/bin/python bench/case_files.py [--runs 7]

Prints the median and worst wall time of `CaseFileKey.unlock` (Argon2id at OWASP settings
unwrapping the private key from the key file's bytes) and of `CaseFileKey.open` (HPKE decap,
AES-256-GCM, zlib, JSON) on one screening (tests.conftest.screening_values with a
520-character note), and the envelope's size against its plaintext's. No server: the HTTP
fetch is the office API's, measured by bench/office_records.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import machine
from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.values import split_by_sensitivity
from tests.conftest import screening_values

PASSPHRASE = "a bench passphrase for the key file"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each (default 7)")
    runs = parser.parse_args().runs
    pair = crypto.OrgKeyPair.generate()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "org.key"
        pair.save(path, PASSPHRASE)
        key_file = path.read_bytes()
    spec = load_builtin_forms()["victim_screening"]
    _, secret = split_by_sensitivity(spec, screening_values(case_notes="A long note. " * 40))
    plaintext = crypto.canonical_json(secret)
    record_id, revision = str(uuid.uuid4()), "1-" + "a" * 32
    sealed = crypto.seal(
        plaintext, [pair.recipient], crypto.record_aad(record_id, revision, "sealed")
    )
    unlocks, opens = [], []
    for _ in range(runs):
        started = time.perf_counter()
        key = crypto.CaseFileKey.unlock(key_file, PASSPHRASE, timer=False)
        unlocks.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert key.open(record_id, revision, sealed) == secret
        opens.append(time.perf_counter() - started)
        key.close()
    print(machine())
    for name, times in (("unlock (Argon2id + unwrap)", unlocks), ("open one record", opens)):
        print(f"{name:28} median {statistics.median(times) * 1000:8.2f} ms"
              f"   worst {max(times) * 1000:8.2f} ms")  # fmt: skip
    print(f"sealed part: {len(plaintext)} bytes of JSON -> {len(sealed)} bytes sealed"
          f" (key file {len(key_file)} bytes)")  # fmt: skip


if __name__ == "__main__":
    main()
