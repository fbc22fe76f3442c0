"""A coordinator's office commands: `forms import` (an XLSForm, onto the device or published
on the server), `records import` (rows of a CSV/XLSX file), `demo`, and the office's
`office export` and `office report`, which ask the server's office API with this device's
enrolment (never the server's database), and a case manager's `office open` (a sealed
record opened with the organisation's key file, in memory only)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldapp.cli._common import (
    PORT,
    Commands,
    UsageError,
    database_option,
    install_office_tools,
    is_server_dir,
    key_file_passphrase,
    open_store,
    print_json,
    read_key_file,
    unlock_case_files,
    whole_number,
)
from fieldapp.cli.office_attachments import add_attachments_command
from fieldapp.cli.office_dashboard import add_dashboard_command
from fieldapp.cli.office_forms import add_attach_command, on_server
from fieldapp.cli.office_people import add_people_commands
from fieldapp.cli.office_services import add_services_command
from fieldapp.paths import data_dir

if TYPE_CHECKING:
    pass


def add_commands(commands: Commands) -> None:
    importing = commands.add(
        "import", cmd_forms_import, "import an XLSForm (.xlsx/.xls)", group="forms"
    )
    importing.add_argument("file", help="the XLSForm file")
    importing.add_argument("--form-id", default=None, help="override the form id")
    importing.add_argument("--version", default=None, help="override the form version")
    importing.add_argument(
        "--attach",
        action="append",
        default=[],
        metavar="FILE",
        help="a CSV or GeoJSON the form reads (select_one_from_file, pulldata); repeatable."
        " A file the form names and not given is looked for beside the XLSForm; one found"
        " nowhere makes the form a draft (`forms attach` completes it)",
    )
    importing.add_argument(
        "--org", default=None, help="on a server: publish for this organisation only"
    )
    database_option(importing)
    add_attach_command(commands)

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


def org_key_options(parser: argparse.ArgumentParser) -> None:
    """`--org-key FILE` and `--passphrase-env VAR`, for the commands that open case files."""
    parser.add_argument(
        "--org-key", required=True, metavar="FILE", help="the organisation's private key file"
    )
    parser.add_argument(
        "--passphrase-env",
        default=None,
        metavar="VAR",
        help="read the key file's passphrase from this environment variable"
        " (default: ask on the terminal)",
    )


def add_office_commands(commands: Commands) -> None:
    export = commands.add(
        "export", cmd_office_export, "export the organisation's records", group="office"
    )
    export.add_argument("--form", required=True, help="the form id")
    export.add_argument(
        "--format",
        required=True,
        choices=("csv", "xlsx", "htcds", "microdata"),
        help="microdata: anonymised, one CSV row of quasi-identifiers per person, every"
        " combination shared by at least --k rows",
    )
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument(
        "--labels", default=None, metavar="LANG", help="labels in this language (default: codes)"
    )
    export.add_argument(
        "--k",
        type=whole_number(2, 1000),
        default=11,
        help="microdata: the smallest group of a combination of quasi-identifiers (default 11)",
    )
    export.add_argument(
        "--sensitive",
        default=None,
        metavar="FIELD",
        help="microdata: one more statistical field to carry unchanged (l-diversity warned)",
    )
    _filters(export)

    report = commands.add(
        "report",
        cmd_office_report,
        "count records by fields, small cells protected",
        group="office",
    )
    report.add_argument("--form", required=True, help="the form id")
    report.add_argument("--by", default="", help="one to three fields, comma-separated")
    report.add_argument(
        "--people",
        action="store_true",
        help="count a training form's participants: attendances and people (instead of --by)",
    )
    _report_options(report)
    add_dashboard_command(commands)
    _add_collaborative_commands(commands)
    add_people_commands(commands)
    add_attachments_command(commands)
    add_services_command(commands, _report_options)

    opening = commands.add(
        "open",
        cmd_office_open,
        "open a sealed record with the organisation's key file (case managers, admins)",
        group="office",
    )
    opening.add_argument("record_id", metavar="RECORD_ID", help="the record's id")
    org_key_options(opening)
    opening.add_argument(
        "--history", action="store_true", help="every revision, oldest first (default: the head)"
    )
    opening.add_argument("--json", action="store_true", help="print the record as JSON")
    opening.add_argument(
        "--lang",
        default=argparse.SUPPRESS,
        help="language of the labels (en, fr, es, ar; default: the global --lang)",
    )

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


def _report_options(parser: argparse.ArgumentParser) -> None:
    """--json, --k and the filters of a report's records."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--k",
        type=whole_number(2, 1000),
        default=11,
        help="smallest group a figure about victims may show (default 11, CTDC's)",
    )
    _filters(parser)


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


