"""The `fieldapp` command line, run as a real process on a real data folder."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from fieldapp.cli import build_parser
from tests.conftest import CANARY, PASSPHRASE


def run(data: Path, *args: str, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDAPP_PASSPHRASE": passphrase, "FIELDAPP_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "fieldapp", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    result = run(folder, "init")
    assert result.returncode == 0, result.stderr
    return folder


def _subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _subcommands(sub, (*path, name))
    return found


@pytest.mark.parametrize("command", _subcommands(build_parser()), ids=" ".join)
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["init", "--max-failed-unlocks", "-1"],
        ["init", "--max-failed-unlocks", "101"],
        ["serve", "--port", "0"],
        ["app", "--port", "65536"],
        ["demo", "--app-port", "-5"],
        ["records", "list", "--limit", "0"],
        ["records", "purge", "--sent-days", "-1"],
        ["records", "purge", "--sent-days", "nan"],
        ["admin", "enrol-code", "--org", "o", "--role", "admin", "--ttl-hours", "0"],
        ["admin", "enrol-code", "--org", "o", "--role", "admin", "--ttl-hours", "721"],
    ],
    ids=" ".join,
)
def test_numbers_out_of_range_are_refused_when_parsed(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`init --max-failed-unlocks -1` used to be taken: the first wrong passphrase then
    erased the key."""
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)
    assert refused.value.code == 2
    option, value = argv[-2:]
    assert f"error: argument {option}: {value} is out of range: use " in capsys.readouterr().err


def test_help_runs_as_a_module(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0 and "records" in result.stdout


def test_init_refuses_a_pin(tmp_path: Path) -> None:
    result = run(tmp_path / "d", "init", passphrase="123456")
    assert result.returncode == 1
    assert "digits" in result.stderr or "PIN" in result.stderr


def test_forms_list(data: Path) -> None:
    result = run(data, "forms", "list", "--json")
    assert result.returncode == 0
    ids = {form["id"] for form in json.loads(result.stdout)}
    assert {"training_attendance", "victim_screening"} <= ids


def test_records_import_csv_reports_every_problem_and_saves_all_rows_or_none(
    data: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "cases.csv"
    header = (
        "consent_record,consent_refer,consent_share,case_code,given_name,sex,age_band,"
        "nationality,identification_country,identified_by,screening_outcome,exploitation_types,"
        "child_protection_referral\n"
    )
    first = (
        f"yes,yes,no,KH-2026-0001,{CANARY},female,18_24,KH,TH,ngo,presumed_victim,forced_labour,\n"
    )
    last = (
        "no,no,no,KH-2026-0003,,male,0_11,VN,TH,police,identified_victim,forced_begging,referred\n"
    )
    bad = "yes,yes,no,bad code,Someone,robot,18_24,KH,TH,ngo,presumed_victim,forced_labour,\n"
    sheet.write_text(header + first + bad + last, encoding="utf-8")
    result = run(data, "records", "import", str(sheet), "--form", "victim_screening")
    assert result.returncode == 1
    assert result.stdout.startswith("nothing saved: 1 row has problems")
    errors = result.stderr.splitlines()
    assert any(line.startswith("row 3:") and "Sex" in line for line in errors)
    assert any(line.startswith("row 3:") and "Case code" in line for line in errors)
    assert not any(line.startswith(("row 2:", "row 4:")) for line in errors)
    assert json.loads(run(data, "records", "list", "--json").stdout) == []
    fixed = bad.replace("bad code", "KH-2026-0002").replace("robot", "male")
    sheet.write_text(header + first + fixed + last, encoding="utf-8")
    result = run(data, "records", "import", str(sheet), "--form", "victim_screening")
    assert (result.returncode, result.stdout) == (0, "3 rows saved as final records\n")
    listed = json.loads(run(data, "records", "list", "--json").stdout)
    assert len(listed) == 3 and {r["status"] for r in listed} == {"final"}
    assert all(CANARY not in json.dumps(r) for r in listed)
    shown = run(data, "records", "show", listed[-1]["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["values"]["given_name"] == CANARY


def test_records_import_french_messages(data: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text("case_code,sex\nAB-1234,robot\n", encoding="utf-8")
    result = run(
        data, "--lang", "fr", "records", "import", str(sheet), "--form", "victim_screening"
    )
    assert result.returncode == 1
    assert "obligatoire" in result.stderr and "ne fait pas partie des choix" in result.stderr


def test_participant_list_imports_into_an_event(data: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.csv"
    event.write_text(
        "title,programme_type,country,start_date,end_date\n"
        "Judicial training,training_technical_assistance,KH,2026-11-02,2026-11-03\n",
        encoding="utf-8",
    )
    assert (
        run(data, "records", "import", str(event), "--form", "training_attendance").returncode == 0
    )
    event_id = json.loads(run(data, "records", "list", "--json").stdout)[0]["id"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Full name", "Sex", "Profession", "pre_score", "post_score"])
    sheet.append([CANARY, "female", "judge", 40, 85])
    sheet.append(["Dara Chan", "male", "prosecutor", 55, 101])
    sheet.append(["Srey Mom", "female", "police", 60, 90])
    participants = tmp_path / "participants.xlsx"
    book.save(participants)
    command = (
        data, "records", "import", str(participants), "--form", "training_attendance",
        "--into", event_id,
    )  # fmt: skip
    result = run(*command)
    assert result.returncode == 1
    assert "nothing saved: 1 row has problems" in result.stdout
    assert "row 3:" in result.stderr and "post" in result.stderr.lower()
    shown = json.loads(run(data, "records", "show", event_id, "--json").stdout)
    assert not shown["values"].get("participants")
    sheet["E3"] = 95
    book.save(participants)
    result = run(*command)
    assert (result.returncode, result.stdout) == (0, f"3 rows saved into record {event_id}\n")
    shown = json.loads(run(data, "records", "show", event_id, "--json").stdout)
    names = [p["full_name"] for p in shown["values"]["participants"]]
    assert names == [CANARY, "Dara Chan", "Srey Mom"]


def test_unknown_columns_are_refused_not_dropped(data: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "cases.csv"
    sheet.write_text("case_code,favourite_colour\nAB-1234,blue\n", encoding="utf-8")
    result = run(data, "records", "import", str(sheet), "--form", "victim_screening")
    assert result.returncode == 1 and "unknown column 'favourite_colour'" in result.stderr


def test_keys_generate(tmp_path: Path) -> None:
    out = tmp_path / "org.key.json"
    result = run(tmp_path, "keys", "generate", "--out", str(out))
    assert result.returncode == 0, result.stderr
    public = json.loads((tmp_path / "org.key.pub.json").read_text())
    assert public["kem"] == "MLKEM768_X25519"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert run(tmp_path, "keys", "generate", "--out", str(out)).returncode == 1


def test_records_show_with_wrong_passphrase(data: Path) -> None:
    result = run(data, "records", "list", passphrase="wrong wrong wrong")
    assert result.returncode == 0  # listing needs no passphrase
    shown = run(data, "records", "show", "nope", passphrase="wrong wrong wrong")
    assert shown.returncode == 1 and "passphrase" in shown.stderr.lower()
