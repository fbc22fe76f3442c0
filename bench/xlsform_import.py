"""Importing a large XLSForm: a form with 5,000+ choices (a country → district → village
cascade, as real registration forms carry).

    .venv/bin/python bench/xlsform_import.py [--choices 5200] [--runs 3] [--repo DIR]

Writes the workbook with openpyxl in a temporary folder, then prints the best CPU time (process
time: the least disturbed by other load on the machine) and wall time of `import_xlsform` (s)
over `--runs`, and of its parts: reading the workbook, building the FormSpec, pyxform's own
conversion (which the import runs for its checks). `--repo` imports with another checkout's
code (e.g. /work/main, to compare before/after).
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
    from fieldapp.office.xlsform.importer import Importer
    from fieldapp.office.xlsform.pyxform_checks import pyxform_problems
    from fieldapp.office.xlsform.workbook import read_workbook

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "villages.xlsx"
        write_form(path, args.choices)
        parts = {
            "import": lambda: import_xlsform(path),
            "  read": lambda: read_workbook(path),
            "  build": lambda: Importer(path, read_workbook(path)).build(None, None),
            "  pyxform": lambda: pyxform_problems(path),
        }
        spec = import_xlsform(path)
        count = sum(len(c) for c in spec.choices.values())
        print(f"{count} choices, best of {args.runs}:")
        for name, run in parts.items():
            cpu = wall = float("inf")
            for _ in range(args.runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                run()
                cpu = min(cpu, time.process_time() - started_cpu)
                wall = min(wall, time.perf_counter() - started)
            print(f"{name:10} {cpu:6.2f} s CPU {wall:6.2f} s wall")
        print("(build includes a read; pyxform here reads the file itself, as it did before)")


if __name__ == "__main__":
    main()
