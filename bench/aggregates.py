"""Safe aggregates: how long counting and protecting realistic tables take.

    .venv/bin/python bench/aggregates.py [--seed 1]

Prints the time to count 100,000 victim records (nationality × age band, and exploitation
type × sex, a select_multiple), then for each table the cells, the small cells (primaries),
the cells hidden in the end, the audit rounds and the time `build_report` takes to protect it
(counting, complementary suppression and the linear-programming audit): 37 states × 12
professions × 2 sexes (training participants, protected here as if the form asked for it),
190 nationalities × 9 age bands (victims, nationalities drawn from a long-tailed
distribution), and the two linked tables nationality × age band and nationality × sex.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy, build_report
from fieldapp.office.aggregates.counting import count_tables
from tests.office._forms import grid_form

VICTIMS = load_builtin_forms()["victim_screening"]


def _long_tail(rng: random.Random, n: int, size: int) -> list[int]:
    """Category numbers 0..size-1, the first ones common and most rare (Zipf-like)."""
    weights = [1 / (i + 1) ** 1.3 for i in range(size)]
    return rng.choices(range(size), weights, k=n)


def victims(rng: random.Random, n: int) -> list[dict[str, Any]]:
    countries = [c.value for c in VICTIMS.choices["countries"]]
    rng.shuffle(countries)
    bands = [c.value for c in VICTIMS.choices["age_bands"]][:9]
    kinds = [c.value for c in VICTIMS.choices["exploitation_types"]]
    return [
        {
            "nationality": countries[i],
            "age_band": bands[min(8, int(rng.expovariate(0.5)))],
            "sex": rng.choice(("female", "female", "male", "unknown")),
            "exploitation_types": rng.sample(kinds[:6], rng.choice((1, 1, 1, 2))),
        }
        for i in _long_tail(rng, n, 190)
    ]


def _timed(label: str, make: Any) -> Any:
    start = time.perf_counter()
    result = make()
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return result


def _protect(label: str, spec: Any, rows: list[dict[str, Any]], tables: list[list[str]]) -> None:
    policy = DisclosurePolicy(published_forms=frozenset())
    start = time.perf_counter()
    report = build_report(spec, rows, tables, policy=policy)
    seconds = time.perf_counter() - start
    protection = report.protection
    assert protection is not None
    cells = len({t.table.key(i) for t in report.tables for i in t.table.indices()})
    print(
        f"{label}: {cells} cells, {len(protection.primaries)} primaries, "
        f"{len(protection.hidden)} hidden, {protection.rounds} audit rounds, {seconds:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    many = victims(rng, 100_000)
    _timed(
        "count 100,000 records by nationality × age band and exploitation type × sex",
        lambda: count_tables(
            VICTIMS, many, [["nationality", "age_band"], ["exploitation_types", "sex"]]
        ),
    )

    states = grid_form({"state": 37, "profession": 12, "sex": 2})
    participants = [
        {"state": f"state{s}", "profession": f"profession{p}", "sex": f"sex{rng.randrange(2)}"}
        for s, p in zip(_long_tail(rng, 6_000, 37), _long_tail(rng, 6_000, 12), strict=True)
    ]
    _protect(
        "37 states × 12 professions × 2 sexes, 6,000 people",
        states,
        participants,
        [["state", "profession", "sex"]],
    )
    some = victims(rng, 3_000)
    _protect(
        "190 nationalities × 9 age bands, 3,000 victims",
        VICTIMS,
        some,
        [["nationality", "age_band"]],
    )
    _protect(
        "linked: nationality × age band and nationality × sex, 3,000 victims",
        VICTIMS,
        some,
        [["nationality", "age_band"], ["nationality", "sex"]],
    )


if __name__ == "__main__":
    main()
