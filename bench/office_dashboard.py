"""The office dashboard: how long its protected figures take to count and protect, and how
big the funder report's files are, over N victims and N/10 trainings of 8 participants.

    .venv/bin/python bench/office_dashboard.py [--victims 10000]

Times `build_dashboard` (counting every chart, protecting the victims' charts together, the
audit by linear programming), then `write_pdf` and `write_xlsx`; each figure is the best of 3
runs. The records are made up (a long tail of nationalities so that cells are hidden).
"""

from __future__ import annotations

import argparse
import datetime
import random
import tempfile
import time
from pathlib import Path

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy
from fieldapp.office.dashboard import DashboardFilter, DashboardRecord, build_dashboard
from fieldapp.office.dashboard.funder_pdf import write_pdf
from fieldapp.office.dashboard.funder_xlsx import write_xlsx


def records(victims: int, rng: random.Random) -> list[DashboardRecord]:
    nationalities = ["NG", "RO", "VN", "KH", "TH", "PH", "ER", "SY", "AF", "UA", "MM", "ET"]
    weights = [40, 20, 12, 8, 6, 4, 3, 2, 2, 1, 1, 1]
    made = []
    for i in range(victims):
        day = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(i % 365)
        stats = {
            "nationality": rng.choices(nationalities, weights)[0],
            "sex": rng.choice(["female", "male"]),
            "age_band": rng.choice(["12_14", "15_17", "18_24", "25_34", "35_44", "45_59"]),
            "exploitation_types": rng.sample(["forced_labour", "sexual_exploitation",
                                              "domestic_servitude", "forced_begging"], 1),
            "immediate_needs": rng.sample(["shelter", "medical", "legal"], rng.randint(0, 2)),
        }  # fmt: skip
        made.append(DashboardRecord("victim_screening", rng.choice(["north", "south"]), day, stats))
    for i in range(victims // 10):
        people = [
            {"sex": rng.choice(["female", "male"]), "profession": rng.choice(["judge", "police"]),
             "pre_score": rng.randint(20, 60), "post_score": rng.randint(40, 90)}
            for _ in range(8)
        ]  # fmt: skip
        event = {"programme_type": "research", "country": "KH", "province": "KH-2",
                 "participants": people}  # fmt: skip
        made.append(DashboardRecord("training_attendance", "north", made[i].created_at, event))
    return made


def best(run: object, times: int = 3) -> float:
    assert callable(run)
    fastest = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--victims", type=int, default=10_000)
    args = parser.parse_args()
    forms = load_builtin_forms()
    rows = records(args.victims, random.Random(7))
    policy = DisclosurePolicy()
    dashboard = build_dashboard(forms, rows, DashboardFilter(), policy=policy)
    built = best(lambda: build_dashboard(forms, rows, DashboardFilter(), policy=policy))
    hidden = sum(b.suppressed for f in dashboard.forms for c in f.charts for b in c.bars)
    print(f"{args.victims} victims, {args.victims // 10} trainings: dashboard {built * 1000:.0f} ms"
          f" ({hidden} bars hidden)")  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        pdf, xlsx = Path(scratch) / "r.pdf", Path(scratch) / "r.xlsx"
        pdf_s = best(lambda: write_pdf(dashboard, pdf))
        xlsx_s = best(lambda: write_xlsx(dashboard, xlsx))
        print(f"PDF {pdf_s * 1000:.0f} ms, {pdf.stat().st_size:,} bytes;"
              f" XLSX {xlsx_s * 1000:.0f} ms, {xlsx.stat().st_size:,} bytes")  # fmt: skip


if __name__ == "__main__":
    main()
