"""What an import refuses: every problem, by sheet, row and column, raised together."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fieldapp.errors import FormError


class ImportProblem(BaseModel):
    """One reason a workbook cannot be imported; `row` is the spreadsheet row number."""

    model_config = ConfigDict(frozen=True)

    sheet: str
    row: int | None = None
    column: str | None = None
    feature: str
    message: str

    def __str__(self) -> str:
        where = self.sheet if self.row is None else f"{self.sheet} row {self.row}"
        column = f" (column {self.column!r})" if self.column else ""
        return f"{where}: {self.message}{column}"


class XLSFormError(FormError):
    """The workbook cannot become a FormSpec; `problems` lists every reason, row by row."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def in_order(problems: list[ImportProblem]) -> list[ImportProblem]:
    """By sheet (the file, settings, survey, choices...), then row."""
    order = {"file": 0, "settings": 1, "survey": 2, "choices": 3}
    return sorted(problems, key=lambda p: (order.get(p.sheet, 4), p.row or 0))


def file_problem(message: str) -> ImportProblem:
    return ImportProblem(sheet="file", feature="file", message=message)
