"""The device's commands: `init`, `forms list`, `records list/show/purge`, `keys generate`,
`app`, `enrol` and `sync`, each a thin call into the store, the sync client or the app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldapp import crypto
from fieldapp.cli._common import (
    PORT,
    Commands,
    UsageError,
    ask_passphrase,
    install_office_tools,
    number,
    open_store,
    print_json,
    whole_number,
)
from fieldapp.forms.attachments import awaiting_message
from fieldapp.paths import data_dir, store_path
from fieldapp.store import DEFAULT_MAX_FAILED_UNLOCKS, MAX_FAILED_UNLOCKS_CEILING


def add_commands(commands: Commands) -> None:
    init = commands.add("init", cmd_init, "create the encrypted store on this device")
    init.add_argument(
        "--max-failed-unlocks", type=whole_number(0, MAX_FAILED_UNLOCKS_CEILING),
        default=DEFAULT_MAX_FAILED_UNLOCKS,
        help="erase the key after this many wrong passphrases, 1 to"
        f" {MAX_FAILED_UNLOCKS_CEILING} (0: never; default {DEFAULT_MAX_FAILED_UNLOCKS})",
    )  # fmt: skip

    listing = commands.add("list", cmd_forms_list, "list the forms on this device", group="forms")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = commands.add(
        "show", cmd_forms_show, "a form's questions and its import warnings", group="forms"
    )
    show.add_argument("form", help="the form id")
    show.add_argument("--version", default=None, help="this version (default: the newest)")

    rec_list = commands.add("list", cmd_records_list, "list records, newest first", group="records")
    rec_list.add_argument("--form", default=None, help="only this form")
    rec_list.add_argument(
        "--status", default=None,
        choices=["draft", "final", "queued", "sent", "rejected", "conflict"],
        help="only this status",
    )  # fmt: skip
    rec_list.add_argument(
        "--limit", type=whole_number(1, 10_000), default=50, help="how many (default 50)"
    )
    rec_list.add_argument("--json", action="store_true", help="print JSON")
    rec_show = commands.add(
        "show", cmd_records_show, "show one record (needs the passphrase)", group="records"
    )
    rec_show.add_argument("id", help="the record id")
    rec_show.add_argument("--json", action="store_true", help="print JSON")
    purge = commands.add(
        "purge", cmd_records_purge,
        "erase local copies of records the server confirmed (receipt kept)", group="records",
    )  # fmt: skip
    purge.add_argument(
        "--sent-days", type=number(0, 36_500), required=True,
        help="only records the server took more than this many days ago, by the server's clock"
        " (0: all receipted records)",
    )  # fmt: skip

    generate = commands.add(
        "generate", cmd_keys_generate, "make an organisation key pair", group="keys"
    )
    generate.add_argument(
        "--out", required=True, help="private key file (the public key goes beside it)"
    )
    generate.add_argument(
        "--kem", default="MLKEM768_X25519", choices=["MLKEM768_X25519", "X25519"],
        help="key encapsulation (default: hybrid post-quantum)",
    )  # fmt: skip

    app = commands.add("app", cmd_app, "open the app (a window, or a web page on 127.0.0.1)")
    app.add_argument("--web", action="store_true", help="serve the app to a browser")
    app.add_argument("--host", default="127.0.0.1", help="address for --web (default loopback)")
    app.add_argument("--port", type=PORT, default=None, help="port for --web (default: free)")
    app.add_argument("--server", default=None, help="the sync server URL, if not yet set")
    enrol = commands.add("enrol", cmd_enrol, "enrol this device with a server")
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
    sync_cmd = commands.add("sync", cmd_sync, "send waiting records and fetch updates, once")
    sync_cmd.add_argument("--json", action="store_true", help="print the outcome counts as JSON")
    sync_cmd.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_init(args: argparse.Namespace) -> int:
    from fieldapp.store import Store

    path = store_path(args.data_dir)
    passphrase = ask_passphrase("New passphrase (10+ characters)", confirm=True)
    # 0 is "never erase": the store's None.
    store = Store.create(path, passphrase, max_failed_unlocks=args.max_failed_unlocks or None)
    print(f"created {path} (device {store.device_id})")
    store.close()
    return 0


def cmd_forms_list(args: argparse.Namespace) -> int:
    store = open_store(args, unlock=False)
    forms = store.forms.usable()
    store.close()
    if args.json:
        print_json([{"id": f.id, "version": f.version, "title": f.title} for f in forms])
    for spec in [] if args.json else forms:
        print(f"{spec.id}\tv{spec.version}\t{spec.label(spec.title, args.lang)}")
    return 0


def cmd_forms_show(args: argparse.Namespace) -> int:
    from fieldapp.cli.office_forms import server_draft_shown

    if server_draft_shown(args):
        return 0
    store = open_store(args, unlock=False)
    try:
        spec = store.forms.stored(args.form, args.version)
    finally:
        store.close()
    questions = sum(1 for _ in spec.fields())
    print(f"{spec.id}\tv{spec.version}\t{spec.label(spec.title, args.lang)}")
    print(f"{questions} fields; languages: {', '.join(spec.languages)}")
    print(f"{len(spec.import_warnings)} import warnings")
    for warning in spec.import_warnings:
        print(f"  {warning}")
    if spec.awaiting_files:
        print(awaiting_message(spec))
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    from sync.client import enrol

    store = open_store(args)
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

    store = open_store(args)
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
        print_json({**counts, "clock_offset_seconds": offset, "errors": report.errors})
    else:
        print(", ".join(f"{name} {value}" for name, value in counts.items()))
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
    if report.clock_warning is not None:
        print(f"warning: {report.clock_warning}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_app(args: argparse.Namespace) -> int:
    from fieldapp.ui.app import run_app

    install_office_tools()
    run_app(
        data_dir(args.data_dir), web=args.web, host=args.host, port=args.port,
        server_url=args.server,
    )  # fmt: skip
    return 0


def cmd_records_list(args: argparse.Namespace) -> int:
    store = open_store(args, unlock=False)
    page = store.records.page(form_id=args.form, status=args.status, limit=args.limit)
    total = store.records.count(form_id=args.form, status=args.status)
    store.close()
    if args.json:
        print_json([item.model_dump() for item in page.items])
        return 0
    for item in page.items:
        print(f"{item.id}\t{item.form_id}\t{item.status}\t{item.updated_at}")
    print(f"{len(page.items)} of {total} records")
    return 0


def cmd_records_show(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        record = store.records.get(args.id)
        spec = store.forms.get(record.form_id, record.form_version)
    finally:
        store.close()
    if args.json:
        print_json(record.model_dump())
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
    store = open_store(args, unlock=False)
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
    passphrase = ask_passphrase("Passphrase for the organisation key", confirm=True)
    pair = crypto.OrgKeyPair.generate(args.kem)
    pair.save(out, passphrase)
    public = out.with_name(out.stem + ".pub.json")
    public.write_text(pair.recipient.model_dump_json(indent=2), encoding="utf-8")
    print(
        f"private key: {out} (keep it offline)\n"
        f"public key:  {public} (key id {pair.recipient.key_id})"
    )
    return 0
