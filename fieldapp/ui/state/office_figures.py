"""The dashboard's and the exports' state (one of each per office session): the filters and
choices typed, the figures shown, the file made for saving, what went wrong in words.

Both reach the office only through `OfficeFigures` (the laptop's office tools over the
device's enrolment): on a phone build, where the tools are missing, `missing` says so and
nothing else happens.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flet as ft

from fieldapp.errors import FieldappError
from fieldapp.i18n import N_, Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.services import Services
from fieldapp.ui.services.office_figures import OfficeFigures
from fieldapp.ui.services.office_tools import (
    DashboardQuery,
    DashboardView,
    ExportFormat,
    FileOut,
    OfficeToolsMissing,
    ReportFormat,
)

__all__ = ["DEFAULT_K", "DashboardState", "ExportsState"]

DEFAULT_K = 11  # CTDC's threshold; a setting of the dashboard

_BAD_DAY = N_("{field}: write a date as YYYY-MM-DD, for example 2026-01-31")


def _day(text: str) -> datetime.date | None:
    text = text.strip()
    return datetime.date.fromisoformat(text) if text else None


@ft.observable
@dataclass
class DashboardState:
    """The dashboard: filters (`start`, `end` as typed, `region`, `form` ("": all)), the
    figures drawn, the report file made, and a problem in words."""

    services: Services
    lang: str = "en"
    start: str = ""
    end: str = ""
    region: str = ""
    form: str = ""
    k: int = DEFAULT_K
    view: DashboardView | None = None
    forms: list[tuple[str, str]] = field(default_factory=list)  # (id, title)
    busy: bool = False
    problem: str | None = None
    missing: str | None = None  # the office tools are not on this device

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    @property
    def figures(self) -> OfficeFigures:
        return OfficeFigures(self.services.device, self.services.office)

    def open(self, region: str | None) -> None:
        """On first draw: the forms charted, and a regional device's region as the filter."""
        if region and not self.region:
            self.region = region
        try:
            self.forms = [
                (spec.id, spec.title.get(self.lang) or spec.title.get("en") or spec.id)
                for spec in self.figures.forms()
            ]
        except OfficeToolsMissing as exc:
            self.missing = str(exc)
            return
        self.refresh()

    def query(self) -> DashboardQuery | None:
        """The filters as typed, or None (and `problem` says which) if a date is not one."""
        _ = self.words
        days: dict[str, datetime.date | None] = {}
        for name, text, label in (("start", self.start, _("From")), ("end", self.end, _("To"))):
            try:
                days[name] = _day(text)
            except ValueError:
                self.problem = _(_BAD_DAY, field=label)
                return None
        if days["start"] and days["end"] and days["start"] > days["end"]:
            self.problem = _("From: the first day comes after the last")
            return None
        return DashboardQuery(
            days["start"], days["end"], self.region.strip() or None, self.form or None
        )

    def refresh(self) -> None:
        """Ask the server and draw the figures anew."""
        query = self.query()
        if query is None or self.missing:
            return
        self.busy, self.problem = True, None
        try:
            self.view = self.figures.dashboard(query, k=self.k, lang=self.lang)
        except FieldappError as exc:
            self.problem = str(exc)
        finally:
            self.busy = False

    def report(self, kind: ReportFormat) -> FileOut | None:
        """The funder report (PDF) or the aggregate XLSX for the filters; None (and `problem`
        says why: the release gate, the server) if it cannot leave."""
        query = self.query()
        if query is None or self.missing:
            return None
        self.busy, self.problem = True, None
        try:
            return self.figures.funder_report(query, k=self.k, lang=self.lang, kind=kind)
        except FieldappError as exc:
            self.problem = str(exc)
            return None
        finally:
            self.busy = False

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


@ft.observable
@dataclass
class ExportsState:
    """The export: form, format, labels or codes and their language; while it runs, the
    records written so far; then the file made (saved by the screen) or a problem."""

    services: Services
    lang: str = "en"
    form: str = ""
    kind: ExportFormat = "xlsx"
    labels: bool = False
    label_lang: str = "en"
    forms: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    running: bool = False
    written: int = 0
    made: FileOut | None = None
    saved: str | None = None
    problem: str | None = None
    missing: str | None = None

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    def open(self) -> None:
        figures = OfficeFigures(self.services.device, self.services.office)
        try:
            figures.forms()  # the tools are here (or say what is missing)
        except OfficeToolsMissing as exc:
            self.missing = str(exc)
            return
        self.forms = [
            (s.id, s.title.get(self.lang) or s.title.get("en") or s.id, tuple(s.languages))
            for s in figures.export_forms()
        ]
        if not self.form and self.forms:
            self.form = self.forms[0][0]

    def languages(self) -> tuple[str, ...]:
        return next((langs for f, _t, langs in self.forms if f == self.form), ("en",))

    def run(self, progress: Callable[[], None] | None = None) -> FileOut | None:
        """Export (streamed page by page); the file to save, or None and `problem`."""
        if self.missing or not self.form:
            return None
        self.running, self.written, self.made, self.saved, self.problem = True, 0, None, None, None
        labels = self.label_lang if self.labels else None
        if labels is not None and labels not in self.languages():
            labels = self.languages()[0]

        def on_progress(written: int) -> None:
            self.written = written
            if progress is not None:
                progress()

        try:
            self.made = OfficeFigures(self.services.device, self.services.office).export(
                self.form, kind=self.kind, labels=labels, on_progress=on_progress
            )
            return self.made
        except FieldappError as exc:
            self.problem = str(exc)
            return None
        finally:
            self.running = False

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
