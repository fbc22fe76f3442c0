"""The dashboard and funder report under attack: every figure about victims below k hidden in
every chart, with complementary suppression across the charts of one report, so that no hidden
bar comes back from the total the charts share, from another chart, or by differencing a
second report (the release gate). Checked with `tests/office/_attacker.py`, which reads only
what the dashboard's JSON publishes."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy, MemoryReleaseLog, ReleaseRefused
from fieldapp.office.dashboard import (
    Dashboard,
    DashboardFilter,
    DashboardRecord,
    build_dashboard,
    publish_dashboard,
)
from fieldapp.office.dashboard.funder_pdf import write_pdf
from fieldapp.office.dashboard.funder_xlsx import write_xlsx
from tests.office._attacker import Cell, from_json

FORMS = load_builtin_forms()
MULTIPLE = ("exploitation_types", "immediate_needs")
POLICY = DisclosurePolicy()


def _when(i: int) -> datetime.datetime:
    return datetime.datetime(2026, 1 + i % 3, 1 + i % 27, 9, tzinfo=datetime.UTC)


def victims(*, rare_child: bool = True) -> list[DashboardRecord]:
    """334 victims in two regions: 333 adults of three common nationalities, every one of
    them referred to shelter; and one 14-year-old girl from Eritrea in the north, the only
    Eritrean and the only child, referred to nothing."""
    records = []
    for nationality, n in (("NG", 150), ("RO", 100), ("VN", 83)):
        for i in range(n):
            stats = {
                "nationality": nationality,
                "age_band": ("18_24", "25_34", "35_44")[i % 3],
                "sex": ("female", "male")[(i // 3) % 2],
                "exploitation_types": [("sexual_exploitation", "forced_labour")[i % 2]],
                "immediate_needs": ["shelter"],
            }
            records.append(DashboardRecord("victim_screening", ("north", "south")[i % 2],
                                           _when(i), stats))  # fmt: skip
    if rare_child:
        child = {"nationality": "ER", "age_band": "12_14", "sex": "female",
                 "exploitation_types": ["domestic_servitude"]}  # fmt: skip
        records.append(DashboardRecord("victim_screening", "north", _when(5), child))
    return records


def _dashboard(records: list[DashboardRecord], **filters: Any) -> Dashboard:
    return build_dashboard(FORMS, records, DashboardFilter(**filters), policy=POLICY)


def _victim_tables(dashboard: Dashboard) -> list[dict[str, Any]]:
    (form,) = [f for f in dashboard.json()["forms"] if f["form"] == "victim_screening"]
    tables: list[dict[str, Any]] = form["tables"]
    return tables


def _bars(dashboard: Dashboard, chart: str) -> dict[Any, int | None]:
    return {bar.value: bar.count for bar in dashboard.chart(chart).bars}


def _width(tables: list[dict[str, Any]], values: dict[str, Any]) -> float:
    system = from_json(tables, MULTIPLE)
    low, high = system.lp_range({frozenset(values.items()): 1})
    return high - low


def test_the_rare_child_is_hidden_in_every_chart_and_no_chart_gives_her_back() -> None:
    dashboard = _dashboard(victims())
    nationality = _bars(dashboard, "victims_by_nationality")
    age = _bars(dashboard, "victims_by_age_band")
    exploitation = _bars(dashboard, "victims_by_exploitation")
    assert nationality["ER"] is None and age["12_14"] is None
    assert exploitation["domestic_servitude"] is None
    # Complements: another bar of each chart is hidden too, or the total gives her back.
    assert sum(v is None for v in nationality.values()) >= 2
    assert sum(v is None for v in age.values()) >= 2
    assert dashboard.chart("victims_by_sex").total == 334
    # Every chart shares the total; the attacker reads all the charts at once.
    tables = _victim_tables(dashboard)
    for values in ({"nationality": "ER"}, {"age_band": "12_14"},
                   {"exploitation_types": "domestic_servitude"}):  # fmt: skip
        assert _width(tables, values) >= 1, values
    # A hidden bar carries no figure at all, in any form.
    for chart in dashboard.forms[-1].charts:
        for bar in chart.bars:
            assert (bar.count is None) == bar.suppressed


def test_two_charts_of_one_report_that_differ_by_one_victim_hide_the_difference() -> None:
    """Victims by sex counts 334; referrals by service would count 333 at shelter: the one
    victim referred to nothing is the difference, and it stays hidden."""
    dashboard = _dashboard(victims())
    referrals = _bars(dashboard, "referrals_by_service")
    assert referrals[None] is None  # not referred: one girl
    assert referrals["shelter"] is None  # or 334 - 333 gives her back
    assert _bars(dashboard, "victims_by_sex")["female"] is not None
    tables = _victim_tables(dashboard)
    assert _width(tables, {"immediate_needs": None}) >= 1
    assert _width(tables, {"immediate_needs": "shelter"}) >= 1


def test_a_region_filter_that_makes_a_cell_small_hides_it_there_only() -> None:
    records = victims(rare_child=False)
    # 83 Vietnamese victims in the country, 5 of them in the north.
    vietnamese = [r for r in records if r.stats["nationality"] == "VN"]
    for i, record in enumerate(vietnamese):
        object.__setattr__(record, "region", "north" if i < 5 else "south")
    whole = _dashboard(records)
    north = _dashboard(records, region="north")
    assert _bars(whole, "victims_by_nationality")["VN"] == 83
    assert north.chart("victims_by_sex").total == sum(1 for r in records if r.region == "north")
    north_bars = _bars(north, "victims_by_nationality")
    assert north_bars["VN"] is None
    assert sum(v is None for v in north_bars.values()) >= 2
    assert _width(_victim_tables(north), {"nationality": "VN"}) >= 1
    for chart in north.forms[-1].charts:  # nothing under k published in the northern view
        for bar in chart.bars:
            assert bar.count is None or bar.count >= POLICY.k, (chart.id, bar)


def test_a_second_report_differing_by_one_victim_is_refused_before_it_leaves() -> None:
    log = MemoryReleaseLog()
    records = victims()
    publish_dashboard(_dashboard(records[:-1]), log)  # before the girl's record synced
    with pytest.raises(ReleaseRefused, match="total differs by 1"):
        publish_dashboard(_dashboard(records), log)
    assert [r.scope.form_id for r in log.releases()].count("victim_screening") == 1
    # The same figures again, or another form's, pass.
    publish_dashboard(_dashboard(records[:-1]), log)


def test_training_figures_are_published_as_counted() -> None:
    event = {"programme_type": "research", "country": "NG", "province": "NG-LA",
             "participants": [{"sex": "female", "profession": "prosecutor", "pre_score": 4,
                               "post_score": 7},
                              {"sex": "male", "profession": "judge"}]}  # fmt: skip
    records = [DashboardRecord("training_attendance", "north", _when(0), event)]
    dashboard = _dashboard(records, form="training_attendance")
    assert [f.spec.id for f in dashboard.forms] == ["training_attendance"]
    assert _bars(dashboard, "participants_by_profession") == {"prosecutor": 1, "judge": 1}
    assert _bars(dashboard, "participants_by_sex") == {"female": 1, "male": 1}
    assert _bars(dashboard, "trainings_by_province") == {"NG-LA": 1}
    assert _bars(dashboard, "score_change") == {"improved": 1, "not_tested": 1}


_SMALL = re.compile(r"(?<![\d<-])([1-9]|10)$")


def test_the_funder_pdf_shows_the_marker_and_no_small_count(tmp_path: Path) -> None:
    dashboard = _dashboard(victims())
    out = write_pdf(dashboard, tmp_path / "funder.pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    victims_part = text[text.index("Victims by type of exploitation") :]
    assert "\nx\n" in victims_part or " x\n" in victims_part
    assert re.search(r"Eritrea x$", victims_part, re.M)
    small = [line for line in victims_part.splitlines() if _SMALL.search(line.strip())]
    assert small == []
    assert "334" in victims_part


def test_the_aggregate_xlsx_has_a_sheet_per_form_and_no_small_count(tmp_path: Path) -> None:
    dashboard = _dashboard(victims())
    out = write_xlsx(dashboard, tmp_path / "funder.xlsx")
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == [
        "Funder report",
        "case",
        "service_entry",
        "training_attendance",
        "victim_screening",
    ]
    cells = [v for row in book["victim_screening"].iter_rows(values_only=True) for v in row]
    assert "x" in cells
    assert [v for v in cells if isinstance(v, int) and 0 < v < POLICY.k] == []
    assert 334 in cells
    book.close()


def test_a_bad_filter_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="from: 2026-02-01 is after to: 2026-01-01"):
        DashboardFilter(datetime.date(2026, 2, 1), datetime.date(2026, 1, 1))
    with pytest.raises(Exception, match="form: this device has no form 'nope'"):
        _dashboard([], form="nope")


_ = Cell  # the attacker's cell type, named for readers of _width
