"""The office's laptop tools as the screens see them: the dashboard's protected figures, the
funder report and the exports, plugged in by the laptop that has them.

The screens ship in the phone build, which has none of `fieldapp.office` (nor scipy, xlsxwriter
or fpdf2), and the import contracts forbid the UI to import it. So the office tools plug
themselves in (`install_office_tools`, called by `fieldapp app` and the demo on a laptop, see
`fieldapp.office.ui_tools`); where nobody did, `office_tools()` raises `OfficeToolsMissing` and
the screens say so instead of crashing. No Flet in it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FormSpec
from sync.protocol import OfficeRecord

__all__ = [
    "EXPORT_FORMATS",
    "BarView",
    "ChartView",
    "DashboardQuery",
    "DashboardView",
    "ExportFormat",
    "FileOut",
    "OfficeTools",
    "OfficeToolsMissing",
    "RecordSource",
    "ReportFormat",
    "install_office_tools",
    "office_tools",
]

ExportFormat = Literal["csv", "xlsx", "htcds", "microdata"]
ReportFormat = Literal["pdf", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "htcds", "microdata")


class OfficeToolsMissing(FieldappError):
    """The office tools are not on this device (a phone build, or a laptop without the
    `office` extra): the dashboard and exports need a laptop with `fieldapp[office]`."""


@dataclass(frozen=True)
class DashboardQuery:
    """Records made from `start` to `end` (days, both included), of `region` and `form`."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    region: str | None = None
    form: str | None = None


@dataclass(frozen=True)
class BarView:
    """One bar: `count` None when `suppressed` (drawn as "fewer than k", never its value)."""

    label: str
    count: int | None
    suppressed: bool


@dataclass(frozen=True)
class ChartView:
    id: str
    title: str
    bars: tuple[BarView, ...]
    total: int | None
    about_victims: bool


@dataclass(frozen=True)
class DashboardView:
    """The charts of the forms asked, in the person's language; `k`: the smallest group a
    figure about victims shows; `notes`: pooling and review notes for the coordinator."""

    charts: tuple[ChartView, ...]
    k: int
    records: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileOut:
    """A file made for the person to save: its suggested name, its bytes, and the records
    it holds (an export's; 0 for a report)."""

    name: str
    data: bytes
    records: int = 0


class RecordSource(Protocol):
    """Where the tools read records: the device's `OfficeClient` (its `records` iterator,
    page after page, with the office API's filters)."""

    def records(self, *, page_size: int = 500, **query: Any) -> Iterator[OfficeRecord]: ...


class OfficeTools(Protocol):
    """What the laptop's office tools do for the screens (`fieldapp.office.ui_tools`)."""

    def check(self) -> None:
        """OfficeToolsMissing if a package they need is not installed."""

    def charted_forms(self, forms: Sequence[FormSpec]) -> list[FormSpec]:
        """The forms the dashboard draws charts for."""

    def dashboard(
        self,
        forms: Sequence[FormSpec],
        source: RecordSource,
        query: DashboardQuery,
        *,
        k: int,
        lang: str,
    ) -> DashboardView: ...

    def funder_report(
        self,
        forms: Sequence[FormSpec],
        source: RecordSource,
        query: DashboardQuery,
        *,
        k: int,
        lang: str,
        kind: ReportFormat,
        data_dir: Path,
    ) -> FileOut:
        """The PDF or XLSX, once its figures passed the release gate of the releases logged
        in `data_dir` (AggregateError, a FieldappError naming the difference, if not)."""

    def export(
        self,
        spec: FormSpec,
        source: RecordSource,
        *,
        kind: ExportFormat,
        labels: str | None,
        on_progress: Callable[[int], None],
    ) -> FileOut:
        """The export of the form's records (streamed into a file, read back for saving)."""


_installed: list[OfficeTools] = []


def install_office_tools(tools: OfficeTools | None) -> None:
    """Plug the laptop's office tools in (the last installed wins); None unplugs them."""
    _installed[:] = [] if tools is None else [tools]


def office_tools() -> OfficeTools:
    """The office tools, checked; OfficeToolsMissing where none were plugged in."""
    if not _installed:
        raise OfficeToolsMissing(
            "the dashboard and exports need the office tools of a laptop: "
            "pip install 'fieldapp[office]' and open the app with `fieldapp app`"
        )
    _installed[0].check()
    return _installed[0]