def office_records(
    args: argparse.Namespace, *, people: bool = False
) -> tuple[Any, Any, Iterator[Any]]:
    """The store (closed by the caller), the form as this device holds it, and the records
    the server lists for the office, not deleted, page after page; with `people`, not the
    records the office merged into another as the same person either."""
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
                if not record.deleted and not (people and record.duplicate_of is not None):
                    yield record

    return store, spec, records()


def cmd_office_export(args: argparse.Namespace) -> int:
    from fieldapp.office.exports import ExportedRecord, export_records

    if args.format == "microdata":
        return _microdata_export(args)
    if args.sensitive is not None:
        raise UsageError("--sensitive: only with --format microdata")
    store, spec, records = office_records(args)
    exported = (ExportedRecord.of(r) for r in records)
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


def _microdata_export(args: argparse.Namespace) -> int:
    from fieldapp.office.exports import ExportedRecord
    from fieldapp.office.microdata_export import export_microdata

    if args.labels is not None:
        raise UsageError("--labels: the micro-data export writes codes only")
    store, spec, records = office_records(args)
    try:
        result = export_microdata(
            spec,
            (ExportedRecord.of(r) for r in records),
            Path(args.out),
            k=args.k,
            sensitive=args.sensitive,
            on_progress=lambda n: print(f"{n} records...", file=sys.stderr),
        )
    finally:
        store.close()
    print(result.summary())
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.out)
    return 0


def cmd_office_report(args: argparse.Namespace) -> int:
    from fieldapp.office.aggregates import DisclosurePolicy, build_report

    by = [name.strip() for name in args.by.split(",") if name.strip()]
    if args.people:
        return _people_report(args)
    if not by:
        raise UsageError("--by: name one to three fields")
    store, spec, records = office_records(args, people=True)
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


def cmd_office_open(args: argparse.Namespace) -> int:
    import uuid

    from sync.client import OfficeClient, open_record

    try:
        uuid.UUID(args.record_id)
    except ValueError:
        raise UsageError(f"RECORD_ID: {args.record_id!r} is not a record id") from None
    key_file = read_key_file(args)
    store = open_store(args)
    try:
        client = OfficeClient(store)
        key = unlock_case_files(key_file, store)
        del key_file
        with client, key:
            opened = open_record(client, key, args.record_id, store.forms.get, history=args.history)
    finally:
        store.close()
    lang = args.lang
    if args.json:
        print_json(
            {
                "id": str(opened.id),
                "form_id": opened.form_id,
                "region": opened.region,
                "head_revision": opened.head_revision,
                "consent_withdrawn": opened.consent_withdrawn,
                "revisions": [
                    {
                        "revision": rev.revision,
                        "form_version": rev.form_version,
                        "device_id": rev.device_id,
                        "updated_at": rev.updated_at.isoformat(),
                        "erased": rev.erased,
                        "values": rev.values,
                        "answers": [
                            {"name": a.name, "label": a.label, "text": a.text, "sealed": a.sealed}
                            for a in rev.lines(lang)
                        ],
                    }
                    for rev in opened.revisions
                ],
            }
        )
        return 0
    print(f"Record {opened.id} ({opened.form_id}, region {opened.region or '-'})")
    for rev in opened.revisions:
        print(f"Revision {rev.revision}, {rev.updated_at.isoformat(timespec='minutes')}")
        if rev.erased:
            print("  The sealed part was erased (consent withdrawn): statistics only.")
        for line in rev.lines(lang):
            print(f"  {line.label}" if line.text is None else f"  {line.label}: {line.text}")
    return 0


def _people_report(args: argparse.Namespace) -> int:
    from fieldapp.cli.office_people import people_counts
    from sync.client import OfficeClient

    store = open_store(args)
    try:
        with OfficeClient(store) as client:
            counts = people_counts(client, args.form)
    finally:
        store.close()
    if args.json:
        print_json(counts)
    else:
        print(
            f"{counts['form']}: {counts['attendances']} attendances, {counts['people']} people"
            f" ({counts['to_confirm']} same-name pairs to confirm: `fieldapp office people`)"
        )
    return 0


