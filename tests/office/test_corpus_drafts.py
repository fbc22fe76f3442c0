"""Every corpus form that imports as a draft (its source never published its data files) runs
once they are given: the smallest honest files, read from the form (tests/office/_data_files.py),
attached as `fieldapp forms attach` attaches them, make it ready; its selects offer their rows;
choosing the first of each (and answering what the form requires) validates, and a value the
file does not hold is refused naming the question."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.choices import visible_choices
from fieldapp.forms.expr import parse
from fieldapp.forms.lookups import choice_instances
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import XLSFormError, import_xlsform
from tests.office._data_files import (
    ROWS,
    file_lookups,
    file_selects,
    filter_pairs,
    first_choice_submission,
    given_synthetic_files,
)
from tests.test_xlsform import CORPUS

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "xlsforms_real"
WORKBOOKS = sorted(p for p in REAL.iterdir() if p.suffix in (".xls", ".xlsx"))
WORKBOOKS += sorted(CORPUS.glob("*.xls*")) if CORPUS.is_dir() else [CORPUS / "(absent)"]
NOT_IN_FILE = "not_in_the_file"


@pytest.mark.parametrize("path", WORKBOOKS, ids=lambda p: p.name)
def test_a_corpus_draft_runs_once_its_data_files_are_given(path: Path, tmp_path: Path) -> None:
    if not path.exists():
        pytest.skip(f"shared XLSForm corpus not found at {CORPUS}")
    try:
        draft = import_xlsform(path)
    except XLSFormError as exc:
        pytest.skip(f"{path.name} does not import ({len(exc.problems)} problems)")
    if not draft.awaiting_files:
        pytest.skip(f"{path.name} imports ready: no data file to give")

    spec = given_synthetic_files(draft, tmp_path / "given")  # ready: nothing awaited
    assert spec.attachments.keys() == draft.awaiting_files.keys()
    lists = set(draft.awaiting_files)
    for name in lists:
        assert [c.value for c in spec.choices[name]] == [f"{name}_{r}" for r in range(1, ROWS + 1)]

    values, checked = first_choice_submission(spec)
    assert checked.ok, [f"{e.path}: {e.message}" for e in checked.errors]
    selects = file_selects(spec, lists)
    assert selects
    chosen = [_answer(values, select.name) for select in selects]
    assert all(
        value is None or str(value).startswith(f"{s.choices}_")
        for s, value in zip(selects, chosen, strict=True)
    )
    assert any(value is not None for value in chosen)

    # every row the form's expressions read of the chosen feature (`fuel:diesel`, geometry) is
    # in the file: evaluated as validation evaluates it, relevant to this submission or not
    instances = choice_instances(spec, spec.default_language)
    env = {**values, **checked.values}
    read = {
        f.name: parse(f.calculation or "").evaluate(env, instances=instances)
        for f in file_lookups(spec, lists)
    }
    assert all(value not in (None, "") for value in read.values()), read

    for select in selects:
        answer = _answer(values, select.name)
        if answer is None:
            continue  # not relevant to this submission
        if select.choice_filter and filter_pairs(select.choice_filter):
            # the file's third row belongs to another answer (a district, another region's)
            seen = {**values, **(_holding(values, select.name) or {})}
            assert len(visible_choices(spec, select, seen)) == ROWS - 1, select.name
        wrong = _with_answer(
            values, select.name, [NOT_IN_FILE] if isinstance(answer, list) else NOT_IN_FILE
        )
        refused = [e for e in check(spec, wrong).errors if e.field == select.name]
        assert [e.code for e in refused] == ["choice"], select.name
        assert refused[0].label in refused[0].message


def _holding(values: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The answers (the form's, or a repeat instance's) holding `name`, if any."""
    if name in values:
        return values
    for value in values.values():
        if isinstance(value, list):
            for instance in value:
                if isinstance(instance, dict) and (found := _holding(instance, name)):
                    return found
    return None


def _answer(values: dict[str, Any], name: str) -> Any:
    level = _holding(values, name)
    return None if level is None else level[name]


def _with_answer(values: dict[str, Any], name: str, answer: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    level = _holding(changed, name)
    assert level is not None
    level[name] = answer
    return changed
