"""`fieldapp` command line: a thin layer over the library, for spreadsheets and scripts.

Non-interactive use reads the passphrase from FIELDAPP_PASSPHRASE.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fieldapp import __version__, crypto
from fieldapp.errors import FieldappError
from fieldapp.paths import data_dir, store_path
from sync.protocol import ProtocolError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(FieldappError):
    """The command was called in a way that cannot work."""


def _passphrase(purpose: str, *, confirm: bool = False, env: str = "FIELDAPP_PASSPHRASE") -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"no passphrase: set {env} or run in a terminal")
    value = getpass.getpass(f"{purpose}: ")
    if confirm and getpass.getpass("Repeat it: ") != value:
        raise UsageError("the two passphrases differ")
    return value


def _open_store(args: argparse.Namespace, *, unlock: bool = True) -> Any:
    from fieldapp.store import Store

    path = store_path(args.data_dir)
    store = Store(path)
    if not store.keyring.initialised:
        store.close()
        raise UsageError(f"no store in {path.parent}: run `fieldapp init` first")
    if unlock:
        store.keyring.unlock(_passphrase("Passphrase"))
    return store


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# -- commands -------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from fieldapp.store import Store

    path = store_path(args.data_dir)
    passphrase = _passphrase("New passphrase (10+ characters)", confirm=True)
    store = Store.create(path, passphrase, max_failed_unlocks=args.max_failed_unlocks or None)
    print(f"created {path} (device {store.device_id})")
    store.close()
    return 0


def cmd_forms_list(args: argparse.Namespace) -> int:
    store = _open_store(args, unlock=False)
    forms = store.forms.usable()
    store.close()
    if args.json:
        _print_json([{"id": f.id, "version": f.version, "title": f.title} for f in forms])
    for spec in [] if args.json else forms:
        print(f"{spec.id}\tv{spec.version}\t{spec.label(spec.title, args.lang)}")
    return 0


def cmd_forms_import(args: argparse.Namespace) -> int:
    from fieldapp.office.xlsform import XLSFormError, import_xlsform

    try:
        spec = import_xlsform(Path(args.file), form_id=args.form_id, version=args.version)
    except XLSFormError as failure:
        for problem in failure.problems:
            print(problem, file=sys.stderr)
        return 1
    if args.database_url or _is_server_dir(args):
        from sync.server import admin

        with admin.open_server_storage(_server_settings(args)) as storage:
            admin.publish_form(storage, spec, org=args.org)
        print(f"{spec.id} {spec.version} (published on the server)")
        return 0
    store = _open_store(args, unlock=False)
    store.forms.add(spec, source=Path(args.file).name)
    store.close()
    print(f"{spec.id} {spec.version}")
    return 0


# -- device <-> server ----------------------------------------------------------------------
def cmd_enrol(args: argparse.Namespace) -> int:
    from sync.client import enrol

    store = _open_store(args)
    try:
        result = enrol(
            store, args.server, args.code, fingerprint=args.fingerprint, label=args.label
        )
    finally:
        store.close()
    team = (
        f"team search on, {result.team_entries} participants to share"
        if result.team_search
        else "team search unavailable (the code carried no team key)"
    )
    print(
        f"enrolled device {result.device_id} in organisation {result.organisation_id}"
        f" as {result.role}; {result.sealed_waiting} waiting records sealed; {team}"
    )
    return 0


def _progress_bar(done: int, total: int, sent: int) -> None:
    width = 30
    filled = width * done // total if total else width
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {done}/{total} records, {sent / 1024:.0f} KiB", end="", file=sys.stderr)


def cmd_sync(args: argparse.Namespace) -> int:
    from sync.client import SyncClient

    store = _open_store(args)
    try:
        with SyncClient(store, on_progress=None if args.quiet else _progress_bar) as client:
            report = client.sync()
    finally:
        store.close()
    if not args.quiet:
        print(file=sys.stderr)
    counts = {
        "accepted": report.accepted,
        "duplicate": report.duplicate,
        "conflict": report.conflict,
        "rejected": report.rejected,
        "unconfirmed": report.unconfirmed,
        "requeued": report.requeued,
        "lost": report.lost,
        "pulled": report.pulled,
        "bytes_sent": report.bytes_sent,
    }
    offset = None if report.clock_offset is None else report.clock_offset.total_seconds()
    if args.json:
        _print_json({**counts, "clock_offset_seconds": offset, "errors": report.errors})
    else:
        print(", ".join(f"{name} {value}" for name, value in counts.items()))
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
    if report.clock_warning is not None:
        print(f"warning: {report.clock_warning}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_app(args: argparse.Namespace) -> int:
    from fieldapp.ui.app import run_app

    run_app(
        data_dir(args.data_dir), web=args.web, host=args.host, port=args.port,
        server_url=args.server,
    )  # fmt: skip
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


# -- server side ----------------------------------------------------------------------------
def _server_settings(args: argparse.Namespace) -> Any:
    from sync.server.settings import ServerSettings

    return ServerSettings(data_dir=data_dir(args.data_dir), database_url=args.database_url or "")


def _is_server_dir(args: argparse.Namespace) -> bool:
    return (data_dir(args.data_dir) / "server.db").exists()


def cmd_serve(args: argparse.Namespace) -> int:
    from sync.server.serve import serve

    settings = _server_settings(args)
    print(f"serving on http://{args.host}:{args.port} (data: {settings.data_dir})", flush=True)
    serve(settings, args.host, args.port)
    return 0


def cmd_admin_create_org(args: argparse.Namespace) -> int:
    from sync.server import admin

    if not args.recipient:
        raise UsageError(
            "an organisation needs at least one public key its devices seal records to:"
            " make one with `fieldapp keys generate --out FILE`,"
            " then pass --recipient FILE.pub.json"
        )
    recipients = [
        crypto.RecipientKey.model_validate_json(Path(p).read_text(encoding="utf-8"))
        for p in args.recipient
    ]
    with admin.open_server_storage(_server_settings(args)) as storage:
        org = admin.create_org(storage, args.name, recipients=recipients)
    print(f"{org.id}\t{org.name}")
    return 0


def cmd_admin_enrol_code(args: argparse.Namespace) -> int:
    from sync.server import admin

    server = None
    if args.qr:
        from sync.protocol import check_server_url

        if not args.server:
            raise UsageError("--qr needs --server URL: the address devices reach the server at")
        server = check_server_url(args.server)  # before a code is issued for nothing
    org_key = None
    if args.org_key:
        org_key = crypto.OrgKeyPair.load(
            Path(args.org_key), _passphrase("Passphrase of the organisation key")
        )
    settings = _server_settings(args)
    with admin.open_server_storage(settings) as storage:
        team_key = (
            None
            if org_key is None
            else admin.derive_team_key(storage, args.org, org_key, args.region)
        )
        issued = admin.enrol_code(
            storage,
            args.org,
            args.role,
            args.region,
            args.ttl_hours,
            server_key=admin.server_public_key(settings, storage),
            team_key=team_key,
        )
    if server is not None:
        admin.write_enrolment_qr(Path(args.qr), server, issued)
        print(
            f"QR image written to {args.qr}: it is as secret as the code until the code is used"
            " or expires",
            file=sys.stderr,
        )
    if args.json:
        _print_json({**issued.model_dump(mode="json"), "team_key": team_key is not None})
    else:
        team = ", with the team key" if team_key is not None else ""
        print(
            f"{issued.code}\t(role {issued.role}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC"
            f"{team})"
        )
    return 0


def cmd_admin_share_event(args: argparse.Namespace) -> int:
    from sync.server import admin

    details: dict[str, Any] = {}
    for pair in args.details:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{pair!r}: give event details as FIELD=VALUE")
        details[name] = value
    with admin.open_server_storage(_server_settings(args)) as storage:
        shared = admin.share_event(storage, args.org, details, region=args.region, key=args.key)
    where = f"region {shared.region}" if shared.region else "every region"
    print(f"{shared.key}\tshared with the trainers of {where}")
    return 0


def cmd_admin_withdraw_event(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(_server_settings(args)) as storage:
        admin.withdraw_event(storage, args.org, args.key)
    print(f"withdrew {args.key}: devices drop it on their next sync")
    return 0


def cmd_admin_revoke(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(_server_settings(args)) as storage:
        device = admin.revoke(storage, args.device_id)
    print(f"revoked {device.id}")
    return 0


def cmd_admin_resolve(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(_server_settings(args)) as storage:
        org = args.org
        if org is None:  # a server with one organisation needs no --org
            organisations = storage.list_organisations()
            if len(organisations) != 1:
                raise UsageError("this server has several organisations (or none): pass --org")
            org = organisations[0].id
        head = admin.resolve_conflict(storage, org, args.record_id, args.keep)
    print(f"resolved {head.id}: revision {head.head_revision} is the record's version now")
    return 0


def cmd_admin_stats(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(_server_settings(args)) as storage:
        counts = admin.stats(storage)
    if args.json:
        _print_json(counts)
        return 0
    for org in counts["organisations"]:
        print(f"{org['name']}: {org['records']} records")
        for form_id, by_status in org["forms"].items():
            detail = ", ".join(f"{k} {v}" for k, v in by_status.items() if v)
            print(f"  {form_id}: {detail}")
    print(f"total: {counts['records']} records")
    return 0


def cmd_records_import(args: argparse.Namespace) -> int:
    from fieldapp.office.records_io import import_records

    store = _open_store(args)
    try:
        report = import_records(
            store, args.form, Path(args.file), into=args.into, repeat=args.repeat, lang=args.lang
        )
    finally:
        store.close()
    for error in report.errors:
        print(error, file=sys.stderr)
    target = f"into record {args.into}" if args.into else "as final records"
    refused = len({e.row for e in report.errors})
    print(f"{report.rows_saved} rows saved {target}; {refused} rows refused")
    return 1 if report.errors else 0


def cmd_records_list(args: argparse.Namespace) -> int:
    store = _open_store(args, unlock=False)
    page = store.records.page(form_id=args.form, status=args.status, limit=args.limit)
    total = store.records.count(form_id=args.form, status=args.status)
    store.close()
    if args.json:
        _print_json([item.model_dump() for item in page.items])
        return 0
    for item in page.items:
        print(f"{item.id}\t{item.form_id}\t{item.status}\t{item.updated_at}")
    print(f"{len(page.items)} of {total} records")
    return 0


def cmd_records_show(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        record = store.records.get(args.id)
        spec = store.forms.get(record.form_id, record.form_version)
    finally:
        store.close()
    if args.json:
        _print_json(record.model_dump())
        return 0
    print(f"{record.id}  {spec.label(spec.title, args.lang)}  [{record.status}]")
    for field in spec.fields():
        if field.name in record.values:
            print(
                f"  {spec.label(field.label, args.lang) or field.name}: {record.values[field.name]}"
            )
    return 0


def cmd_records_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    if args.sent_days < 0:
        raise UsageError("--sent-days: must be 0 or more")
    store = _open_store(args, unlock=False)
    try:
        purged = store.outbox.purge_sent(older_than=timedelta(days=args.sent_days))
    finally:
        store.close()
    print(f"{purged} sent records removed from this device (receipts and statistics kept)")
    return 0


def cmd_keys_generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        raise UsageError(f"{out} exists: refusing to overwrite a private key")
    passphrase = _passphrase("Passphrase for the organisation key", confirm=True)
    pair = crypto.OrgKeyPair.generate(args.kem)
    pair.save(out, passphrase)
    public = out.with_name(out.stem + ".pub.json")
    public.write_text(pair.recipient.model_dump_json(indent=2), encoding="utf-8")
    print(
        f"private key: {out} (keep it offline)\n"
        f"public key:  {public} (key id {pair.recipient.key_id})"
    )
    return 0


# -- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldapp", description="Offline-first, encrypted field data collection."
    )
    parser.add_argument("--version", action="version", version=f"fieldapp {__version__}")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where the store lives (default: $FIELDAPP_DATA_DIR, else the app data folder)",
    )
    parser.add_argument(
        "--lang", default="en", help="language of labels and messages (en, fr, es, ar)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    init = add(commands, "init", cmd_init, "create the encrypted store on this device")
    init.add_argument(
        "--max-failed-unlocks", type=int, default=10,
        help="erase the key after this many wrong passphrases (0: never)",
    )  # fmt: skip

    forms = commands.add_parser("forms", help="list and import forms", description="Forms.")
    forms_cmds = forms.add_subparsers(dest="forms_command", required=True, metavar="COMMAND")
    listing = add(forms_cmds, "list", cmd_forms_list, "list the forms on this device")
    listing.add_argument("--json", action="store_true", help="print JSON")
    importing = add(forms_cmds, "import", cmd_forms_import, "import an XLSForm (.xlsx/.xls)")
    importing.add_argument("file", help="the XLSForm file")
    importing.add_argument("--form-id", default=None, help="override the form id")
    importing.add_argument("--version", default=None, help="override the form version")
    importing.add_argument(
        "--org", default=None, help="on a server: publish for this organisation only"
    )
    _database_option(importing)

    records = commands.add_parser(
        "records", help="import, list and show records", description="Records."
    )
    record_cmds = records.add_subparsers(dest="records_command", required=True, metavar="COMMAND")
    rec_import = add(record_cmds, "import", cmd_records_import, "import rows of a CSV/XLSX file")
    rec_import.add_argument("file", help="a .csv or .xlsx file; the first row names the fields")
    rec_import.add_argument("--form", required=True, help="the form id the rows answer")
    rec_import.add_argument(
        "--into", default=None, help="add the rows to this record's repeat group (e.g. an event)"
    )
    rec_import.add_argument("--repeat", default=None, help="the repeat group for --into")
    rec_list = add(record_cmds, "list", cmd_records_list, "list records, newest first")
    rec_list.add_argument("--form", default=None, help="only this form")
    rec_list.add_argument(
        "--status", default=None,
        choices=["draft", "final", "queued", "sent", "rejected", "conflict"],
        help="only this status",
    )  # fmt: skip
    rec_list.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    rec_list.add_argument("--json", action="store_true", help="print JSON")
    rec_show = add(record_cmds, "show", cmd_records_show, "show one record (needs the passphrase)")
    rec_show.add_argument("id", help="the record id")
    rec_show.add_argument("--json", action="store_true", help="print JSON")

    demo = add(
        commands, "demo",
        cmd_demo,
        "run the whole job locally: server, enrolment, sample records, sync",
    )  # fmt: skip
    demo.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    demo.add_argument("--no-app", action="store_true", help="do not open the app at the end")
    demo.add_argument("--web", action="store_true", help="open the app as a web page")
    demo.add_argument("--app-port", type=int, default=None, help="web app port (default: free)")
    app = add(commands, "app", cmd_app, "open the app (a window, or a web page on 127.0.0.1)")
    app.add_argument("--web", action="store_true", help="serve the app to a browser")
    app.add_argument("--host", default="127.0.0.1", help="address for --web (default loopback)")
    app.add_argument("--port", type=int, default=None, help="port for --web (default: free)")
    app.add_argument("--server", default=None, help="the sync server URL, if not yet set")
    enrol = add(commands, "enrol", cmd_enrol, "enrol this device with a server")
    enrol.add_argument("--server", required=True, help="the server URL (https://, or loopback)")
    enrol.add_argument(
        "--code", required=True, help="the one-time enrolment code (8 groups of 4 symbols)"
    )
    enrol.add_argument(
        "--fingerprint", default=None, metavar="HEX",
        help="the code's full fingerprint (64 hex digits, from the QR link or `admin enrol-code"
        " --json`): checked too, beyond the check the code itself carries",
    )  # fmt: skip
    enrol.add_argument("--label", default="", help="a name for this device, shown to admins")
    sync_cmd = add(commands, "sync", cmd_sync, "send waiting records and fetch updates, once")
    sync_cmd.add_argument("--json", action="store_true", help="print the outcome counts as JSON")
    sync_cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    serve = add(commands, "serve", cmd_serve, "run the central sync server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    _database_option(serve)

    admin = commands.add_parser(
        "admin", help="administer the central server", description="Server administration."
    )
    admin_cmds = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    create_org = add(admin_cmds, "create-org", cmd_admin_create_org, "create an organisation")
    create_org.add_argument("name", help="the organisation's name")
    create_org.add_argument(
        "--recipient", action="append", default=[],
        help="a public key file (from `keys generate`) records are sealed to; required, repeatable",
    )  # fmt: skip
    code = add(admin_cmds, "enrol-code", cmd_admin_enrol_code, "issue a one-time enrolment code")
    code.add_argument("--org", required=True, help="organisation id or name")
    code.add_argument(
        "--role", required=True,
        choices=["collector", "trainer", "coordinator", "case_manager", "admin"],
        help="the device's role",
    )  # fmt: skip
    code.add_argument("--region", default=None, help="the device's region")
    code.add_argument("--ttl-hours", type=float, default=24.0, help="validity (default 24)")
    code.add_argument("--json", action="store_true", help="print JSON")
    code.add_argument(
        "--org-key", default=None, metavar="PATH",
        help="the organisation's private key file: the code then brings the team key of its"
        " region, so the device shares and finds participants with its team",
    )  # fmt: skip
    code.add_argument(
        "--qr", default=None, metavar="PATH",
        help="also write the code as a QR image (PNG) for the device to scan; needs --server",
    )  # fmt: skip
    code.add_argument(
        "--server", default=None, metavar="URL", help="the server address devices reach (for --qr)"
    )
    share = add(
        admin_cmds, "share-event", cmd_admin_share_event,
        "share a training event with trainers: their devices start its register from it",
    )  # fmt: skip
    share.add_argument("--org", required=True, help="organisation id or name")
    share.add_argument("--region", default=None, help="only this region's devices (default all)")
    share.add_argument("--key", default=None, help="the event's key, to replace it (default new)")
    share.add_argument(
        "details", nargs="+", metavar="FIELD=VALUE",
        help="the training form's event fields, e.g. title=... start_date=2026-12-01"
        " end_date=... country=KH \"delivery_languages=en local\" (title and start_date required)",
    )  # fmt: skip
    withdraw = add(
        admin_cmds, "withdraw-event", cmd_admin_withdraw_event, "stop sharing a training event"
    )
    withdraw.add_argument("key", help="the event's key (printed by share-event)")
    withdraw.add_argument("--org", required=True, help="organisation id or name")
    revoke = add(admin_cmds, "revoke", cmd_admin_revoke, "revoke a device's access")
    revoke.add_argument("device_id", help="the device id")
    resolve = add(
        admin_cmds, "resolve", cmd_admin_resolve,
        "settle a record's conflict: keep one version, the others stay as superseded",
    )  # fmt: skip
    resolve.add_argument("record_id", help="the record id (a UUID)")
    resolve.add_argument(
        "--keep", required=True, metavar="REVISION",
        help="the revision to keep: the head or one of the versions in conflict with it",
    )  # fmt: skip
    resolve.add_argument("--org", default=None, help="organisation id or name (if several)")
    stats = add(admin_cmds, "stats", cmd_admin_stats, "record counts by organisation and form")
    stats.add_argument("--json", action="store_true", help="print JSON")
    for sub in (create_org, code, share, withdraw, revoke, resolve, stats):
        _database_option(sub)

    purge = add(
        record_cmds, "purge",
        cmd_records_purge,
        "erase local copies of records the server confirmed (receipt kept)",
    )  # fmt: skip
    purge.add_argument(
        "--sent-days", type=float, required=True,
        help="only records the server took more than this many days ago, by the server's clock"
        " (0: all receipted records)",
    )  # fmt: skip

    keys = commands.add_parser("keys", help="organisation keys", description="Organisation keys.")
    key_cmds = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    generate = add(key_cmds, "generate", cmd_keys_generate, "make an organisation key pair")
    generate.add_argument(
        "--out", required=True, help="private key file (the public key goes beside it)"
    )
    generate.add_argument(
        "--kem", default="MLKEM768_X25519", choices=["MLKEM768_X25519", "X25519"],
        help="key encapsulation (default: hybrid post-quantum)",
    )  # fmt: skip
    return parser


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="server database (default: SQLite in the data dir; postgresql://... for PostgreSQL)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data_dir:
        data_dir(args.data_dir)
    try:
        code: int = args.handler(args)
    except (FieldappError, ProtocolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