def cmd_forms_import(args: argparse.Namespace) -> int:
    from fieldapp.office.xlsform import XLSFormError, import_form

    try:
        imported = import_form(
            Path(args.file),
            attach=[Path(a) for a in args.attach],
            form_id=args.form_id,
            version=args.version,
        )
    except XLSFormError as failure:
        for problem in failure.problems:
            print(problem, file=sys.stderr)
        return 1
    spec = imported.spec
    for ref in spec.attachments.values():
        where = " (found beside the form)" if ref.file in imported.found_beside else ""
        print(f"attached {ref.file}: {ref.size:,} bytes, sha256 {ref.sha256[:12]}{where}")
    for warning in spec.import_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.database_url or is_server_dir(args):
        return on_server(args, spec, imported.files, args.org)
    store = open_store(args, unlock=bool(imported.files))
    try:
        for digest, content in imported.files.items():
            store.forms.files.put(digest, content)
        store.forms.add(spec, source=Path(args.file).name)
    finally:
        store.close()
    if spec.awaiting_files:
        files = [awaited.file for awaited in spec.awaiting_files.values()]
        print(
            f"{spec.id} {spec.version} (a draft awaiting {len(files)} data files:"
            f" `fieldapp forms attach {spec.id} {' '.join(files)}`)"
        )
        return 0
    print(f"{spec.id} {spec.version}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fieldapp.office.demo import DEMO_PASSPHRASE, run_demo

    root = data_dir(args.data_dir) / "demo"

    def open_app(server_url: str, device_dir: Path) -> None:
        if args.no_app:
            return
        from fieldapp.ui.app import run_app

        install_office_tools()
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


def _add_collaborative_commands(commands: Commands) -> None:
    share = commands.add(
        "share",
        cmd_office_share,
        "consent (or stop consenting) to share anonymised counts with a data collaborative hub",
        group="office",
    )
    share.add_argument("--consent", required=True, choices=("yes", "no"), help="share or not")
    contribute = commands.add(
        "contribute",
        cmd_office_contribute,
        "send the quarter's counts of identified victims, sealed, to the hub (never records)",
        group="office",
    )
    contribute.add_argument("--period", required=True, help="the quarter, such as 2026Q3")
    for parser in (share, contribute):
        parser.add_argument("--hub", required=True, metavar="URL", help="the hub's address")
        parser.add_argument(
            "--org-key", required=True, metavar="FILE", help="the organisation's key file"
        )
        parser.add_argument("--passphrase-env", default=None, metavar="VAR",
                            help="the key file's passphrase from this variable")  # fmt: skip


def _hub_client(args: argparse.Namespace) -> Any:
    from fieldapp.crypto import OrgKeyPair
    from sync.client import HubClient

    org = OrgKeyPair.load(Path(args.org_key), key_file_passphrase(args))
    return org, HubClient(args.hub, org.hub_signing_key())


def cmd_office_share(args: argparse.Namespace) -> int:
    _, client = _hub_client(args)
    with client:
        member = client.consent(args.consent == "yes", client.info().steward_key)
    print(f"{member.name}: {'sharing' if member.sharing else 'not sharing'} with {args.hub}")
    return 0


def cmd_office_contribute(args: argparse.Namespace) -> int:
    """The quarter's screenings are those made in it, whenever they reached the server: a
    late sync makes a new contribution, which the steward's differencing check weighs."""
    from fieldapp.office.collaborative import HUB_FORM, MONTH, REGION, contribute, quarter_bounds

    try:
        start, end = quarter_bounds(args.period)
    except ValueError as exc:
        raise UsageError(f"--period: {exc}") from None
    args.form, args.region, args.status = HUB_FORM, None, None
    args.received_from, args.received_to = start.isoformat(), None
    org, client = _hub_client(args)
    store, spec, records = office_records(args, people=True)
    try:
        rows = [
            {**record.stats, MONTH: record.created_at.strftime("%Y-%m"), REGION: record.region}
            for record in records
            if start <= record.created_at.date() < end
        ]
    finally:
        store.close()
    with client:
        sent = contribute(client, spec, rows, args.period, org)
    print(f"{args.period}: {len(sent.counts)} counts sent sealed to {args.hub}")
    return 0
