"""Hostile spreadsheets, refused before they cost time or memory (fieldapp.office.spreadsheets).

    .venv/bin/python bench/hostile_files.py

Builds each file first (not timed), then imports it in a fresh process, as `fieldapp forms
import` and `fieldapp records import` do, and prints the wall time to the refusal and the
process's peak resident memory (VmHWM), next to its memory with the modules loaded and
nothing imported yet. The cases: a zip bomb, a valid 6 MB .xlsx whose survey sheet inflates
to 2 GiB of rows (tests/_hostile.py), as a form and as a participant list (the importer used
to parse it for minutes, its memory growing by gigabytes); a form of 100,000 questions (52 s
and 808 MB to import it); and a CSV whose seventh row holds a 200 KiB cell (a traceback after
the rows before it were saved). Targets: the bomb refused under 2 s and 200 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import machine, print_table, vm_hwm_mb
from tests._hostile import GIB, write_form, write_zip_bomb
from tests.conftest import PASSPHRASE

CASES = {
    "bomb-form": ("zip bomb .xlsx, 2 GiB inflated: forms import", "bomb.xlsx"),
    "bomb-records": ("zip bomb .xlsx, 2 GiB inflated: records import", "bomb.xlsx"),
    "questions": ("form of 100,000 questions: forms import", "questions.xlsx"),
    "csv-cell": ("CSV, 200 KiB cell in row 7: records import", "cell.csv"),
}


def build(folder: Path) -> None:
    write_zip_bomb(folder / "bomb.xlsx", 2 * GIB)
    write_form(folder / "questions.xlsx", 100_000)
    with (folder / "cell.csv").open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(["case_code", "given_name", "sex"])
        for number in range(5):
            rows.writerow([f"KH-2026-{number:04d}", f"Person {number}", "female"])
        rows.writerow(["KH-2026-0005", "z" * 200 * 1024, "female"])


def run_case(case: str, path: Path) -> None:
    """In the child process: import `path`, print what it cost as one JSON line."""
    from fieldapp.errors import FieldappError
    from fieldapp.office.records_io import import_records
    from fieldapp.office.xlsform import import_xlsform
    from fieldapp.store import Store

    store = None
    if case in ("bomb-records", "csv-cell"):
        store = Store.create(path.parent / f"{case}.db", PASSPHRASE)
    loaded = vm_hwm_mb()
    started = time.perf_counter()
    try:
        if store is None:
            import_xlsform(path)
        else:
            import_records(store, "victim_screening", path)
        outcome = "imported"
    except FieldappError as error:
        outcome = f"refused: {str(error).splitlines()[0]}"
    seconds = time.perf_counter() - started
    saved = store.records.count() if store is not None else 0
    print(json.dumps({"seconds": seconds, "loaded": loaded, "peak": vm_hwm_mb(), "saved": saved,
                      "outcome": outcome}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.file)
        return
    print(machine())
    rows = []
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder))
        for case, (title, name) in CASES.items():
            child = subprocess.run(
                [sys.executable, __file__, "--case", case, "--file", str(Path(folder) / name)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(child.stdout.splitlines()[-1])
            rows.append([
                title, f"{result['seconds']:.2f}", f"{result['loaded']:.0f}",
                f"{result['peak']:.0f}", result["saved"],
            ])  # fmt: skip
            outcomes.append(f"{title}: {result['outcome']}")
    print_table(
        "Hostile spreadsheets (each in a fresh process)",
        ["file and command", "seconds", "MB loaded", "MB peak", "rows saved"],
        rows,
    )
    print()
    print("\n".join(outcomes))


if __name__ == "__main__":
    main()
