"""A coordinator's office commands: `forms import` (an XLSForm, onto the device or published
on the server), `records import` (rows of a CSV/XLSX file) and `demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldapp.cli._common import (
    PORT,
    Commands,
    database_option,
    is_server_dir,
    open_store,
    server_settings,
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
