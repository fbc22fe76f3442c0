"""How many real-world XLSForms import: the corpus gathered from public repositories.

    .venv/bin/python bench/xlsform_corpus.py [--dir DIR] [--repo DIR] [--problems]
        [--with-synthetic-files]

For every workbook in `tests/fixtures/xlsforms_real/` (sources and licences in its
`sources.json`), and in `../shared/corpus/xlsforms` when present, prints whether pyxform
converts it, whether fieldapp imports it (`ok`: ready; `draft(N)`: imported as a draft
awaiting N data files the repository never published, as ODK Central imports it: usable and
publishable once `fieldapp forms attach` gives them; see sources.json's `attachments`), and the
features of the rows fieldapp refuses (`feature×count`). The rates count only the forms
pyxform accepts, ready and drafts apart and together.
`--repo` imports with another checkout's code (e.g. /work/main, to compare before/after).
`--with-synthetic-files` also gives each draft the smallest honest data files read from the
form (the checkout's tests/office/_data_files.py, as tests/office/test_corpus_drafts.py does)
and counts the drafts that become ready and whose first-choice submission validates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldapp.forms.spec import FormSpec

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "fixtures" / "xlsforms_real"
SHARED = REPO.parent / "shared" / "corpus" / "xlsforms"


def pyxform_ok(path: Path) -> str:
    """'' when pyxform converts the workbook, else its error (first line)."""
    from pyxform.xls2xform import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convert(xlsform=str(path), validate=False, warnings=[])
    except Exception as exc:  # pyxform raises many types
        return " ".join(str(exc).split())[:90] or type(exc).__name__
    return ""


def run_with_synthetic_files(draft: FormSpec) -> dict[str, str]:
    """What the draft does given synthesised files: `ready` and `valid` (each with a word),
    or why not."""
    from fieldapp.errors import FormError
    from tests.office._data_files import first_choice_submission, given_synthetic_files

    with tempfile.TemporaryDirectory() as folder:
        try:
            spec = given_synthetic_files(draft, Path(folder))
        except (FormError, AssertionError) as exc:  # refused, or still awaiting: the finding
            return {"refused": f"not ready ({' '.join(str(exc).split())[:80]})"}
    _, checked = first_choice_submission(spec)
    if not checked.ok:
        return {"ready": "ready", "invalid": f"refused: {checked.errors[0].path}"}
    return {"ready": "ready", "valid": "validates"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, action="append", help="workbooks to measure")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose importer runs")
    parser.add_argument("--problems", action="store_true", help="print every problem")
    parser.add_argument(
        "--with-synthetic-files",
        action="store_true",
        help="give each draft synthesised data files: how many become ready and validate",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from fieldapp.office.xlsform import XLSFormError, import_xlsform

    folders = args.dir or [d for d in (REAL, SHARED) if d.is_dir()]
    paths = sorted(p for d in folders for p in d.iterdir() if p.suffix in (".xls", ".xlsx"))
    print(f"{'form':46} {'pyxform':8} {'fieldapp':9} refusals / warnings")
    valid = imported = drafts = 0
    needs: Counter[str] = Counter()
    given: Counter[str] = Counter()  # drafts given synthesised files: ready, validated
    for path in paths:
        pyxform_error = pyxform_ok(path)
        warnings_ = []
        awaited = 0
        try:
            spec = import_xlsform(path)
            problems = []
            warnings_ = list(getattr(spec, "import_warnings", []) or [])  # older checkouts: none
            awaited = len(getattr(spec, "awaiting_files", {}) or {})
        except XLSFormError as exc:
            problems = exc.problems
        features = Counter(p.feature for p in problems)
        if not pyxform_error:
            valid += 1
            imported += not problems
            drafts += not problems and awaited > 0
            needs.update(features.keys())
        detail = pyxform_error or " ".join(f"{f}×{n}" for f, n in features.most_common())
        if not problems and warnings_:
            detail = f"{len(warnings_)} warnings"
        if not problems and awaited:
            files = ", ".join(a.file for a in spec.awaiting_files.values())
            detail = f"awaiting {files}; {detail}"
            if args.with_synthetic_files and not pyxform_error:
                outcome = run_with_synthetic_files(spec)
                given.update(outcome.keys())
                detail = f"{detail}; given synthesised files: {', '.join(outcome.values())}"
        ok = "ok" if not pyxform_error else "REFUSED"
        ours = "-" if pyxform_error else ("refused" if problems else "ok")
        ours = f"draft({awaited})" if ours == "ok" and awaited else ours
        print(f"{path.name[:46]:46} {ok:8} {ours:9} {detail}")
        if args.problems:
            for problem in problems:
                print(f"      {problem}")

    def share(count: int) -> str:
        return f"{count / valid:.0%}" if valid else "0%"

    ready = imported - drafts
    print(
        f"\n{len(paths)} forms, {valid} accepted by pyxform,"
        f" {imported} imported ({share(imported)}):"
        f" {ready} ready ({share(ready)}), {drafts} as drafts awaiting data files the repository"
        f" never published ({share(drafts)}: usable once the files are attached, as in ODK"
        f" Central), {valid - imported} refused"
    )
    if args.with_synthetic_files:
        print(
            f"given synthesised data files: {given['ready']} of {drafts} drafts ready,"
            f" {given['valid']} with a first-choice submission that validates"
        )
    print("features the refused pyxform-valid forms need (forms):")
    for feature, count in needs.most_common():
        print(f"  {feature:40} {count}")


if __name__ == "__main__":
    main()
