"""Oversized and deeply nested input to the form tooling: the XLSForm importer and the
expression language. Either a clear error (XLSFormError, ExpressionError) or a result, never
another exception. Junk workbooks and junk expression texts are fuzzed in tests/test_xlsform.py
and tests/test_expr.py; this adds what they leave out: groups and repeats nested past any
real form, very large sheets, and oversized values at evaluation time."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.forms.expr import ExpressionError, parse
from fieldapp.forms.spec import FormSpec
from fieldapp.office.xlsform import XLSFormError, import_xlsform
from tests.test_expr import ALLOWED_RESULTS, ENVS, NAMES, VALID_SOURCES
from tests.test_xlsform import write_xlsform

pytestmark = pytest.mark.slow  # fuzzing and nesting thousands deep: the full run only

HEADER = ["type", "name", "label", "relevant"]
DEEPEST = 32  # what the importer accepts; real forms nest a few levels


def nested(kinds: list[str]) -> list[list[str]]:
    """Groups/repeats opened in `kinds` order around one text field, then closed."""
    opened = [[f"begin {kind}", f"level_{i}", f"Level {i}", ""] for i, kind in enumerate(kinds)]
    closed = [[f"end {kind}", "", "", ""] for kind in reversed(kinds)]
    return [*opened, ["text", "inner", "Inner", ""], *closed]


def import_rows(folder: Path, survey: list[list[Any]]) -> FormSpec:
    return import_xlsform(write_xlsform(folder / "form.xlsx", [HEADER, *survey]))


@pytest.mark.parametrize("kind", ["group", "repeat"])
def test_the_deepest_accepted_nesting_imports(tmp_path: Path, kind: str) -> None:
    spec = import_rows(tmp_path, nested([kind] * DEEPEST))
    depth, node = 0, spec.children[0]
    while getattr(node, "children", None):
        depth, node = depth + 1, node.children[0]
    assert depth == DEEPEST


# 2,000 levels is 4,001 rows: within MAX_QUESTIONS (deeper is refused for its size first).
@pytest.mark.parametrize("depth", [DEEPEST + 1, 200, 1000, 2000])
@pytest.mark.parametrize("kind", ["group", "repeat"])
def test_nesting_past_the_limit_is_refused_at_its_row(
    tmp_path: Path, kind: str, depth: int
) -> None:
    """1000 levels used to end in a RecursionError inside FormSpec validation."""
    with pytest.raises(XLSFormError) as refused:
        import_rows(tmp_path, nested([kind] * depth))
    assert [(p.row, p.feature) for p in refused.value.problems] == [(DEEPEST + 2, "nesting")]


def test_unclosed_deep_nesting_is_refused_row_by_row(tmp_path: Path) -> None:
    survey = [["begin group", f"g{i}", "G", ""] for i in range(2000)]
    with pytest.raises(XLSFormError) as refused:
        import_rows(tmp_path, survey)
    features = {p.feature for p in refused.value.problems}
    assert features == {"nesting", "unclosed-group"}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(
        st.sampled_from(["begin group", "begin repeat", "end group", "end repeat", "text"]),
        max_size=120,
    ),
    relevant=st.sampled_from(["", "${inner} = 'x'", "(" * 300 + "1" + ")" * 300, "1" * 5000]),
)
def test_random_nesting_is_a_formspec_or_an_xlsform_error(steps: list[str], relevant: str) -> None:
    survey = [
        [step, f"n{i}" if not step.startswith("end") else "", "L", relevant]
        for i, step in enumerate(steps)
    ]
    with tempfile.TemporaryDirectory() as folder:
        try:
            spec = import_rows(Path(folder), survey)
        except XLSFormError as error:
            assert error.problems
            assert all(p.sheet and p.feature and p.message for p in error.problems)
        else:
            assert isinstance(spec, FormSpec)


def test_a_large_form_imports(tmp_path: Path) -> None:
    survey: list[list[Any]] = [["text", f"field_{i}", "x" * 300, ""] for i in range(3000)]
    survey.append(["note", "long_label", "y" * 32_000, ""])  # near Excel's cell limit
    spec = import_rows(tmp_path, survey)
    assert len(spec.children) == 3001


# --- expressions: oversized values at evaluation time -----------------------------------------

OVERSIZED_VALUES = st.one_of(
    st.sampled_from(
        [
            10**5000,  # more digits than Python will turn into text
            -(10**5000),
            2**64,
            1e308,
            -1e308,
            5e-324,
            "9" * 100_000,
            "x" * 100_000,
            "a " * 50_000,
            "2026-01-01" * 10_000,
            ["a"] * 10_000,
            [{"_id": str(i)} for i in range(5_000)],
        ]
    ),
    st.integers(min_value=10**18, max_value=10**400),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=VALID_SOURCES, env=ENVS, big=st.dictionaries(st.sampled_from(NAMES), OVERSIZED_VALUES)
)
def test_oversized_values_evaluate_or_raise_expression_error(
    source: str, env: dict[str, Any], big: dict[str, Any]
) -> None:
    try:
        value = parse(source).evaluate({**env, **big}, current=next(iter(big.values()), None))
    except ExpressionError:
        return
    assert isinstance(value, ALLOWED_RESULTS)
