"""Issue #14 end to end on loopback: a social worker opens a case from a screening, records
three services offline (a shelter stay, two psychosocial sessions) and syncs; the real server
holds them with only coarse statistics in clear, and the services report built from what it
holds hides a rare cell and its complement."""

from __future__ import annotations

import json

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy
from fieldapp.office.services import services_report
from fieldapp.store import Store
from sync.client import SyncClient
from tests.conftest import CANARY
from tests.security.canary import scan_paths
from tests.sync._harness import Deployment
from tests.sync._victim_services import PROVIDER, WORKER, record_case_offline
from tests.test_consent import store_files


def test_a_case_and_three_services_recorded_offline_reach_the_server_sealed(
    device: Store, client: SyncClient, deployment: Deployment
) -> None:
    case_id = record_case_offline(device)
    timeline = device.cases.timeline(case_id)
    assert [s.values["service_type"] for s in timeline.services] == [
        "psychosocial",
        "psychosocial",
        "shelter",
    ]
    assert timeline.case.values["assigned_worker"] == WORKER

    report = client.sync()

    assert report.ok, report.errors
    held = {
        form: [json.loads(stats) for (stats,) in rows]
        for form in ("case", "service_entry")
        if (rows := deployment.query(
            "SELECT r.stats FROM records r JOIN record_heads h"
            " ON r.id = h.id AND r.revision = h.head_revision WHERE h.form_id = ?",
            (form,),
        ))
    }  # fmt: skip
    assert held["case"] == [
        {
            "source": "screening",
            "identified_month": "2026-03-01",
            "status": "active",
            "services_received": ["psychosocial", "shelter"],
            "first_service_band": "0_7_days",
        }
    ]
    assert sorted((s["service_type"], s.get("stay_band")) for s in held["service_entry"]) == [
        ("psychosocial", None),
        ("psychosocial", None),
        ("shelter", "31_90_days"),
    ]
    assert all(set(s) <= {"service_type", "service_month", "stay_band", "outcome"}
               for s in held["service_entry"])  # fmt: skip
    hits, scanned = scan_paths(store_files(deployment.db_path), CANARY)
    assert hits == [] and scanned > 0
    # the worker's own device still reads the whole timeline, decrypted with its key
    again = device.cases.timeline(case_id)
    assert {s.values["provider"] for s in again.services} == {PROVIDER}

    # The report from the server's statistics, with adversarial data: 30 survivors who had
    # psychosocial support only, in the same region, and our one survivor with a shelter
    # stay as well: a cell of 1 must not show, nor anything that gives it back.
    rows = [(stats, "north") for stats in held["case"]]
    rows += [({**held["case"][0], "services_received": ["psychosocial"]}, "north")] * 30
    rows += [({**held["case"][0], "services_received": ["psychosocial"]}, "south")] * 12
    spec = load_builtin_forms()["case"]
    made = services_report(
        "survivors", spec, rows, ["service_type", "region"], policy=DisclosurePolicy(k=11)
    )
    shown = made.json()[0]
    cells = {(c["values"]["services_received"], c["values"]["region"]): c for c in shown["cells"]}
    assert cells[("shelter", "north")]["suppressed"]  # the rare cell
    assert cells[("shelter", "north")]["count"] is None
    others = [key for key, cell in cells.items() if cell["suppressed"] and cell["count"] is None]
    assert len(others) >= 2, cells  # and at least one complement
    shelter = [m for m in shown["margins"] if m["values"].get("services_received") == "shelter"]
    assert shelter and shelter[0]["count"] is None  # nor the margin of one survivor
    assert shown["total"] == 43
