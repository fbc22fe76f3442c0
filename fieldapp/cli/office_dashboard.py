"""`fieldapp office dashboard`: the dashboard's figures as JSON, a printable funder report
(PDF) or an aggregate workbook (XLSX), asked of the server's office API with this device's
enrolment. A PDF or XLSX leaves the screen, so it passes the differencing gate first (the
releases logged in `office-releases.jsonl` of the data directory)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from fieldapp.cli._common import Commands, UsageError, open_store, print_json, whole_number
from fieldapp.paths import data_dir

__all__ = ["add_dashboard_command"]


def add_dashboard_command(commands: Commands) -> None:
    dashboard = commands.add(
        "dashboard",
        cmd_office_dashboard,
        "the dashboard's figures, a funder report (PDF) or an aggregate XLSX",
        group="office",
    )
    dashboard.add_argument("--from", dest="start", default=None, metavar="DATE",
                           help="records made on or after this day (YYYY-MM-DD)")  # fmt: skip
    dashboard.add_argument("--to", dest="end", default=None, metavar="DATE",
                           help="records made on or before this day (YYYY-MM-DD)")  # fmt: skip
    dashboard.add_argument("--region", default=None, help="records of this region only")
    dashboard.add_argument("--form", default=None, help="this form's figures only")
    dashboard.add_argument(
        "--k",
        type=whole_number(2, 1000),
        default=11,
        help="smallest group a figure about victims may show (default 11, CTDC's)",
    )
    out = dashboard.add_mutually_exclusive_group(required=True)
    out.add_argument("--pdf", default=None, metavar="FILE", help="write the funder report")
    out.add_argument("--xlsx", default=None, metavar="FILE", help="write the aggregate XLSX")
    out.add_argument("--json", action="store_true", help="print the figures as JSON")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def cmd_office_dashboard(args: argparse.Namespace) -> int:
    from fieldapp.office.aggregates import AggregateError, DisclosurePolicy, JsonLinesReleaseLog
    from fieldapp.office.dashboard import DashboardFilter, build_dashboard, publish_dashboard
    from fieldapp.office.dashboard.release import RELEASE_LOG
    from fieldapp.office.dashboard.source import charted_forms, dashboard_records
    from sync.client import OfficeClient

    try:
        chosen = DashboardFilter(
            _day(args.start, "--from"), _day(args.end, "--to"), args.region, args.form
        )
    except AggregateError as exc:
        raise UsageError(str(exc)) from None
    store = open_store(args)
    try:
        forms = charted_forms(store.forms.usable())
        if args.form is not None and args.form not in forms:
            raise UsageError(f"--form: {args.form!r} is not a form the dashboard draws")
        client = OfficeClient(store)
        with client:
            records = list(dashboard_records(client, forms, chosen))
    finally:
        store.close()
    dashboard = build_dashboard(forms, records, chosen, policy=DisclosurePolicy(k=args.k))
    if args.json:
        print_json(dashboard.json())
        return 0
    log = JsonLinesReleaseLog(data_dir(args.data_dir) / RELEASE_LOG)
    publish_dashboard(dashboard, log)
    if args.pdf:
        from fieldapp.office.dashboard.funder_pdf import write_pdf

        print(write_pdf(dashboard, Path(args.pdf), lang=args.lang))
    else:
        from fieldapp.office.dashboard.funder_xlsx import write_xlsx

        print(write_xlsx(dashboard, Path(args.xlsx), lang=args.lang))
    return 0
