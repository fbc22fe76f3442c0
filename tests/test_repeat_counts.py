"""A repeat counted by an answer (XLSForm `repeat_count` = `${n}`): imported, filled to that
many entries as the answer changes, and any other number refused by validation (device and
server run the same check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldapp.forms.attachments import bind
from fieldapp.forms.repeat_counts import MAX_COUNTED, evaluate, fit_counted_repeats
from fieldapp.forms.spec import RepeatSpec
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import import_form
from tests._cascade_form import write_cascade_form


def cascade(tmp_path: Path) -> Any:
    imported = import_form(write_cascade_form(tmp_path))
    return bind(imported.spec, imported.files)


def test_repeat_count_from_an_answer_imports(tmp_path: Path) -> None:
    spec = cascade(tmp_path)
    child = spec.node("child")
    assert isinstance(child, RepeatSpec) and child.count == "${n}"
    assert '"count":"${n}"' in spec.model_dump_json()


def test_the_entries_follow_the_answer(tmp_path: Path) -> None:
    spec = cascade(tmp_path)
    fit = lambda values: fit_counted_repeats(spec, values, values, evaluate)  # noqa: E731
    three = fit({"n": 3})
    assert three is not None and len(three["child"]) == 3
    assert len({c["_id"] for c in three["child"]}) == 3
    three["child"][0]["child_name"] = "Ana"
    one = fit({**three, "n": 1})
    assert one is not None and one["child"] == three["child"][:1]  # the first kept as typed
    assert fit(one) is None  # nothing to change
    assert "child" not in (fit({**one, "n": 0}) or {})
    assert fit({"n": MAX_COUNTED + 1}) is None and fit({"n": "x"}) is None


def test_validation_wants_exactly_the_answered_number(tmp_path: Path) -> None:
    spec = cascade(tmp_path)
    values = {"case_code": "C-1", "country": "ke", "province": "nairobi", "n": 2}
    kids = [{"_id": "a", "child_name": "Ana"}, {"_id": "b", "child_name": "Ben"}]
    assert check(spec, {**values, "child": kids}).ok
    wrong = check(spec, {**values, "child": kids[:1]})
    assert [(e.path, e.code) for e in wrong.errors] == [("child", "repeat_count")]
    assert wrong.errors[0].message == "Child: 2 entries are expected, as answered earlier."
    french = check(spec, {**values, "child": kids[:1]}, lang="fr")
    assert french.errors[0].message != wrong.errors[0].message
