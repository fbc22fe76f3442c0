"""Hostile spreadsheets: refused against the documented limits (fieldapp.office.spreadsheets) with a
message naming the file, the limit and the value, before they cost time or memory; and a
records import that fails anywhere saves nothing. Time is measured by bench/hostile_files.py,
not here."""

from __future__ import annotations

import csv
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from fieldapp.office.records_io import import_records
from fieldapp.office.spreadsheets import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_QUESTIONS,
    MAX_ROWS,
    MAX_XLSX_INFLATED_BYTES,
    SpreadsheetTooLarge,
)
from fieldapp.office.xlsform import XLSFormError, import_xlsform
from fieldapp.store import Store
from tests._hostile import GIB, replace_text, write_form, write_zip_bomb
from tests.test_xlsform import write_xlsform

CASES_HEADER = [
    "consent_record", "consent_refer", "consent_share", "case_code", "given_name", "sex",
    "age_band", "nationality", "identification_country", "identified_by", "screening_outcome",
    "exploitation_types",
]  # fmt: skip


def case_row(number: int, name: str = "Someone") -> list[str]:
    return [
        "yes", "yes", "no", f"KH-2026-{number:04d}", name, "female", "18_24", "KH", "TH",
        "ngo", "presumed_victim", "forced_labour",
    ]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def peak_bytes(work: Callable[[], Any], error: type[Exception]) -> int:
    """The most memory Python held at once while `work` ran to raise `error` (tracemalloc)."""
    tracemalloc.start()
    try:
        with pytest.raises(error):
            work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid workbook of 6 MB whose survey sheet inflates to 2 GiB (tests/_hostile.py)."""
    return write_zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.xlsx", 2 * GIB)


# -- forms --------------------------------------------------------------------------------------


def test_a_zip_bomb_form_is_refused_from_its_directory_in_bounded_memory(zip_bomb: Path) -> None:
    """It used to run for minutes, its memory growing by gigabytes, before an error."""
    with zipfile.ZipFile(zip_bomb) as archive:
        inflated = sum(part.file_size for part in archive.infolist())
    assert zip_bomb.stat().st_size < MAX_FILE_BYTES and inflated > 2 * GIB
    assert peak_bytes(lambda: import_xlsform(zip_bomb), XLSFormError) < 20 * 2**20
    with pytest.raises(XLSFormError) as refused:
        import_xlsform(zip_bomb)
    [problem] = refused.value.problems
    assert (problem.sheet, problem.row, problem.feature) == ("file", None, "limit")
    assert problem.message == (
        f"bomb.xlsx: its parts inflate to {inflated:,} bytes; the limit is"
        f" {MAX_XLSX_INFLATED_BYTES:,} bytes"
    )


def test_a_form_with_too_many_questions_is_refused_at_the_first_one_past_the_limit(
    tmp_path: Path,
) -> None:
    form = write_form(tmp_path / "huge.xlsx", MAX_QUESTIONS + 1)
    with pytest.raises(XLSFormError) as refused:
        import_xlsform(form)
    [problem] = refused.value.problems
    assert (problem.sheet, problem.row, problem.feature) == ("survey", MAX_QUESTIONS + 2, "limit")
    assert str(problem) == (
        f"survey row {MAX_QUESTIONS + 2}: huge.xlsx: more than {MAX_QUESTIONS:,} questions;"
        f" the limit is {MAX_QUESTIONS:,}"
    )


def test_a_form_cell_over_excels_limit_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    form = write_xlsform(
        tmp_path / "long.xlsx", [["type", "name", "label"], ["text", "a", "A"], ["note", "b", "@"]]
    )
    replace_text(form, ">@<", ">" + "x" * (MAX_CELL_CHARS + 1) + "<")
    with pytest.raises(XLSFormError) as refused:
        import_xlsform(form)
    [problem] = refused.value.problems
    assert (problem.sheet, problem.row, problem.feature) == ("survey", 3, "limit")
    assert problem.message == (
        f"long.xlsx: the cell in column 3 holds {MAX_CELL_CHARS + 1:,} characters;"
        f" the limit is {MAX_CELL_CHARS:,}"
    )


def test_an_old_format_xls_form_past_the_size_limit_is_refused_unopened(tmp_path: Path) -> None:
    form = tmp_path / "big.xls"
    with form.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(XLSFormError) as refused:
        import_xlsform(form)
    [problem] = refused.value.problems
    assert (problem.sheet, problem.feature) == ("file", "limit")
    assert problem.message == (
        f"big.xls: the file is {MAX_FILE_BYTES + 1:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes"
    )


# -- records ------------------------------------------------------------------------------------


def test_a_zip_bomb_participant_list_is_refused_and_nothing_is_saved(
    store: Store, zip_bomb: Path
) -> None:
    work = lambda: import_records(store, "victim_screening", zip_bomb)  # noqa: E731
    assert peak_bytes(work, SpreadsheetTooLarge) < 20 * 2**20
    with pytest.raises(SpreadsheetTooLarge, match=f"the limit is {MAX_XLSX_INFLATED_BYTES:,}"):
        import_records(store, "victim_screening", zip_bomb)
    assert store.records.count() == 0


def test_an_xlsx_cell_over_excels_limit_is_refused_before_any_row_is_saved(
    store: Store, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [CASES_HEADER, case_row(1), case_row(2, "@")]:
        sheet.append(row)
    book.save(tmp_path / "cases.xlsx")
    replace_text(tmp_path / "cases.xlsx", ">@<", ">" + "y" * (MAX_CELL_CHARS + 1) + "<")
    with pytest.raises(SpreadsheetTooLarge) as refused:
        import_records(store, "victim_screening", tmp_path / "cases.xlsx")
    assert (refused.value.sheet, refused.value.row) == ("Sheet", 3)
    assert str(refused.value) == (
        f"cases.xlsx sheet 'Sheet' row 3: the cell in column 5 holds {MAX_CELL_CHARS + 1:,}"
        f" characters; the limit is {MAX_CELL_CHARS:,}"
    )
    assert store.records.count() == 0


def test_a_csv_cell_past_the_csv_modules_limit_saves_nothing_and_a_fixed_rerun_saves_once(
    store: Store, tmp_path: Path
) -> None:
    """It used to save the rows before it, then end in a traceback (and a re-run duplicated
    them)."""
    rows = [CASES_HEADER, *(case_row(n) for n in range(1, 6))]
    sheet = write_csv(tmp_path / "cases.csv", [*rows, case_row(6, "z" * (200 * 1024))])
    with pytest.raises(SpreadsheetTooLarge) as refused:
        import_records(store, "victim_screening", sheet)
    assert str(refused.value) == (
        f"cases.csv row 7: a cell holds more than {csv.field_size_limit():,} characters;"
        f" the limit is {MAX_CELL_CHARS:,}"
    )
    assert store.records.count() == 0
    write_csv(sheet, [*rows, case_row(6)])
    report = import_records(store, "victim_screening", sheet)
    assert (report.rows_saved, report.errors) == (6, [])
    assert store.records.count() == 6
    codes = sorted(store.records.get(record_id).values["case_code"] for record_id in report.saved)
    assert codes == [f"KH-2026-{n:04d}" for n in range(1, 7)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [CASES_HEADER, case_row(1, "z" * (MAX_CELL_CHARS + 1))],
            f"cases.csv row 2: the cell in column 5 holds {MAX_CELL_CHARS + 1:,} characters;"
            f" the limit is {MAX_CELL_CHARS:,}",
        ),
        (
            [CASES_HEADER, [*case_row(1), *["x"] * MAX_COLUMNS]],
            f"cases.csv row 2: a value in column {MAX_COLUMNS + len(CASES_HEADER):,}; the"
            f" limit is {MAX_COLUMNS} columns",
        ),
        (
            [CASES_HEADER, *([*case_row(1)] for _ in range(MAX_ROWS + 1))],
            f"cases.csv row {MAX_ROWS + 2}: more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}",
        ),
    ],
    ids=["cell", "columns", "rows"],
)
def test_a_csv_past_a_limit_is_refused_naming_it(
    store: Store, tmp_path: Path, rows: list[list[str]], message: str
) -> None:
    sheet = write_csv(tmp_path / "cases.csv", rows)
    with pytest.raises(SpreadsheetTooLarge) as refused:
        import_records(store, "victim_screening", sheet)
    assert str(refused.value) == message
    assert store.records.count() == 0


def test_a_stray_value_past_the_column_limit_is_ignored_with_a_warning_a_wide_header_refused(
    tmp_path: Path,
) -> None:
    # osm__waterpoints.xls: a row pasted across to column 256; pyxform reads only headed columns.
    stray = ["text", "b", "B", *[None] * (MAX_COLUMNS + 40), "pasted", "x"]
    path = write_xlsform(
        tmp_path / "stray.xlsx",
        survey=[["type", "name", "label"], ["text", "a", "A"], stray],
    )
    spec = import_xlsform(path)
    assert [c.name for c in spec.children] == ["a", "b"]
    first = MAX_COLUMNS + 44
    assert spec.import_warnings == [
        f"survey row 3: values in columns {first} to {first + 1}, right of the last header"
        " (column 3), are no part of the form and are ignored"
    ]
    wide = write_xlsform(
        tmp_path / "wide.xlsx",
        survey=[["type", "name", "label", *[f"label::l{i}" for i in range(MAX_COLUMNS)]]],
    )
    with pytest.raises(XLSFormError) as refused:
        import_xlsform(wide)
    assert f"the limit is {MAX_COLUMNS} columns" in str(refused.value)
