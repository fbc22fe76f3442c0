"""The data collaborative: what a member's contribution weighs and how long a release takes.

    .venv/bin/python bench/collaborative.py [--seed 1]

For 2, 5 and 10 member organisations of 1,500 identified victims each (nationalities from a
long-tailed distribution, as in bench/aggregates.py), prints the size of one sealed
contribution against the same victims as rows of statistical fields (what the hub never
gets), the time to count, sign and seal one contribution, and the time the steward's release
takes (opening every contribution, pooling, protecting the three linked tables with the
cross-member rule, the LP audit, and the differencing check against the previous release),
with the cells hidden. Side by side: the same pooled tables protected without the
cross-member rule, to show what it costs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench.aggregates import VICTIMS, victims
from fieldapp.crypto import OrgKeyPair
from fieldapp.office.aggregates import DisclosurePolicy
from fieldapp.office.aggregates.linked import link
from fieldapp.office.aggregates.protection import protect
from fieldapp.office.collaborative import (
    ALL_TABLES,
    contribution_of,
    open_contribution,
    pool_release,
    pooled_table,
    seal_contribution,
)

PER_MEMBER = 1_500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hub = OrgKeyPair.generate()
    policy = DisclosurePolicy()
    for members in (2, 5, 10):
        keys = [OrgKeyPair.generate("X25519") for _ in range(members)]
        rows = [
            [{**row, "screening_outcome": "identified_victim"} for row in victims(rng, PER_MEMBER)]
            for _ in keys
        ]
        start = time.perf_counter()
        sealed = [
            seal_contribution(contribution_of(VICTIMS, r, "2026Q3", k), hub.recipient)
            for r, k in zip(rows, keys, strict=True)
        ]
        per_member = (time.perf_counter() - start) / members
        raw = len(json.dumps(rows[0]).encode())
        start = time.perf_counter()
        opened = [
            open_contribution(hub, s, "2026Q3", k.hub_signing_key().public_key)
            for s, k in zip(sealed, keys, strict=True)
        ]
        first = pool_release(
            VICTIMS, opened, [], period="2026Q3", version=1, hub=hub, policy=policy
        )
        pool_release(
            VICTIMS, opened, [first.release], period="2026Q3", version=2, hub=hub, policy=policy
        )
        seconds = (time.perf_counter() - start) / 2
        hidden = len(first.report.protection.hidden) if first.report.protection else 0
        start = time.perf_counter()
        pooled = first.release.counts
        plain = protect(
            link([pooled_table(VICTIMS, f, pooled, "2026Q3") for f in ALL_TABLES]), policy
        )
        plain_seconds = time.perf_counter() - start
        print(
            f"{members} members × {PER_MEMBER} victims: contribution {len(sealed[0]):,} bytes "
            f"sealed (rows would be {raw:,}), {per_member:.2f} s to count+sign+seal; release "
            f"{seconds:.2f} s, {hidden} cells hidden; without the cross-member rule "
            f"{plain_seconds:.2f} s, {len(plain.hidden)} hidden"
        )


if __name__ == "__main__":
    main()
