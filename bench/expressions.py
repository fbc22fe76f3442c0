"""Evaluating form expressions, as validation and the app do on every answer change.

    .venv/bin/python bench/expressions.py [--repo DIR] [--runs 7]

Prints the best CPU time (process time, the least disturbed by other load) of one evaluation
(µs) of typical `relevant`, `constraint` and `calculation` expressions, parsed once (cached,
as in the app), with the answers of one record in a ChainMap (as validation builds them).
`--repo` runs the same expressions against another checkout's engine (e.g. main, to compare
before/after a change); expressions that checkout cannot parse are shown as "-". The lines
marked * use functions added by issue #13.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections import ChainMap
from pathlib import Path
from typing import Any

ANSWERS: dict[str, Any] = {
    "age": 34,
    "consent": "yes",
    "sex": "female",
    "services": ["shelter", "legal"],
    "phone": "0612345678",
    "dob": "1991-05-04",
    "country": "es",
    "members": [{"_id": f"m{n}", "mname": f"P{n}", "mage": 20 + n} for n in range(5)],
}
INSTANCES = {
    "countries": [{"name": f"c{n}", "label": f"Country {n}"} for n in range(200)]
    + [{"name": "es", "label": "Spain"}]
}
CASES: list[tuple[str, str, Any]] = [
    ("relevant", "${age} >= 18 and ${consent} = 'yes'", None),
    ("relevant", "selected(${services}, 'legal') or ${sex} = 'female'", None),
    ("constraint", ". >= 0 and . <= 120", 34),
    ("constraint", "regex(., '^0[0-9]{9}$')", "0612345678"),
    ("calculation", "int((today() - ${dob}) div 365.25)", None),
    ("calculation", "if(${age} < 18, 'child', 'adult')", None),
    ("calculation *", "sum(${mage}) div count(${members})", None),
    ("calculation *", "jr:choice-name(${country}, '${country}')", None),
    ("calculation *", "instance('countries')/root/item[name = ${country}]/label", None),
    ("relevant *", "position(..) > 1 and ../mage > 21", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    expr = importlib.import_module("fieldapp.forms.expr")
    print(f"engine: {Path(expr.__file__).resolve().parents[3]}")
    env = ChainMap(ANSWERS)
    inner = env.new_child(ANSWERS["members"][2])
    for role, source, current in CASES:
        try:
            expression = expr.parse(source)
        except expr.ExpressionError:
            print(f"{role:14} {'-':>8}   {source}")
            continue
        scope = inner if "../" in source else env
        extra = {"instances": INSTANCES} if "instance(" in source else {}
        if "choice-name" in source:
            extra = {"choice_names": {"country": {"es": "Spain"}}}
        value = expression.evaluate(scope, current=current, **extra)
        loops = 5_000
        times: list[float] = []
        for _ in range(args.runs):
            started = time.process_time()
            for _ in range(loops):
                expression.evaluate(scope, current=current, **extra)
            times.append((time.process_time() - started) / loops * 1e6)
        print(f"{role:14} {min(times):7.2f}µs  {source}  -> {value!r}")


if __name__ == "__main__":
    main()
