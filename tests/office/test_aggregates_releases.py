"""The differencing gate: a release overlapping an earlier one is refused when the difference
between them describes fewer than k people, wherever in the tables it falls."""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import (
    AggregateError,
    DisclosurePolicy,
    JsonLinesReleaseLog,
    MemoryReleaseLog,
    ReleaseRefused,
    Scope,
    build_report,
    publish,
    release_of,
)
from fieldapp.office.aggregates.report import Report
from tests.office._attacker import Cell, System, from_json
from tests.office.test_aggregates_protection import TWO_TABLES, victims_with_one_rare_child

VICTIMS = load_builtin_forms()["victim_screening"]
POLICY = DisclosurePolicy()
ALL = Scope("victim_screening")


def _report(rows: list[dict[str, Any]]) -> Report:
    return build_report(VICTIMS, rows, TWO_TABLES, policy=POLICY)


def _pinned_increments(old: Report, new: Report) -> dict[Cell, int]:
    """What an attacker holding both published releases can prove about new − old, cell by
    cell, when the new one counts everyone the old one did (d ≥ 0): the cells whose
    increment is known exactly and is 0 < d < k."""
    both: System = from_json(old.json()).tagged("old").joined(from_json(new.json()).tagged("new"))
    cells = {c - {("_release", "old")} for c in [*both.known, *both.unknown]}
    cells = {c for c in cells if ("_release", "new") not in c}
    for cell in cells:
        both.at_most.append({cell | {("_release", "old")}: 1, cell | {("_release", "new")}: -1})
    pinned = {}
    for cell in cells:
        old_cell, new_cell = cell | {("_release", "old")}, cell | {("_release", "new")}
        if old_cell in both.known and new_cell in both.known:
            d = both.known[new_cell] - both.known[old_cell]
            if 0 < d < POLICY.k:
                pinned[cell] = d
            continue
        low, high = both.lp_range(
            {cell | {("_release", "new")}: 1, cell | {("_release", "old")}: -1}
        )
        if round(low) == round(high) and 0 < round(low) < POLICY.k:
            pinned[cell] = round(low)
    return pinned


def test_a_release_that_differs_by_one_victim_is_refused() -> None:
    rows = victims_with_one_rare_child()
    log = MemoryReleaseLog()
    old = _report(rows)
    publish(release_of(old, "2025-q1", ALL), log, POLICY.k)
    late = {"nationality": "NG", "age_band": "25_34", "sex": "female"}  # synced late
    new = _report([*rows, late])
    # Published side by side, the two protected reports give the late victim away.
    pinned = _pinned_increments(old, new)
    assert pinned[frozenset()] == 1
    assert pinned[frozenset({("nationality", "NG"), ("sex", "female")})] == 1
    with pytest.raises(ReleaseRefused) as refused:
        publish(release_of(new, "2025-q1-revised", ALL), log, POLICY.k)
    assert ("2025-q1", "total", 1) in refused.value.cells
    assert ("2025-q1", "age_band=25_34, nationality=NG", 1) in refused.value.cells
    assert "total differs by 1 from release '2025-q1'" in str(refused.value)
    assert [r.id for r in log.releases()] == ["2025-q1"]


def test_all_victims_and_the_police_referred_ones_differing_by_one_are_refused() -> None:
    rows = victims_with_one_rare_child()
    for row in rows:
        row["identified_by"] = "police"
    rows[0]["identified_by"] = "ngo"
    log = MemoryReleaseLog()
    publish(release_of(_report(rows), "all", ALL), log, POLICY.k)
    police = [r for r in rows if r["identified_by"] == "police"]
    scope = Scope("victim_screening", filters={"identified_by": "police"})
    with pytest.raises(ReleaseRefused, match="total differs by -1"):
        publish(release_of(_report(police), "police", scope), log, POLICY.k)


def test_a_release_whose_every_difference_is_0_or_at_least_k_passes() -> None:
    rows = victims_with_one_rare_child()
    log = MemoryReleaseLog()
    old = _report(rows)
    publish(release_of(old, "2025-q1", ALL), log, POLICY.k)
    more = [{"nationality": "NG", "age_band": "25_34", "sex": "female"} for _ in range(11)]
    new = _report(rows + more)
    publish(release_of(new, "2025-q1-revised", ALL), log, POLICY.k)
    assert [r.id for r in log.releases()] == ["2025-q1", "2025-q1-revised"]
    assert _pinned_increments(old, new) == {}


def test_a_victim_counted_in_a_new_category_is_a_difference_too() -> None:
    """The old release had no "not answered" sex: that cell was 0, not unknown."""
    rows = victims_with_one_rare_child()
    log = MemoryReleaseLog()
    publish(release_of(_report(rows), "q1", ALL), log, POLICY.k)
    with pytest.raises(ReleaseRefused) as refused:
        new = _report([*rows, {"nationality": "NG", "age_band": "25_34"}])
        publish(release_of(new, "q1-late", ALL), log, POLICY.k)
    assert ("q1", "nationality=NG, sex=(not answered)", 1) in refused.value.cells


def test_releases_of_periods_that_do_not_meet_are_not_compared() -> None:
    rows = victims_with_one_rare_child()
    log = MemoryReleaseLog()
    q1 = Scope("victim_screening", datetime.date(2025, 1, 1), datetime.date(2025, 3, 31))
    q2 = Scope("victim_screening", datetime.date(2025, 4, 1), datetime.date(2025, 6, 30))
    publish(release_of(_report(rows), "q1", q1), log, POLICY.k)
    publish(release_of(_report(rows[:-2]), "q2", q2), log, POLICY.k)
    other_region = Scope("victim_screening", filters={"region": "north"})
    north = Scope("victim_screening", filters={"region": "south"})
    assert not other_region.overlaps(north)
    assert q1.overlaps(ALL) and not q1.overlaps(q2)


def test_the_log_file_is_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "releases.jsonl"
    rows = victims_with_one_rare_child()
    publish(release_of(_report(rows), "q1", ALL), JsonLinesReleaseLog(path), POLICY.k)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened = JsonLinesReleaseLog(path)
    (release,) = reopened.releases()
    assert release.id == "q1" and release.counts == release_of(_report(rows), "q1", ALL).counts
    with pytest.raises(ReleaseRefused):
        publish(release_of(_report(rows[1:]), "q1-again", ALL), reopened, POLICY.k)
    with pytest.raises(AggregateError, match="already in the log"):
        publish(release_of(_report(rows), "q1", ALL), reopened, POLICY.k)
    path.write_text(path.read_text() + json.dumps({"id": "broken"}) + "\n")
    with pytest.raises(AggregateError, match=r"releases\.jsonl line 2: not a release"):
        list(reopened.releases())


def test_a_scope_of_another_form_is_refused() -> None:
    with pytest.raises(AggregateError, match="scope: form 'training_attendance'"):
        release_of(_report(victims_with_one_rare_child()), "x", Scope("training_attendance"))
