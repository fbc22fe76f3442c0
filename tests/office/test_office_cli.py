"""`fieldapp office export` and `fieldapp office report` on an enrolled coordinator's data
directory, against a real server on 127.0.0.1 (the office API, never its database): an XLSX
and CSV export opened and read back (sheets, columns, counts, labels), the HTCDS shape, and an
adversarial report (one 14-year-old of a rare nationality in one province) whose hidden cells
no attacker recovers from what the JSON publishes. The export's formula guard is checked on
the writer itself."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.exports import ExportedRecord, export_records
from fieldapp.office.microdata_export import export_microdata
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.storage import Organisation
from tests.conftest import PASSPHRASE, attendance_values, screening_values
from tests.office._attacker import from_json
from tests.server._harness import Phone, World, running

FORMS = load_builtin_forms()


@dataclass
class Office:
    world: World
    org: Organisation
    url: str
    data_dir: Path  # the coordinator's

    def run(self, *args: str) -> int:
        return main(["--data-dir", str(self.data_dir), *args])

    def collector(self, region: str) -> Phone:
        return self.world.enrol(self.org, "collector", region)


@pytest.fixture
def office(
    tmp_path: Path, org_key: crypto.OrgKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Office]:
    settings = ServerSettings(data_dir=tmp_path / "server", rate_limit_burst=10_000)
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        world = World(app, client, org_key)
        org = world.org("Field Team", own_form=False)
        data_dir = tmp_path / "coordinator"
        data_dir.mkdir()
        store = Store.create(data_dir / STORE_FILENAME, PASSPHRASE)
        enrol(store, url, world.issue(org.id, "coordinator").code)
        store.close()
        monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)
        yield Office(world, org, url, data_dir)


def test_an_xlsx_export_has_a_sheet_per_form_and_repeat_joined_by_key(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = Store.create(tmp_path / "phone" / STORE_FILENAME, PASSPHRASE)
    enrol(device, office.url, office.world.issue(office.org.id, "trainer", "north").code)
    trainings = [
        device.records.create_final("training_attendance", attendance_values(participants=n))
        for n in (2, 3)
    ]
    device.records.create_final("victim_screening", screening_values())
    with SyncClient(device) as client:
        assert client.sync().ok
    device.close()

    out = tmp_path / "register.xlsx"
    assert office.run("office", "export", "--form", "training_attendance",
                      "--format", "xlsx", "--out", str(out)) == 0  # fmt: skip
    assert "participants: 5 rows" in capsys.readouterr().out
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["training_attendance", "participants"]
    root = list(book["training_attendance"].iter_rows(values_only=True))
    header = list(root[0])
    assert header[:6] == ["KEY", "form_version", "region", "device_id", "received_at",
                          "review_state"]  # fmt: skip
    assert "title" not in header and "venue" not in header  # sealed: never the office's
    assert "province" in header  # statistical since version 3: a code, counted by reports
    assert "programme_type" in header and "delivery_languages" not in header[:6]
    assert len(root) == 1 + 2
    keys = {row[0] for row in root[1:]}
    assert keys == {t.id for t in trainings}
    assert {row[2] for row in root[1:]} == {"north"}
    people = list(book["participants"].iter_rows(values_only=True))
    columns = list(people[0])
    assert columns[:2] == ["PARENT_KEY", "KEY"]
    assert "full_name" not in columns and "phone" not in columns
    assert {"sex", "profession", "attendance", "attendance/day1", "attendance/day10",
            "pre_score", "post_score"} <= set(columns)  # fmt: skip
    assert len(people) == 1 + 5
    assert {row[0] for row in people[1:]} <= keys  # every PARENT_KEY is a KEY
    first = dict(zip(columns, people[1], strict=True))
    assert (first["attendance"], first["attendance/day1"], first["attendance/day3"]) == (
        "day1 day2", 1, 0,
    )  # fmt: skip
    assert first["KEY"].startswith(first["PARENT_KEY"] + "/participants[")
    book.close()

    # Labels in French, and CSV: the same tables, a file each.
    out_csv = tmp_path / "register.csv"
    assert office.run("office", "export", "--form", "training_attendance", "--format", "csv",
                      "--out", str(out_csv), "--labels", "fr") == 0  # fmt: skip
    with (tmp_path / "register-participants.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    sex_header = next(h for h in rows[0] if h not in ("PARENT_KEY", "KEY"))
    assert sex_header != "sex" and {r[sex_header] for r in rows} <= {"Femme", "Homme"}
    assert office.run("office", "export", "--form", "training_attendance", "--format", "csv",
                      "--out", str(out_csv), "--labels", "xx") == 1  # fmt: skip
    assert "labels" in capsys.readouterr().err


def test_a_trainer_device_cannot_export(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trainer_dir = tmp_path / "trainer"
    trainer_dir.mkdir()
    store = Store.create(trainer_dir / STORE_FILENAME, PASSPHRASE)
    enrol(store, office.url, office.world.issue(office.org.id, "trainer", "north").code)
    store.close()
    code = main(["--data-dir", str(trainer_dir), "office", "report", "--form",
                 "victim_screening", "--by", "sex", "--json"])  # fmt: skip
    assert code == 1
    assert "trainer" in capsys.readouterr().err


def test_an_htcds_export_uses_the_forms_mapping(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = office.collector("north")
    stats = {"sex": "female", "nationality": "KH", "exploitation_types": ["forced_labour"],
             "screening_outcome": "presumed_victim", "age_band": "25_34"}  # fmt: skip
    pushed = office.world.push(phone, phone.envelope(form=("victim_screening", "2"), stats=stats))
    assert pushed.json()["outcomes"][0]["status"] == "accepted", pushed.text
    out = tmp_path / "htcds.csv"
    assert office.run("office", "export", "--form", "victim_screening", "--format", "htcds",
                      "--out", str(out)) == 0  # fmt: skip
    with out.open(encoding="utf-8-sig") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["prs_Gender"] and row["prs_Citizenship"] == "KH"
    assert "prs_First_Name" not in row  # a sealed field: not the office's to export


def victims(phone: Phone, rows: list[dict[str, Any]]) -> list[Any]:
    return [phone.envelope(form=("victim_screening", "2"), stats=row) for row in rows]


def test_a_lone_child_of_a_rare_nationality_in_one_province_stays_hidden(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    north, south = office.collector("north"), office.collector("south")
    rows = []
    for nationality, n in (("NG", 150), ("RO", 100), ("VN", 83)):
        for i in range(n):
            band, sex = ("18_24", "25_34", "35_44")[i % 3], ("female", "male")[(i // 3) % 2]
            rows.append({"nationality": nationality, "age_band": band, "sex": sex})
    child = {"nationality": "ER", "age_band": "12_14", "sex": "female"}
    # Elsewhere, Eritreans are many: only in the north is she alone.
    elsewhere = [{"nationality": "ER", "age_band": "25_34", "sex": "male"}] * 40
    for phone, batch in ((north, [*rows, child]), (south, elsewhere)):
        response = office.world.push(phone, *victims(phone, batch))
        assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}

    assert office.run("office", "report", "--form", "victim_screening", "--by",
                      "nationality,age_band", "--region", "north", "--json") == 0  # fmt: skip
    table = json.loads(capsys.readouterr().out)
    assert set(table) == {"by", "cells", "margins", "total"}
    assert table["by"] == ["nationality", "age_band"] and table["total"] == 334
    eritrea = [e for e in [*table["cells"], *table["margins"]]
               if e["values"].get("nationality") == "ER"]  # fmt: skip
    assert eritrea and all(e["count"] is None and e["suppressed"] for e in eritrea)
    attacker = from_json([table])
    her = frozenset({("nationality", "ER"), ("age_band", "12_14")})
    low, high = attacker.lp_range({her: 1})
    assert high - low >= 1, "her cell comes back from the margins and the total"
    assert attacker.lp_range({frozenset({("nationality", "ER")}): 1})[1] >= 1

    # k is a setting: even at its smallest, 2, she stays hidden.
    assert office.run("office", "report", "--form", "victim_screening", "--by",
                      "nationality", "--region", "north", "--json", "--k", "2") == 0  # fmt: skip
    by_nationality = json.loads(capsys.readouterr().out)
    [er] = [c for c in by_nationality["cells"] if c["values"] == {"nationality": "ER"}]
    assert er["suppressed"]
    # The whole organisation: 41 Eritreans, not a small cell.
    assert office.run("office", "report", "--form", "victim_screening", "--by",
                      "nationality", "--json") == 0  # fmt: skip
    everyone = json.loads(capsys.readouterr().out)
    [er] = [c for c in everyone["cells"] if c["values"] == {"nationality": "ER"}]
    assert er == {"values": {"nationality": "ER"}, "count": 41, "suppressed": False}


def test_training_figures_are_published_as_counted_and_multiple_answers_count_once_each(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = office.collector("north")
    stats = {"programme_type": "training_technical_assistance", "country": "KH",
             "delivery_languages": ["en", "fr"]}  # fmt: skip
    envelopes = [phone.envelope(form=("training_attendance", "2"), stats=stats)]
    envelopes.append(phone.envelope(form=("training_attendance", "2"),
                                    stats={**stats, "delivery_languages": ["en"]}))  # fmt: skip
    response = office.world.push(phone, *envelopes)
    assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}, response.text
    assert office.run("office", "report", "--form", "training_attendance", "--by",
                      "delivery_languages", "--json") == 0  # fmt: skip
    table = json.loads(capsys.readouterr().out)
    counts = {c["values"]["delivery_languages"]: c["count"] for c in table["cells"]}
    assert counts["en"] == 2 and counts["fr"] == 1 and counts["es"] == 0
    assert not any(c["suppressed"] for c in table["cells"])
    assert table["total"] == 2


def test_a_cell_that_looks_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    spec = FORMS["training_attendance"].model_copy(deep=True)
    record = ExportedRecord(
        id=str(uuid.uuid4()),
        form_version="2",
        region='=HYPERLINK("http://evil.example","x")',
        device_id="+1-555",
        received_at="@SUM(A1)",
        review_state="-2+3",
        stats={"programme_type": "=cmd|' /C calc'!A0", "participants": [{"pre_score": -5}]},
    )
    out = tmp_path / "x.xlsx"
    export_records(spec, [record], out, "xlsx")
    book = openpyxl.load_workbook(out)
    sheet = book["training_attendance"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c for c in sheet[2]], strict=True))
    for column in ("region", "device_id", "received_at", "review_state", "programme_type"):
        assert row[column].data_type == "s", column  # a string, never a formula ("f")
    assert row["region"].value.startswith("=HYPERLINK")
    [score] = [c for c in book["participants"][2] if c.value == -5]
    assert score.data_type == "n"  # a negative number stays a number

    out_csv = tmp_path / "x.csv"
    export_records(spec, [record], out_csv, "csv")
    with out_csv.open(encoding="utf-8-sig") as handle:
        [written] = list(csv.DictReader(handle))
    for column in ("region", "device_id", "received_at", "review_state", "programme_type"):
        assert written[column].startswith("'"), column


def push_the_lone_child(office: Office, **answers: Any) -> tuple[Phone, list[dict[str, Any]]]:
    """333 adult victims in the north of three nationalities (every cell at least 13) and one
    14-year-old Eritrean girl in domestic servitude, alone; 40 Eritrean men in the south.
    `answers` go in every record. The north's phone, and its adults' answers."""
    north, south = office.collector("north"), office.collector("south")
    rows = [
        {"nationality": nationality, "age_band": ("18_24", "25_34", "35_44")[i % 3],
         "sex": ("female", "male")[(i // 3) % 2], "exploitation_types": ["forced_labour"],
         **answers}
        for nationality, n in (("NG", 150), ("RO", 100), ("VN", 83))
        for i in range(n)
    ]  # fmt: skip
    child = {"nationality": "ER", "age_band": "12_14", "sex": "female", "is_minor": True,
             "exploitation_types": ["domestic_servitude"], **answers}  # fmt: skip
    elsewhere = [{"nationality": "ER", "age_band": "25_34", "sex": "male",
                  "exploitation_types": ["forced_labour"], **answers}] * 40  # fmt: skip
    for phone, batch in ((north, [*rows, child]), (south, elsewhere)):
        response = office.world.push(phone, *victims(phone, batch))
        assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}
    return north, rows


def test_the_dashboard_hides_the_lone_child_in_its_json_pdf_and_xlsx_and_refuses_a_difference(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfReader

    north, rows = push_the_lone_child(office, immediate_needs=["shelter"])

    assert office.run("office", "dashboard", "--region", "north", "--form", "victim_screening",
                      "--json") == 0  # fmt: skip
    shown = json.loads(capsys.readouterr().out)
    [form] = shown["forms"]
    charts = {c["id"]: c for c in form["charts"]}
    assert charts["victims_by_sex"]["total"] == 334
    bars = {b["value"]: b for b in charts["victims_by_nationality"]["bars"]}
    assert bars["ER"] == {"value": "ER", "count": None, "suppressed": True}
    attacker = from_json(form["tables"], ["exploitation_types", "immediate_needs"])
    low, high = attacker.lp_range({frozenset({("nationality", "ER")}): 1})
    assert high - low >= 1

    pdf = tmp_path / "north.pdf"
    assert office.run("office", "dashboard", "--region", "north", "--pdf", str(pdf)) == 0
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Eritrea x" in text and "Total 334" in text
    book = tmp_path / "all.xlsx"
    assert office.run("office", "dashboard", "--xlsx", str(book)) == 0  # 40 more: no small gap
    sheet = openpyxl.load_workbook(book, read_only=True)["victim_screening"]
    cells = [v for row in sheet.iter_rows(values_only=True) for v in row]
    assert 374 in cells and 41 in cells  # the organisation's Eritreans: not a small cell
    capsys.readouterr()

    # One more victim synced late in the north: the new report would give her away.
    late = {**rows[0], "nationality": "RO"}
    office.world.push(north, *victims(north, [late]))
    assert office.run("office", "dashboard", "--region", "north", "--pdf", str(pdf)) == 1
    assert "total differs by 1" in capsys.readouterr().err
    assert (office.data_dir / "office-releases.jsonl").stat().st_mode & 0o077 == 0


def test_the_microdata_export_never_holds_the_lone_child_of_a_rare_nationality(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    north, _rows = push_the_lone_child(office, screening_outcome="presumed_victim")

    out = tmp_path / "victims.csv"
    assert office.run("office", "export", "--form", "victim_screening", "--format",
                      "microdata", "--out", str(out)) == 0  # fmt: skip
    said = capsys.readouterr().out
    with out.open(encoding="utf-8-sig") as handle:
        written = list(csv.DictReader(handle))
    qis = ["age_band", "sex", "nationality", "exploitation_types", "region"]
    assert list(written[0]) == qis  # no id, no device, no `is_minor`, no other field
    groups: dict[tuple[str, ...], int] = {}
    for row in written:
        key = tuple(row[name] for name in qis)
        groups[key] = groups.get(key, 0) + 1
    assert min(groups.values()) >= 11
    assert not any(row["age_band"] in ("12_14", "minor") for row in written)
    assert not any(row["exploitation_types"] == "domestic_servitude" for row in written)
    assert not any(row["nationality"] == "ER" and row["region"] == "north" for row in written)
    text = out.read_text(encoding="utf-8-sig")
    assert north.device_id not in text and "presumed_victim" not in text
    suppressed = 374 - len(written)
    assert suppressed >= 1 and f"{suppressed} records suppressed" in said

    # k is a setting; even at 2 she is left out or blanked past recognition.
    assert office.run("office", "export", "--form", "victim_screening", "--format",
                      "microdata", "--out", str(out), "--k", "2",
                      "--sensitive", "screening_outcome") == 0  # fmt: skip
    with out.open(encoding="utf-8-sig") as handle:
        written = list(csv.DictReader(handle))
    assert list(written[0]) == [*qis, "screening_outcome"]
    assert not any(row["age_band"] in ("12_14", "minor") for row in written)
    assert office.run("office", "export", "--form", "victim_screening", "--format",
                      "microdata", "--out", str(out), "--sensitive", "given_name") == 1  # fmt: skip
    assert "sensitive: 'given_name'" in capsys.readouterr().err
    assert office.run("office", "export", "--form", "training_attendance", "--format",
                      "microdata", "--out", str(out)) == 1  # fmt: skip
    assert "none of the micro-data's quasi-identifiers" in capsys.readouterr().err


def test_the_microdata_export_counts_a_merged_duplicate_once(tmp_path: Path) -> None:
    spec = FORMS["victim_screening"]
    row = {"nationality": "NG", "age_band": "25_34", "sex": "female",
           "exploitation_types": ["forced_labour"]}  # fmt: skip

    def record(duplicate_of: str | None = None) -> ExportedRecord:
        return ExportedRecord(str(uuid.uuid4()), "2", "north", "phone", "2026-01-01T00:00:00",
                              "received", row, duplicate_of)  # fmt: skip

    kept = [record() for _ in range(10)]
    out = tmp_path / "m.csv"
    # 10 people and one of them twice: a group of 11 rows would be a group of 10 people.
    result = export_microdata(spec, [*kept, record(kept[0].id)], out, k=11)
    assert (result.rows, result.suppressed, result.merged) == (0, 10, 1)
    result = export_microdata(spec, [*kept, record()], out, k=11)
    assert (result.rows, result.suppressed, result.merged) == (11, 0, 0)


def test_a_merged_duplicate_is_exported_with_the_record_it_was_merged_into(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = office.collector("north")
    shared = {"subject": "", "kind": "name", "digest": uuid.uuid4().hex}
    stats = {"nationality": "NG", "age_band": "25_34", "sex": "female"}
    first, second = (
        phone.envelope(form=("victim_screening", "2"), stats=stats, match=[shared])
        for _ in range(2)
    )
    other = phone.envelope(form=("victim_screening", "2"), stats=stats)
    response = office.world.push(phone, first, second, other)
    assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}
    manager = office.world.enrol(office.org, "case_manager")
    pair = "~".join(sorted((str(first.id), str(second.id))))
    merged = office.world.client.post(
        f"/v1/office/duplicates/{pair}:merge", json={"keep": str(first.id)}, headers=manager.auth
    )
    assert merged.status_code == 200, merged.text

    out = tmp_path / "victims.csv"
    assert office.run("office", "export", "--form", "victim_screening", "--format", "csv",
                      "--out", str(out)) == 0  # fmt: skip
    with out.open(encoding="utf-8-sig") as handle:
        rows = {row["KEY"]: row["duplicate_of"] for row in csv.DictReader(handle)}
    assert rows == {str(first.id): "", str(second.id): str(first.id), str(other.id): ""}

    book_path = tmp_path / "victims.xlsx"
    assert office.run("office", "export", "--form", "victim_screening", "--format", "xlsx",
                      "--out", str(book_path)) == 0  # fmt: skip
    book = openpyxl.load_workbook(book_path, read_only=True)
    sheet = list(book["victim_screening"].iter_rows(values_only=True))
    at = sheet[0].index("duplicate_of")
    assert {row[0]: row[at] for row in sheet[1:]} == {
        str(first.id): None, str(second.id): str(first.id), str(other.id): None,
    }  # fmt: skip
    book.close()
    # The report counts people: the merged one is left out.
    capsys.readouterr()
    assert office.run("office", "report", "--form", "victim_screening", "--by", "sex",
                      "--json", "--k", "2") == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["total"] == 2
