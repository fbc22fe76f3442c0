"""The laptop's office tools, plugged into the app's screens (`install`): the dashboard's
protected figures, the funder report and the exports, over the records the device's
`OfficeClient` lists. `fieldapp app` and the demo install them; the phone build, which has
none of `fieldapp.office`, never does (its screens say the tools are missing)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from fieldapp.forms.spec import FormSpec
from fieldapp.office.aggregates import DisclosurePolicy, JsonLinesReleaseLog
from fieldapp.office.dashboard import (
    Dashboard,
    DashboardFilter,
    build_dashboard,
    publish_dashboard,
)
from fieldapp.office.dashboard.release import RELEASE_LOG
from fieldapp.office.dashboard.source import charted_forms, dashboard_records
from fieldapp.office.exports import ExportedRecord, export_records
from fieldapp.office.microdata_export import export_microdata
from fieldapp.ui.services.office_tools import (
    BarView,
    ChartView,
    DashboardQuery,
    DashboardView,
    ExportFormat,
    FileOut,
    OfficeToolsMissing,
    RecordSource,
    ReportFormat,
    install_office_tools,
)

__all__ = ["LaptopOfficeTools", "install"]

_NEEDED = ("scipy", "xlsxwriter", "fpdf")


class LaptopOfficeTools:
    """`fieldapp.ui.services.office_tools.OfficeTools` on a laptop with the office extra."""

    def check(self) -> None:
        import importlib.util

        missing = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
        if missing:
            raise OfficeToolsMissing(
                f"the office tools need {', '.join(missing)}: pip install 'fieldapp[office]'"
            )

    def charted_forms(self, forms: Sequence[FormSpec]) -> list[FormSpec]:
        return list(charted_forms(forms).values())

    def dashboard(
        self,
        forms: Sequence[FormSpec],
        source: RecordSource,
        query: DashboardQuery,
        *,
        k: int,
        lang: str,
    ) -> DashboardView:
        dashboard = self._build(forms, source, query, k)
        charts = tuple(
            ChartView(
                chart.id,
                chart.heading(lang),
                tuple(BarView(bar.text(lang), bar.count, bar.suppressed) for bar in chart.bars),
                chart.total,
                figures.protected,
            )
            for figures in dashboard.forms
            for chart in figures.charts
        )
        notes = tuple(w for f in dashboard.forms for w in f.report.warnings)
        return DashboardView(charts, k, sum(f.records for f in dashboard.forms), notes)

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
        dashboard = self._build(forms, source, query, k)
        publish_dashboard(dashboard, JsonLinesReleaseLog(data_dir / RELEASE_LOG))
        name = "funder-report." + kind
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / name
            if kind == "pdf":
                from fieldapp.office.dashboard.funder_pdf import write_pdf

                write_pdf(dashboard, out, lang=lang)
            else:
                from fieldapp.office.dashboard.funder_xlsx import write_xlsx

                write_xlsx(dashboard, out, lang=lang)
            return FileOut(name, out.read_bytes())

    def export(
        self,
        spec: FormSpec,
        source: RecordSource,
        *,
        kind: ExportFormat,
        labels: str | None,
        on_progress: Callable[[int], None],
    ) -> FileOut:
        """Streamed page by page into a file (`export_records`), then read back: one file, or
        a zip of the CSV files (one per repeat group). `microdata`: the anonymised CSV
        (`export_microdata`, k = 11), its records the rows kept."""
        records = (ExportedRecord.of(r) for r in source.records(form=spec.id) if not r.deleted)
        suffix = "xlsx" if kind == "xlsx" else "csv"
        with tempfile.TemporaryDirectory() as scratch:
            if kind == "microdata":
                made = export_microdata(
                    spec, records, Path(scratch) / f"{spec.id}-microdata.csv",
                    on_progress=on_progress,
                )  # fmt: skip
                return FileOut(made.out.name, made.out.read_bytes(), made.rows)
            out = Path(scratch) / f"{spec.id}.{suffix}"
            result = export_records(
                spec, records, out, kind, labels=labels, on_progress=on_progress
            )
            files = result.files or [out]
            written = next(iter(result.rows.values()), 0)
            if len(files) == 1:
                return FileOut(files[0].name, files[0].read_bytes(), written)
            packed = io.BytesIO()
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, file.name)
            return FileOut(f"{spec.id}-{kind}.zip", packed.getvalue(), written)

    @staticmethod
    def _build(
        forms: Sequence[FormSpec], source: RecordSource, query: DashboardQuery, k: int
    ) -> Dashboard:
        chosen = DashboardFilter(query.start, query.end, query.region, query.form)
        by_id = {spec.id: spec for spec in forms}
        records = dashboard_records(source, by_id, chosen)
        return build_dashboard(by_id, records, chosen, policy=DisclosurePolicy(k=k))


def install() -> None:
    """Plug the laptop's office tools into the app's screens."""
    install_office_tools(LaptopOfficeTools())
