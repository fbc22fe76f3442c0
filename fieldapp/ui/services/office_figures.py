"""The dashboard's figures, the funder report and the exports for the screens: the records
the server lists for the office (with the device's own enrolment, page after page), handed to
the laptop's office tools (`office_tools`). No Flet in it.

The office tools ask the server for what the filters let it narrow and filter the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FormSpec
from fieldapp.ui.services.cases import CASE_FORMS
from fieldapp.ui.services.device import Device
from fieldapp.ui.services.office_tools import (
    DashboardQuery,
    DashboardView,
    ExportFormat,
    FileOut,
    ReportFormat,
    office_tools,
)
from sync.client import SyncError

__all__ = ["OfficeFigures", "OfficeFiguresFailed"]


class OfficeFiguresFailed(FieldappError):
    """The server could not be asked, or the figures cannot leave (the message says why)."""


class _OfficeAccess(Protocol):
    """What this service needs of `services.office`."""

    def client(self) -> Any: ...


class OfficeFigures:
    def __init__(self, device: Device, office: _OfficeAccess) -> None:
        self._device = device
        self._office = office

    def forms(self) -> list[FormSpec]:
        """The device's forms the dashboard draws (OfficeToolsMissing on a phone build)."""
        return office_tools().charted_forms(self._device.store.forms.usable())

    def export_forms(self) -> list[FormSpec]:
        """The forms to export, case work (cases, services: follow-ups) after the registers
        and screenings a coordinator exports first."""
        return sorted(self._device.store.forms.usable(), key=lambda spec: spec.id in CASE_FORMS)

    def dashboard(self, query: DashboardQuery, *, k: int, lang: str) -> DashboardView:
        tools = office_tools()
        forms = tools.charted_forms(self._device.store.forms.usable())
        return self._asking(
            lambda: tools.dashboard(forms, self._office.client(), query, k=k, lang=lang)
        )

    def funder_report(
        self, query: DashboardQuery, *, k: int, lang: str, kind: ReportFormat
    ) -> FileOut:
        tools = office_tools()
        forms = tools.charted_forms(self._device.store.forms.usable())
        return self._asking(
            lambda: tools.funder_report(
                forms,
                self._office.client(),
                query,
                k=k,
                lang=lang,
                kind=kind,
                data_dir=self._device.data_dir,
            )
        )

    def export(
        self,
        form_id: str,
        *,
        kind: ExportFormat,
        labels: str | None,
        on_progress: Callable[[int], None],
    ) -> FileOut:
        tools = office_tools()
        spec = self._device.store.forms.get(form_id)
        return self._asking(
            lambda: tools.export(
                spec,
                self._office.client(),
                kind=kind,
                labels=labels,
                on_progress=on_progress,
            )
        )

    @staticmethod
    def _asking(make: Callable[[], Any]) -> Any:
        try:
            return make()
        except SyncError as exc:
            raise OfficeFiguresFailed(str(exc)) from exc
