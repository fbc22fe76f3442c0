"""A coordinator's office commands: `forms import` (an XLSForm, onto the device or published
on the server), `records import` (rows of a CSV/XLSX file), `demo`, and the office's
`office export` and `office report`, which ask the server's office API with this device's
enrolment (never the server's database)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from fieldapp.cli._common import (
    PORT,
    Commands,
    UsageError,
    database_option,
    is_server_dir,
    open_store,
    print_json,
    server_settings,
    whole_number,
)
from fieldapp.paths import data_dir


def add_commands(commands: Commands) -> None:
    importing = commands.add(
        "import", cmd_forms_import, "import an XLSForm (.xlsx/.xls)", group="forms"
    )
    importing.add_argument("file", help="the XLSForm file")
    importing.add_argument("--form-id", default=None, help="override the form id")
    importing.add_argument("--version", default=None, help="override the form version")
    importing.add_argument(
        "--org", default=None, help="on a server: publish for this organisation only"
    )
    database_option(importing)

    rec_import = commands.add(
        "import", cmd_records_import, "import rows of a CSV/XLSX file", group="records"
    )
    rec_import.add_argument("file", help="a .csv or .xlsx file; the first row names the fields")
    rec_import.add_argument("--form", required=True, help="the form id the rows answer")
    rec_import.add_argument(
        "--into", default=None, help="add the rows to this record's repeat group (e.g. an event)"
    )
    rec_import.add_argument("--repeat", default=None, help="the repeat group for --into")

    demo = commands.add(
        "demo", cmd_demo, "run the whole job locally: server, enrolment, sample records, sync"
    )
    demo.add_argument("--port", type=PORT, default=None, help="server port (default: a free one)")
    demo.add_argument("--no-app", action="store_true", help="do not open the app at the end")
    demo.add_argument("--web", action="store_true", help="open the app as a web page")
    demo.add_argument("--app-port", type=PORT, default=None, help="web app port (default: free)")
    add_office_commands(commands)


def add_office_commands(commands: Commands) -> None:
    export = commands.add(
        "export", cmd_office_export, "export the organisation's records", group="office"
    )
    export.add_argument("--form", required=True, help="the form id")
    export.add_argument("--format", required=True, choices=("csv", "xlsx", "htcds"))
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument(
        "--labels", default=None, metavar="LANG", help="labels in this language (default: codes)"
    )
    _filters(export)

    report = commands.add(
        "report",
        cmd_office_report,
        "count records by fields, small cells protected",
        group="office",
    )
    report.add_argument("--form", required=True, help="the form id")
    report.add_argument("--by", required=True, help="one to three fields, comma-separated")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument(
        "--k",
        type=whole_number(2, 1000),
        default=11,
        help="smallest group a figure about victims may show (default 11, CTDC's)",
    )
    _filters(report)

    devices = commands.add(
        "devices",
        cmd_office_devices,
        "the organisation's devices: last sync, records waiting, silent ones flagged",
        group="office",
    )
    devices.add_argument(
        "--silent-days",
        type=whole_number(0, 3650),
        default=14,
        help="flag devices that have not synced for more than this many days (default 14)",
    )
    devices.add_argument("--json", action="store_true", help="print the devices as JSON")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", default=None, help="records of this region only")
    parser.add_argument(
        "--status",
        default=None,
        choices=("received", "has_issues", "edited", "approved", "rejected"),
        help="records in this review state only",
    )
    parser.add_argument("--from", dest="received_from", default=None, metavar="DATE",
                        help="received on or after this date (YYYY-MM-DD, UTC)")  # fmt: skip
    parser.add_argument("--to", dest="received_to", default=None, metavar="DATE",
                        help="received before this date (YYYY-MM-DD, UTC)")  # fmt: skip


def _query(args: argparse.Namespace) -> dict[str, Any]:
    query: dict[str, Any] = {"form": args.form, "region": args.region, "status": args.status}
    for name in ("received_from", "received_to"):
        text = getattr(args, name)
        if text is not None:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                option = "--from" if name == "received_from" else "--to"
                raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None
            query[name] = datetime.combine(day, time(0), tzinfo=UTC)
    return query


def _office_records(args: argparse.Namespace) -> tuple[Any, Any, Iterator[Any]]:
    """The store (closed by the caller), the form as this device holds it, and the records
    the server lists for the office, not deleted, page after page."""
    from fieldapp.errors import StoreError
    from sync.client import OfficeClient

    store = open_store(args)
    try:
        spec = store.forms.get(args.form)
    except StoreError as exc:
        store.close()
        raise UsageError(f"--form: {exc}") from None
    client = OfficeClient(store)
    query = _query(args)

    def records() -> Iterator[Any]:
        with client:
            for record in client.records(**query):
                if not record.deleted:
                    yield record

    return store, spec, records()


def cmd_office_export(args: argparse.Namespace) -> int:
    from fieldapp.office.exports import ExportedRecord, export_records

    store, spec, records = _office_records(args)
    exported = (
        ExportedRecord(
            id=str(r.id),
            form_version=r.form_version,
            region=r.region,
            device_id=r.device_id,
            received_at=r.received_at.isoformat(),
            review_state=r.review_state,
            stats=r.stats,
        )
        for r in records
    )
    try:
        result = export_records(
            spec,
            exported,
            Path(args.out),
            args.format,
            labels=args.labels,
            on_progress=lambda n: print(f"{n} records...", file=sys.stderr),
        )
    finally:
        store.close()
    for table, rows in result.rows.items():
        print(f"{table}: {rows} rows")
    for file in result.files:
        print(file)
    return 0


def cmd_office_report(args: argparse.Namespace) -> int:
    from fieldapp.office.aggregates import DisclosurePolicy, build_report

    by = [name.strip() for name in args.by.split(",") if name.strip()]
    if not by:
        raise UsageError("--by: name one to three fields")
    store, spec, records = _office_records(args)
    try:
        rows = [record.stats for record in records]
    finally:
        store.close()
    report = build_report(spec, rows, [by], policy=DisclosurePolicy(k=args.k))
    if args.json:
        print_json(report.json()[0])
    else:
        print(report.text(args.lang), end="")
    return 0


def cmd_forms_import(args: argparse.Namespace) -> int:
    from fieldapp.office.xlsform import XLSFormError, import_xlsform

    try:
        spec = import_xlsform(Path(args.file), form_id=args.form_id, version=args.version)
    except XLSFormError as failure:
        for problem in failure.problems:
            print(problem, file=sys.stderr)
        return 1
    if args.database_url or is_server_dir(args):
        from sync.server import admin

        with admin.open_server_storage(server_settings(args)) as storage:
            admin.publish_form(storage, spec, org=args.org)
        print(f"{spec.id} {spec.version} (published on the server)")
        return 0
    store = open_store(args, unlock=False)
    store.forms.add(spec, source=Path(args.file).name)
    store.close()
    print(f"{spec.id} {spec.version}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fieldapp.office.demo import DEMO_PASSPHRASE, run_demo

    root = data_dir(args.data_dir) / "demo"

    def open_app(server_url: str, device_dir: Path) -> None:
        if args.no_app:
            return
        from fieldapp.ui.app import run_app

        print(f"\n7. The app opens on the device's store: unlock it with {DEMO_PASSPHRASE!r}.")
        run_app(device_dir, web=args.web, port=args.app_port, server_url=server_url)

    result = run_demo(root, port=args.port, then=open_app)
    print(
        f"\nDemo data in {root} (device passphrase: {DEMO_PASSPHRASE!r}).\n"
        f"Look at it: fieldapp --data-dir {result.device_dir} records list"
    )
    return 0 if result.rejected == 0 and result.plaintext_names_on_server == 0 else 1


def cmd_records_import(args: argparse.Namespace) -> int:
    from fieldapp.office.records_io import import_records

    store = open_store(args)
    try:
        report = import_records(
            store, args.form, Path(args.file), into=args.into, repeat=args.repeat, lang=args.lang
        )
    finally:
        store.close()
    for error in report.errors:
        print(error, file=sys.stderr)
    if report.errors:
        refused = len({e.row for e in report.errors})
        rows = "1 row has" if refused == 1 else f"{refused} rows have"
        print(f"nothing saved: {rows} problems; fix them and import the whole file again")
        return 1
    target = f"into record {args.into}" if args.into else "as final records"
    print(f"{report.rows_saved} rows saved {target}")
    return 0


def cmd_office_devices(args: argparse.Namespace) -> int:
    """The devices the server lists for this office (its region's, for a regional one), each
    with `silent` true when it has not synced for more than --silent-days days."""
    from sync.client import OfficeClient, is_silent

    store = open_store(args)
    try:
        with OfficeClient(store) as client:
            listed = client.devices().devices
    finally:
        store.close()
    now = datetime.now(UTC)
    rows = [
        {
            **device.model_dump(mode="json"),
            "silent": is_silent(device, args.silent_days, now),
        }
        for device in listed
    ]
    if args.json:
        print_json({"silent_days": args.silent_days, "devices": rows})
        return 0
    for row in rows:
        waiting = "?" if row["records_waiting"] is None else row["records_waiting"]
        state = "revoked" if row["revoked_at"] else ("SILENT" if row["silent"] else "ok")
        print(
            f"{row['id']}\t{row['role']}\t{row['region'] or '-'}\t{state}\t"
            f"last sync {row['last_sync_at'] or 'never'}\twaiting {waiting}\t"
            f"app {row['app_version'] or '?'}\t{row['label']}"
        )
    return 0
