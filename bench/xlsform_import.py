"""Importing a large XLSForm: a form with 5,000+ choices (a country → district → village
cascade, as real registration forms carry).

    .venv/bin/python bench/xlsform_import.py [--choices 5200] [--runs 3] [--repo DIR]

Writes the workbook with openpyxl in a temporary folder, then prints the best wall time of
`import_xlsform` (s) over `--runs`, and its share spent in pyxform's own conversion (which the
import runs for its checks). `--repo` imports with another checkout's code (e.g. /work/main,
to compare before/after).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_form(path: Path, choices: int) -> None:
    from openpyxl import Workbook

    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)", "label::Français (fr)", "choice_filter"])
    survey.append(["select_one country", "country", "Country", "Pays", ""])
    survey.append(["select_one district", "district", "District", "District", "country=${country}"])
    survey.append(["select_one village", "village", "Village", "Village", "district=${district}"])
    survey.append(["text", "notes", "Notes", "Notes", ""])
    sheet = book.create_sheet("choices")
    sheet.append(
        ["list_name", "name", "label::English (en)", "label::Français (fr)", "country", "district"]
    )
    countries, districts = 20, 200
    for c in range(countries):
        sheet.append(["country", f"c{c}", f"Country {c}", f"Pays {c}", "", ""])
    for d in range(districts):
        sheet.append(
            ["district", f"d{d}", f"District {d}", f"District {d}", f"c{d % countries}", ""]
        )
    for v in range(choices - countries - districts):
        sheet.append(["village", f"v{v}", f"Village {v}", f"Village {v}", "", f"d{v % districts}"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["villages", "1"])
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choices", type=int, default=5200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from fieldapp.office.xlsform import import_xlsform
    from fieldapp.office.xlsform.pyxform_checks import pyxform_problems

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "villages.xlsx"
        write_form(path, args.choices)
        best = best_pyxform = float("inf")
        for _ in range(args.runs):
            started = time.perf_counter()
            spec = import_xlsform(path)
            best = min(best, time.perf_counter() - started)
            started = time.perf_counter()
            pyxform_problems(path)
            best_pyxform = min(best_pyxform, time.perf_counter() - started)
        count = sum(len(c) for c in spec.choices.values())
        print(
            f"{count} choices: import {best:.2f} s (best of {args.runs}), "
            f"of which pyxform's checks {best_pyxform:.2f} s"
        )


if __name__ == "__main__":
    main()
