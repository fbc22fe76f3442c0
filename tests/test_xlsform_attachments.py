"""Files an XLSForm reads (select_one_from_file, pulldata): found where the person said
(`--attach`) or beside the form, checked at import with the file and column named, and
carried by the form version as content-addressed references."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldapp.forms.attachments import MissingFormFile, bind
from fieldapp.forms.choices import visible_choices
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import XLSFormError, import_form
from tests._cascade_form import PROVINCES_CSV, write_cascade_form
from tests.test_xlsform import write_xlsform


def problems_of(path: Path, attach: list[Path] | None = None) -> list[str]:
    with pytest.raises(XLSFormError) as caught:
        import_form(path, attach=attach or [])
    return [str(p) for p in caught.value.problems]


def test_the_file_beside_the_form_is_attached_and_fills_the_list(tmp_path: Path) -> None:
    imported = import_form(write_cascade_form(tmp_path, repeat_count=False))
    ref = imported.spec.attachments["provinces"]
    digest = hashlib.sha256(PROVINCES_CSV.encode()).hexdigest()
    assert (ref.file, ref.sha256, ref.size) == ("provinces.csv", digest, len(PROVINCES_CSV))
    assert imported.files == {digest: PROVINCES_CSV.encode()}
    assert imported.found_beside == ["provinces.csv"]
    # the spec names the file; the rows are not copied into it
    assert "Nairobi" not in imported.spec.model_dump_json()
    spec = bind(imported.spec, imported.files)
    province = spec.node("province")
    assert [c.value for c in visible_choices(spec, province, {"country": "ug"})] == [  # type: ignore[arg-type]
        "kampala",
        "gulu",
    ]
    assert spec.choice_label("provinces", "gulu", "fr") == "Gulu"
    values = {"case_code": "C1", "country": "ke", "province": "kampala", "n": 0, "child": []}
    result = check(spec, values)
    assert [(e.field, e.code) for e in result.errors] == [("province", "choice")]
    good = check(spec, {**values, "province": "mombasa"})
    assert good.ok and good.values["capital"] == "Mombasa Island"  # pulldata from the file
    with pytest.raises(MissingFormFile, match=r"provinces\.csv"):
        bind(imported.spec, {})


def test_an_attached_file_wins_over_one_beside_the_form(tmp_path: Path) -> None:
    form = write_cascade_form(tmp_path / "form", repeat_count=False)
    given = tmp_path / "given" / "provinces.csv"
    given.parent.mkdir()
    given.write_text("name,label,country\nx,X,ke\n")
    imported = import_form(form, attach=[given])
    assert imported.found_beside == []
    assert list(imported.files.values()) == [given.read_bytes()]


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("id,label,country\na,A,ke\n", "provinces.csv, column 'name': the file has no 'name'"),
        ("name,title,country\na,A,ke\n", "provinces.csv, column 'label': the file has no 'label'"),
        (
            "name,label,country\na,A,ke\nb,B,ke\na,A again,ug\n",
            "provinces.csv, column 'name': 'a' appears twice (lines 2 and 4)",
        ),
        ("name,label\n,Nameless\n", "provinces.csv, column 'name': line 2 has no name"),
        (b"name,label\n\xff,A\n", "provinces.csv: not UTF-8 text"),
    ],
)
def test_a_bad_attached_file_is_refused_naming_the_file_and_column(
    tmp_path: Path, csv: str | bytes, expected: str
) -> None:
    form = write_cascade_form(tmp_path, repeat_count=False)
    target = tmp_path / "provinces.csv"
    target.write_bytes(csv if isinstance(csv, bytes) else csv.encode())
    problems = problems_of(form)
    # at every row reading the file: the select (row 4) and the pulldata (row 5)
    assert [p.split(":")[0] for p in problems] == ["survey row 4", "survey row 5"], problems
    assert all(expected in problem for problem in problems)


def test_a_pulldata_file_needs_no_label_and_is_awaited_until_given(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "calculation"],
            ["text", "item", "Item"],
            ["calculate", "price", None, "pulldata('prices', 'price', 'name', ${item})"],
            ["calculate", "tax", None, "pulldata('prices', 'tax', 'name', ${item})"],
        ],
    )
    draft = import_form(path).spec
    assert draft.awaiting_files["prices"].reads == [
        "survey row 3: the calculation expression",
        "survey row 4: the calculation expression",
    ]
    assert not draft.awaiting_files["prices"].choices  # rows are read without labels
    (tmp_path / "prices.csv").write_text("name,price,tax\nrice,3,1\n")
    imported = import_form(path)
    result = check(bind(imported.spec, imported.files), {"item": "rice"})
    assert (result.values["price"], result.values["tax"]) == ("3", "1")


def test_a_pulldata_file_needs_no_name_column_a_select_file_does(tmp_path: Path) -> None:
    # liberiaS3Mforms' sampleList.csv: pulldata('sampleList', 'lat', 'EFEACODE', ${eid})
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "calculation"],
            ["text", "eid", "Area"],
            ["calculate", "lat", None, "pulldata('sampleList', 'lat', 'EFEACODE', ${eid})"],
        ],
    )
    (tmp_path / "sampleList.csv").write_text("spid,EFEACODE,lat\n1,300407141,6.24\n1,7151,6.3\n")
    imported = import_form(path)
    result = check(bind(imported.spec, imported.files), {"eid": "7151"})
    assert result.values["lat"] == "6.3"
    select = write_xlsform(
        tmp_path / "s.xlsx",
        survey=[["type", "name", "label"], ["select_one_from_file sampleList.csv", "eid", "A"]],
    )
    assert any("has no 'name' column" in p for p in problems_of(select))


def test_the_cli_attaches_and_names_each_file(tmp_path: Path) -> None:
    form = write_cascade_form(tmp_path / "form", repeat_count=False)
    moved = tmp_path / "elsewhere.csv"
    (tmp_path / "form" / "provinces.csv").rename(moved)
    env = {**os.environ, "FIELDAPP_PASSPHRASE": "correct horse battery"}
    data = ["--data-dir", str(tmp_path / "device")]
    run = [sys.executable, "-m", "fieldapp", *data]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True)
    draft = subprocess.run(
        [*run, "forms", "import", str(form)], env=env, capture_output=True, text=True
    )
    assert draft.returncode == 0, draft.stderr
    assert "provinces.csv is not attached" in draft.stderr
    assert "cascade 1 (a draft awaiting 1 data files" in draft.stdout
    # a file is attached by the name the form uses
    renamed = tmp_path / "provinces.csv"
    moved.rename(renamed)
    done = subprocess.run(
        [*run, "forms", "import", str(form), "--attach", str(renamed)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "attached provinces.csv: 190 bytes" in done.stdout
    assert done.stdout.strip().endswith("cascade 1")


def test_select_one_external_reads_the_external_choices_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    for row in [
        ["type", "name", "label", "choice_filter"],
        ["select_one countries", "country", "Country"],
        ["select_one_external provinces", "province", "Province", "country=${country}"],
    ]:
        survey.append(row)
    sheets = {
        "choices": [["list_name", "name", "label"], ["countries", "ke", "Kenya"]],
        "external_choices": [
            ["list_name", "name", "label", "country"],
            ["provinces", "nairobi", "Nairobi", "ke"],
            ["provinces", "gulu", "Gulu", "ug"],
        ],
    }
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(tmp_path / "external.xlsx")
    spec = import_form(tmp_path / "external.xlsx").spec
    assert not spec.attachments  # the list is in the workbook: nothing to attach
    shown = visible_choices(spec, spec.node("province"), {"country": "ke"})  # type: ignore[arg-type]
    assert [c.value for c in shown] == ["nairobi"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["external.xlsx"]  # nothing written
