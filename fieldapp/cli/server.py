"""The central server's commands: `serve`, and `admin` (organisations, enrolment codes,
shared events, revocation, conflicts, statistics) over the server's storage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fieldapp import crypto
from fieldapp.cli._common import (
    PORT,
    Commands,
    UsageError,
    ask_passphrase,
    database_option,
    number,
    print_json,
    server_settings,
    whole_number,
)


def _ttl_hours(text: str) -> float:
    """An argparse type: how long an enrolment code lives, as the server allows."""
    from sync.server.admin import MAX_CODE_TTL_HOURS  # server side: imported when used

    return number(0, MAX_CODE_TTL_HOURS, low_included=False)(text)


# Codes one command issues: a relay's office enrols a few dozen devices, not thousands.
MAX_CODES_AT_ONCE = 200


def add_commands(commands: Commands) -> None:
    serve = commands.add(
        "serve", cmd_serve, "run the central sync server, or a regional relay (--upstream)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=PORT, default=8765, help="port (default 8765)")
    serve.add_argument(
        "--upstream", default=None, metavar="URL",
        help="run as a relay of this server (the centre, or a regional relay): devices enrol"
        " and sync here, and everything is forwarded there unchanged",
    )  # fmt: skip
    serve.add_argument(
        "--enrol-code", default=None, metavar="CODE",
        help="the relay's one-time code from the upstream (role relay); needed once",
    )  # fmt: skip
    serve.add_argument(
        "--forward-every", type=number(0.05, 3600), default=2.0, metavar="SECONDS",
        help="a relay's pause between rounds with its upstream (default 2)",
    )  # fmt: skip
    serve.add_argument(
        "--hub", default=None, metavar="FILE",
        help="also serve as a data collaborative hub with the steward's public keys"
        " (hub-public.json, from `fieldapp hub init`)",
    )  # fmt: skip
    database_option(serve)

    create_org = commands.add(
        "create-org", cmd_admin_create_org, "create an organisation", group="admin"
    )
    create_org.add_argument("name", help="the organisation's name")
    create_org.add_argument(
        "--recipient", action="append", default=[],
        help="a public key file (from `keys generate`) records are sealed to; required, repeatable",
    )  # fmt: skip
    code = commands.add(
        "enrol-code", cmd_admin_enrol_code, "issue a one-time enrolment code", group="admin"
    )
    code.add_argument("--org", required=True, help="organisation id or name")
    code.add_argument(
        "--role", required=True,
        choices=["collector", "trainer", "coordinator", "case_manager", "admin", "relay"],
        help="the device's role (relay: a regional office's node, `serve --upstream`)",
    )  # fmt: skip
    code.add_argument("--region", default=None, help="the device's region")
    code.add_argument(
        "--relay", default=None, metavar="DEVICE_ID",
        help="the device enrols at this relay (its id as `admin stats --relayed` or the relay's"
        " log shows): the code checks the relay's key; the region is the relay's; the relay"
        " takes the code's hash and may enrol the device with it while its line is down",
    )  # fmt: skip
    code.add_argument(
        "--ttl-hours", type=_ttl_hours, default=24.0, help="validity in hours (default 24)"
    )
    code.add_argument(
        "--count", type=whole_number(1, MAX_CODES_AT_ONCE), default=1, metavar="N",
        help="issue N codes at once (one a line; a JSON list with --json), say for a relay's"
        " office to enrol its devices while its line is down",
    )  # fmt: skip
    code.add_argument("--json", action="store_true", help="print JSON")
    code.add_argument(
        "--org-key", default=None, metavar="PATH",
        help="the organisation's private key file: the code then brings the team key of its"
        " region, so the device shares and finds participants with its team, and the"
        " organisation's match key, so its records are checked for duplicates",
    )  # fmt: skip
    code.add_argument(
        "--qr", default=None, metavar="PATH",
        help="also write the code as a QR image (PNG) for the device to scan; needs --server",
    )  # fmt: skip
    code.add_argument(
        "--server", default=None, metavar="URL", help="the server address devices reach (for --qr)"
    )
    share = commands.add(
        "share-event", cmd_admin_share_event,
        "share a training event with trainers: their devices start its register from it",
        group="admin",
    )  # fmt: skip
    share.add_argument("--org", required=True, help="organisation id or name")
    share.add_argument("--region", default=None, help="only this region's devices (default all)")
    share.add_argument("--key", default=None, help="the event's key, to replace it (default new)")
    share.add_argument(
        "details", nargs="+", metavar="FIELD=VALUE",
        help="the training form's event fields, e.g. title=... start_date=2026-12-01"
        " end_date=... country=KH \"delivery_languages=en local\" (title and start_date required)",
    )  # fmt: skip
    withdraw = commands.add(
        "withdraw-event", cmd_admin_withdraw_event, "stop sharing a training event", group="admin"
    )
    withdraw.add_argument("key", help="the event's key (printed by share-event)")
    withdraw.add_argument("--org", required=True, help="organisation id or name")
    revoke = commands.add("revoke", cmd_admin_revoke, "revoke a device's access", group="admin")
    revoke.add_argument("device_id", help="the device id")
    resolve = commands.add(
        "resolve", cmd_admin_resolve,
        "settle a record's conflict: keep one version, the others stay as superseded",
        group="admin",
    )  # fmt: skip
    resolve.add_argument("record_id", help="the record id (a UUID)")
    resolve.add_argument(
        "--keep", required=True, metavar="REVISION",
        help="the revision to keep: the head or one of the versions in conflict with it",
    )  # fmt: skip
    resolve.add_argument("--org", default=None, help="organisation id or name (if several)")
    stats = commands.add(
        "stats", cmd_admin_stats, "record counts by organisation and form", group="admin"
    )
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument(
        "--relayed", type=number(0, 10_000), default=0, metavar="N",
        help="also the N newest revisions that came through relays, with each hop's time",
    )  # fmt: skip
    for sub in (create_org, code, share, withdraw, revoke, resolve, stats):
        database_option(sub)


def cmd_serve(args: argparse.Namespace) -> int:
    from sync.server.serve import serve

    settings = server_settings(args)
    if args.hub is not None:
        if not Path(args.hub).is_file():
            raise UsageError(f"--hub: {args.hub} is not a file (make it with `fieldapp hub init`)")
        settings = settings.model_copy(update={"hub_keys": Path(args.hub)})
    if args.upstream is not None:
        from sync.relay import serve_relay

        print(
            f"relay serving on http://{args.host}:{args.port} for {args.upstream}"
            f" (data: {settings.data_dir})",
            flush=True,
        )
        serve_relay(
            settings, args.upstream, args.enrol_code, args.host, args.port,
            forward_every=args.forward_every,
        )  # fmt: skip
        return 0
    if args.enrol_code is not None:
        raise UsageError("--enrol-code is a relay's: pass --upstream URL with it")
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
    with admin.open_server_storage(server_settings(args)) as storage:
        org = admin.create_org(storage, args.name, recipients=recipients)
    print(f"{org.id}\t{org.name}")
    return 0


def cmd_admin_enrol_code(args: argparse.Namespace) -> int:
    from sync.server import admin

    server = None
    if args.qr and args.count != 1:
        raise UsageError("--qr writes one code: leave out --count")
    if args.qr:
        from sync.protocol import check_server_url

        if not args.server:
            raise UsageError("--qr needs --server URL: the address devices reach the server at")
        server = check_server_url(args.server)  # before a code is issued for nothing
    org_key = None
    if args.org_key:
        org_key = crypto.OrgKeyPair.load(
            Path(args.org_key), ask_passphrase("Passphrase of the organisation key")
        )
    settings = server_settings(args)
    with admin.open_server_storage(settings) as storage:
        region, server_key = args.region, None
        if args.relay is not None:
            region, server_key = admin.relay_for_code(storage, args.relay, args.region)
        team_key = match_key = None
        if org_key is not None:
            team_key = admin.derive_team_key(storage, args.org, org_key, region)
            match_key = admin.derive_match_key(storage, args.org, org_key)
        batch = [
            admin.enrol_code(
                storage,
                args.org,
                args.role,
                region,
                args.ttl_hours,
                server_key=server_key or admin.server_public_key(settings, storage),
                team_key=team_key,
                match_key=match_key,
                relay_id=args.relay,
            )
            for _ in range(args.count)
        ]
    if server is not None:
        admin.write_enrolment_qr(Path(args.qr), server, batch[0])
        print(
            f"QR image written to {args.qr}: it is as secret as the code until the code is used"
            " or expires",
            file=sys.stderr,
        )
    if args.json:
        keys = {"team_key": team_key is not None, "match_key": match_key is not None}
        dumps = [{**issued.model_dump(mode="json"), **keys} for issued in batch]
        print_json(dumps[0] if args.count == 1 else dumps)
        return 0
    team = ", with the team key and the match key" if team_key is not None else ""
    for issued in batch:
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
    with admin.open_server_storage(server_settings(args)) as storage:
        shared = admin.share_event(storage, args.org, details, region=args.region, key=args.key)
    where = f"region {shared.region}" if shared.region else "every region"
    print(f"{shared.key}\tshared with the trainers of {where}")
    return 0


def cmd_admin_withdraw_event(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(server_settings(args)) as storage:
        admin.withdraw_event(storage, args.org, args.key)
    print(f"withdrew {args.key}: devices drop it on their next sync")
    return 0


def cmd_admin_revoke(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(server_settings(args)) as storage:
        device = admin.revoke(storage, args.device_id)
    print(f"revoked {device.id}")
    return 0


def cmd_admin_resolve(args: argparse.Namespace) -> int:
    from sync.server import admin

    with admin.open_server_storage(server_settings(args)) as storage:
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

    with admin.open_server_storage(server_settings(args)) as storage:
        counts = admin.stats(storage, relayed=int(args.relayed))
    if args.json:
        print_json(counts)
        return 0
    for revision in counts.get("relayed", []):
        path = " -> ".join(f"{hop['node']} at {hop['received_at']}" for hop in revision["hops"])
        print(
            f"{revision['id']} {revision['revision']}: via {path} -> centre at"
            f" {revision['received_at']}"
        )
    for org in counts["organisations"]:
        waiting = org["waiting_for_attachments"]
        print(
            f"{org['name']}: {org['records']} records"
            + (f" ({waiting} waiting for attachments)" if waiting else "")
        )
        for form_id, by_status in org["forms"].items():
            detail = ", ".join(f"{k} {v}" for k, v in by_status.items() if v)
            print(f"  {form_id}: {detail}")
    print(f"total: {counts['records']} records")
    return 0
