"""A referral's sealed part: what the referral form shares of one victim screening against
the whole sensitive part a record seals, side by side, sealed to the receiver's ML-KEM-768 +
X25519 key as devices do, and opened by the receiver.

    .venv/bin/python bench/referrals.py [--runs 200]

Prints the bytes of each plaintext and envelope, and the median time to build and seal one
(`referral_contents` + `crypto.seal`) and to open one (`open_referral`), beside sealing and
opening the record's whole sensitive part with the same key. No server: the two requests a
referral costs are the office API's kind, measured by bench/office_records.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import machine, print_table
from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.values import split_by_sensitivity
from sync.client import open_referral
from sync.client._referrals import referral_aad, referral_contents
from sync.protocol import Referral
from tests.conftest import screening_values


def _median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of each (default 200)")
    runs = parser.parse_args().runs
    receiver = crypto.OrgKeyPair.generate()
    spec = load_builtin_forms()["victim_screening"]
    values = screening_values(case_notes="x" * 520)
    _, sensitive = split_by_sensitivity(spec, values)
    record_plain = crypto.canonical_json(sensitive)
    referral_id, to_org = str(uuid.uuid4()), "org-b"
    referral_plain = referral_contents(values, spec.id, "Needs a lawyer for a wage claim")
    aad = referral_aad(referral_id, to_org, "legal")
    record_aad = crypto.record_aad("r", "1-" + "0" * 32, "sealed")
    referral_env = crypto.seal(referral_plain, [receiver.recipient], aad)
    record_env = crypto.seal(record_plain, [receiver.recipient], record_aad)
    now = datetime.now(UTC)
    referral = Referral(
        id=uuid.UUID(referral_id), direction="incoming", from_org="org-a", from_org_name="A",
        to_org=to_org, to_org_name="B", service="legal", status="sent", sent_at=now,
        updated_at=now, sealed=referral_env,
    )  # fmt: skip
    seal_referral = _median_ms(
        lambda: crypto.seal(referral_contents(values, spec.id, "note"), [receiver.recipient], aad),
        runs,
    )
    seal_record = _median_ms(
        lambda: crypto.seal(record_plain, [receiver.recipient], record_aad), runs
    )
    open_one = _median_ms(lambda: open_referral(receiver, referral), runs)
    open_record = _median_ms(lambda: receiver.open(record_env, record_aad), runs)
    print(machine())
    print_table(
        f"One victim screening, ML-KEM-768 + X25519, median of {runs}",
        ["what", "plaintext B", "envelope B", "seal ms", "open ms"],
        [
            ["referral (form's fields + note)", len(referral_plain), len(referral_env),
             f"{seal_referral:.2f}", f"{open_one:.2f}"],
            ["record's whole sensitive part", len(record_plain), len(record_env),
             f"{seal_record:.2f}", f"{open_record:.2f}"],
        ],
    )  # fmt: skip
    print(
        f"referral / record: plaintext {len(referral_plain) / len(record_plain):.2f},"
        f" seal {seal_referral / seal_record:.2f}, open {open_one / open_record:.2f}"
    )


if __name__ == "__main__":
    main()
