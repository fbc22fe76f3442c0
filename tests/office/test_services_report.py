"""`fieldapp office services` against a real server on 127.0.0.1 (the office API): shelter
stays by length and region, survivors by the services they received and month, with
adversarial data (one long stay alone in its region, one survivor alone in a month); the rare
cells and what would give them back stay hidden, whatever an attacker solves from the JSON.
The server refuses a service month that is an exact day."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy
from fieldapp.office.dashboard import DashboardFilter, DashboardRecord, build_dashboard
from tests.office._attacker import from_json
from tests.office.test_office_cli import Office
from tests.office.test_office_cli import office as office  # the shared fixture
from tests.server._harness import Phone


def _push(office: Office, phone: Phone, form: str, rows: list[dict[str, Any]]) -> None:
    envelopes = [phone.envelope(form=(form, "1"), stats=row) for row in rows]
    response = office.world.push(phone, *envelopes)
    assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}, response.json()


def _stay(band: str, month: str = "2026-03-01") -> dict[str, Any]:
    return {"service_type": "shelter", "service_month": month, "stay_band": band,
            "outcome": "completed"}  # fmt: skip


def _survivor(services: list[str], month: str) -> dict[str, Any]:
    return {"source": "screening", "identified_month": month, "status": "active",
            "services_received": services, "first_service_band": "0_7_days"}  # fmt: skip


def test_a_long_shelter_stay_alone_in_its_region_stays_hidden(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    north, south = office.collector("north"), office.collector("south")
    _push(office, north, "service_entry", [_stay("8_30_days")] * 30 + [_stay("over_90_days")])
    _push(office, south, "service_entry", [_stay("over_90_days")] * 20 + [_stay("8_30_days")] * 14)
    psychosocial = {"service_type": "psychosocial", "service_month": "2026-03-01",
                    "outcome": "completed"}  # fmt: skip
    _push(office, north, "service_entry", [psychosocial] * 40)  # not stays: left out

    assert office.run("office", "services", "--table", "shelter_stays",
                      "--by", "duration,region", "--json") == 0  # fmt: skip
    table = json.loads(capsys.readouterr().out)
    assert set(table) == {"by", "cells", "margins", "total"}
    assert table["by"] == ["stay_band", "region"] and table["total"] == 65
    cells = {(c["values"]["stay_band"], c["values"]["region"]): c for c in table["cells"]}
    assert cells[("over_90_days", "north")]["suppressed"]
    assert cells[("over_90_days", "north")]["count"] is None
    hidden = [key for key, cell in cells.items() if cell["suppressed"]]
    assert len(hidden) >= 4, hidden  # the complements: her row and her column again
    attacker = from_json([table])
    lone = frozenset({("stay_band", "over_90_days"), ("region", "north")})
    low, high = attacker.lp_range({lone: 1})
    assert high - low >= 1, "the lone stay comes back from the margins"

    assert office.run("office", "services", "--table", "shelter_stays", "--by", "duration",
                      "--json") == 0  # fmt: skip
    everyone = json.loads(capsys.readouterr().out)
    assert {c["values"]["stay_band"]: c["count"] for c in everyone["cells"]} == {
        "1_7_days": 0,
        "8_30_days": 44,
        "31_90_days": 0,
        "over_90_days": 21,
    }


def test_survivors_by_service_and_month_hide_a_lone_month(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = office.collector("north")
    rows = [_survivor(["shelter", "psychosocial"], "2026-03-01")] * 25
    rows += [_survivor(["psychosocial"], "2026-04-01")] * 20
    rows += [_survivor(["legal"], "2026-05-01")]  # alone in May
    _push(office, phone, "case", rows)

    assert office.run("office", "services", "--by", "service_type,month", "--json") == 0
    table = json.loads(capsys.readouterr().out)
    assert table["by"] == ["services_received", "identified_month"] and table["total"] == 46
    cells = {(c["values"]["services_received"], c["values"]["identified_month"]): c
             for c in table["cells"]}  # fmt: skip
    assert cells[("legal", "2026-05")]["count"] is None  # the survivor alone in May
    may = [m for m in table["margins"] if m["values"] == {"identified_month": "2026-05"}]
    assert may[0]["count"] is None
    legal = [m for m in table["margins"] if m["values"] == {"services_received": "legal"}]
    assert legal[0]["count"] is None
    attacker = from_json([table], multiple=["services_received"])
    her = frozenset({("services_received", "legal"), ("identified_month", "2026-05")})
    low, high = attacker.lp_range({her: 1})
    assert high - low >= 1, "the survivor alone in May comes back"


def test_named_mistakes_and_an_exact_day_refused(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    assert office.run("office", "services", "--table", "shelter_stays", "--by", "provider") == 1
    assert "provider is not a dimension of shelter_stays" in capsys.readouterr().err
    phone = office.collector("north")
    response = office.world.push(
        phone, phone.envelope(form=("service_entry", "1"), stats=_stay("1_7_days", "2026-03-17"))
    )
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "rejected", outcome
    assert "service_month" in json.dumps(outcome)


def test_the_dashboard_shows_survivors_and_services_with_the_lone_survivor_hidden() -> None:
    when = datetime.datetime(2026, 3, 5, 9, tzinfo=datetime.UTC)
    records = [DashboardRecord("case", "north", when, _survivor(["shelter", "psychosocial"],
                                                                "2026-03-01"))] * 30  # fmt: skip
    records.append(DashboardRecord("case", "north", when, _survivor(["legal"], "2026-03-01")))
    records += [DashboardRecord("service_entry", "north", when, _stay("8_30_days"))] * 12
    dashboard = build_dashboard(
        load_builtin_forms(), records, DashboardFilter(), policy=DisclosurePolicy()
    )
    assert {f.spec.id: f.records for f in dashboard.forms}["case"] == 31
    survivors = {bar.value: bar.count for bar in dashboard.chart("survivors_by_service").bars}
    assert survivors["legal"] is None and list(survivors.values()).count(None) >= 2, survivors
    assert [
        b.suppressed for b in dashboard.chart("survivors_by_service").bars if b.value == "legal"
    ] == [True]
    services = {bar.value: bar.count for bar in dashboard.chart("services_by_type").bars}
    assert services == {"shelter": 12}
