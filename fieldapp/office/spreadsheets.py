"""Limits on the spreadsheets people bring (XLSForms, participant lists), checked before and
while they are parsed.

A spreadsheet is untrusted input: a 2 MB .xlsx can inflate to gigabytes (a zip bomb), a form can
hold a hundred thousand questions, a CSV cell megabytes. `check_file` refuses a file whose size
or zip directory breaks a limit before any parser opens it; `Reading` counts what a parser
reads, row by row, and refuses at the first row past a limit, so the parser stops there. Either
raises `SpreadsheetTooLarge`, naming the file, the limit and the value (and the sheet and row
when known). Every limit is far above any real form or participant list.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from fieldapp.errors import FieldappError

__all__ = [
    "MAX_CELLS",
    "MAX_CELL_CHARS",
    "MAX_CHOICES",
    "MAX_COLUMNS",
    "MAX_COMPRESSION_RATIO",
    "MAX_FILE_BYTES",
    "MAX_QUESTIONS",
    "MAX_ROWS",
    "MAX_ROW_NUMBER",
    "MAX_XLSX_INFLATED_BYTES",
    "MAX_XLSX_PARTS",
    "Reading",
    "SheetReading",
    "SpreadsheetError",
    "SpreadsheetTooLarge",
    "check_file",
]

MAX_FILE_BYTES = 10 * 2**20  # real XLSForms and participant lists are well under 1 MB
MAX_XLSX_PARTS = 1_000  # a workbook is a few dozen zip parts (sheets, styles, relations)
MAX_XLSX_INFLATED_BYTES = 32 * 2**20  # all parts inflated: bounds what openpyxl and pyxform read
MAX_COMPRESSION_RATIO = 100  # spreadsheet XML deflates 5 to 30 times; a zip bomb 1,000 times
RATIO_FLOOR_BYTES = 2**20  # small parts may deflate oddly well: their ratio is not judged
MAX_ROW_NUMBER = 1_048_576  # Excel's last row; openpyxl yields an empty row per number skipped
MAX_COLUMNS = 200  # the last filled column of a row; a form in ten languages uses about 100
MAX_ROWS = 10_000  # rows of a records import (one transaction) or of any other sheet
# Survey rows of a form. The largest real XLSForms (national household surveys) have 1,000 to
# 3,000, the shared corpus at most 998; the app re-checks every question at each answer on a
# phone, so a form much larger is unusable there, and refusing at row 5,001 bounds the import.
MAX_QUESTIONS = 5_000
MAX_CHOICES = 20_000  # choice rows: long lists of places fit; a phone cannot show a longer one
MAX_CELLS = 1_000_000  # filled cells of a file: bounds the parsed table's memory (~100 MB)
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
_CHUNK = 64 * 1024


class SpreadsheetError(FieldappError):
    """The file cannot be read as a spreadsheet; the message says why."""


class SpreadsheetTooLarge(SpreadsheetError):
    """The file breaks a limit. `problem` says which, with the value; `sheet` and `row` say
    where when known; the message names the file too."""

    def __init__(
        self, path: Path, problem: str, *, sheet: str | None = None, row: int | None = None
    ) -> None:
        self.problem, self.sheet, self.row = problem, sheet, row
        where = "".join(
            (f" sheet {sheet!r}" if sheet else "", f" row {row}" if row is not None else "")
        )
        super().__init__(f"{path.name}{where}: {problem}")


def check_file(path: Path) -> None:
    """Refuse a file over MAX_FILE_BYTES, and an .xlsx or .xlsm whose zip breaks a limit,
    before any parser opens it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SpreadsheetError(f"cannot read {path.name}: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise SpreadsheetTooLarge(
            path, f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes"
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        _check_zip(path)


def _check_zip(path: Path) -> None:
    """The zip's directory against the limits (read alone, nothing inflated), then every part
    read through in bounded chunks: zipfile stops each at the size the directory declares and
    checks its CRC, so a part that inflates past it (a lying directory) fails here, not later
    inside openpyxl."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_XLSX_PARTS:
                raise SpreadsheetTooLarge(
                    path, f"the workbook has {len(parts):,} parts; the limit is {MAX_XLSX_PARTS:,}"
                )
            inflated = sum(part.file_size for part in parts)
            if inflated > MAX_XLSX_INFLATED_BYTES:
                raise SpreadsheetTooLarge(
                    path,
                    f"its parts inflate to {inflated:,} bytes; the limit is"
                    f" {MAX_XLSX_INFLATED_BYTES:,} bytes",
                )
            for part in parts:
                ratio = part.file_size / max(part.compress_size, 1)
                if part.file_size > RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    raise SpreadsheetTooLarge(
                        path,
                        f"part {part.filename!r} inflates {ratio:,.0f} times ({part.file_size:,}"
                        f" bytes); the limit is {MAX_COMPRESSION_RATIO} times",
                    )
            for part in parts:
                with archive.open(part) as stream:
                    while stream.read(_CHUNK):
                        pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SpreadsheetError(f"cannot read {path.name}: not an .xlsx workbook ({exc})") from exc
    except (NotImplementedError, RuntimeError) as exc:  # another compression; encrypted
        raise SpreadsheetError(f"cannot read {path.name}: {exc}") from exc


class Reading:
    """One file being parsed: its filled cells counted across sheets (MAX_CELLS), a
    `SheetReading` per sheet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells = 0

    def sheet(
        self, name: str | None, max_rows: int, what: str = "rows", *, headed: bool = False
    ) -> SheetReading:
        """`max_rows`: the sheet's limit of filled rows after its header (`what` they are);
        `headed`: values past the header's last column are no data (as pyxform reads an
        XLSForm): left out and noted in `ignored`, still counted against the limits."""
        return SheetReading(self, name, max_rows, what, headed=headed)


class SheetReading:
    """One sheet (or a CSV file: no name) being parsed, row by row."""

    def __init__(
        self, reading: Reading, name: str | None, max_rows: int, what: str, *, headed: bool
    ) -> None:
        self.reading = reading
        self.name = name
        self.max_rows = max_rows
        self.what = what
        self.rows = 0
        self.headed = headed
        self.width: int | None = None  # the header's columns, once read
        # row -> (first, last) column numbers of the values past the header, left out
        self.ignored: dict[int, tuple[int, int]] = {}

    def refuse(self, problem: str, row: int | None = None) -> SpreadsheetTooLarge:
        return SpreadsheetTooLarge(self.reading.path, problem, sheet=self.name, row=row)

    def row(self, number: int, values: Sequence[str | None]) -> list[str | None]:
        """Row `number`'s values without its empty tail (none for an empty row), after
        checking it against every limit."""
        if number > MAX_ROW_NUMBER:
            raise self.refuse(f"row numbers go past Excel's last row, {MAX_ROW_NUMBER:,}", number)
        filled = [i for i, value in enumerate(values) if value]
        if not filled:
            return []
        self.rows += 1
        if self.rows > self.max_rows + 1:  # the header is not one of them
            raise self.refuse(
                f"more than {self.max_rows:,} {self.what}; the limit is {self.max_rows:,}", number
            )
        width = self.width if self.headed else None
        # Past the header, a value has no column to be read in: only the header is held to
        # MAX_COLUMNS; such a value is still size-checked and counted (MAX_CELLS) below.
        if width is not None and filled[-1] >= width:
            beyond = [i for i in filled if i >= width]
            self.ignored[number] = (beyond[0] + 1, beyond[-1] + 1)
        elif filled[-1] >= MAX_COLUMNS:
            raise self.refuse(
                f"a value in column {filled[-1] + 1:,}; the limit is {MAX_COLUMNS} columns", number
            )
        for index in filled:
            size = len(values[index] or "")
            if size > MAX_CELL_CHARS:
                raise self.refuse(
                    f"the cell in column {index + 1} holds {size:,} characters; the limit is"
                    f" {MAX_CELL_CHARS:,}",
                    number,
                )
        self.reading.cells += len(filled)
        if self.reading.cells > MAX_CELLS:
            raise self.refuse(
                f"more than {MAX_CELLS:,} filled cells; the limit is {MAX_CELLS:,}", number
            )
        if self.width is None:
            self.width = filled[-1] + 1
            return list(values[: self.width])
        kept = [i for i in filled if width is None or i < width]
        return list(values[: kept[-1] + 1]) if kept else []
