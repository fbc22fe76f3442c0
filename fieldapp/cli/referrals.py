"""`fieldapp referrals`: referrals between organisations from an enrolled device, a thin
layer over `sync.client.ReferralsClient`. `directory` fetches (and keeps) the directory,
`services` sets an admin's organisation's services, `send` refers a record of this device,
`list` shows outgoing referrals with their status or, with `--incoming`, the referrals to
this organisation (opened with `--org-key`), `accept`, `decline` and `delivered` answer one.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from fieldapp.cli._common import (
    Commands,
    UsageError,
    print_json,
    read_key_file,
    store_client,
    unlock_case_files,
)
from sync.protocol import DECLINE_REASONS

__all__ = ["add_commands"]


def add_commands(commands: Commands) -> None:
    directory = commands.add(
        "directory", cmd_directory, "the organisations and services to refer to", group="referrals"
    )
    directory.add_argument("--json", action="store_true", help="print JSON")

    services = commands.add(
        "services", cmd_services, "set this organisation's services (admins)", group="referrals"
    )
    services.add_argument(
        "services", nargs="*", metavar="CODE=LABEL", help="e.g. legal='Legal aid' (none: leave)"
    )

    send = commands.add(
        "send", cmd_send, "refer a record of this device to another organisation's service",
        group="referrals",
    )  # fmt: skip
    send.add_argument("record_id", metavar="RECORD_ID", help="the record's id")
    send.add_argument("--to", required=True, metavar="ORG", help="the organisation's id")
    send.add_argument("--service", required=True, metavar="CODE", help="the service's code")
    send.add_argument("--note", default=None, help="a note for the receiver (sealed)")
    send.add_argument("--json", action="store_true", help="print JSON")

    listing = commands.add(
        "list", cmd_list, "referrals sent, with their status, or received", group="referrals"
    )
    listing.add_argument("--incoming", action="store_true", help="referrals to this organisation")
    listing.add_argument(
        "--org-key", default=None, metavar="FILE", help="open incoming ones with this key file"
    )
    listing.add_argument(
        "--passphrase-env", default=None, metavar="VAR",
        help="read the key file's passphrase from this environment variable",
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="print JSON")

    for name, help_text in (
        ("accept", "accept a referral to this organisation"),
        ("decline", "decline a referral to this organisation, saying why"),
        ("delivered", "report an accepted referral's service delivered"),
    ):
        answer = commands.add(name, cmd_answer, help_text, group="referrals")
        answer.add_argument("referral_id", metavar="REFERRAL_ID", help="the referral's id")
        if name == "decline":
            answer.add_argument("--reason", required=True, choices=DECLINE_REASONS)
        answer.set_defaults(answer=name)


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    from sync.client import ReferralsClient

    return store_client(args, ReferralsClient)


def _line(referral: Any) -> str:
    other = referral.to_org_name if referral.direction == "outgoing" else referral.from_org_name
    reason = f" ({referral.reason})" if referral.reason else ""
    return (
        f"{referral.id}\t{referral.sent_at:%Y-%m-%d}\t{other}\t{referral.service}"
        f"\t{referral.status}{reason}"
    )


def cmd_directory(args: argparse.Namespace) -> int:
    store, client = _client(args)
    try:
        with client:
            directory = client.directory()
    finally:
        store.close()
    if args.json:
        print_json(directory.model_dump(mode="json"))
        return 0
    for entry in directory.organisations:
        services = ", ".join(f"{s.service} ({s.label})" for s in entry.services)
        print(f"{entry.org_id}\t{entry.org_name}\t{services}")
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    services: dict[str, str] = {}
    for item in args.services:
        code, sep, label = item.partition("=")
        if not sep or not code or not label:
            raise UsageError(f"services: {item!r} is not CODE=LABEL")
        services[code] = label
    store, client = _client(args)
    try:
        with client:
            client.set_services(services)
    finally:
        store.close()
    print(f"{len(services)} services in the directory")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    store, client = _client(args)
    try:
        with client:
            try:
                referral = client.refer(args.record_id, args.to, args.service, args.note)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    finally:
        store.close()
    if args.json:
        print_json(referral.model_dump(mode="json"))
    else:
        print(_line(referral))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sync.client import open_referral

    if args.org_key is not None and not args.incoming:
        raise UsageError("--org-key: only with --incoming")
    key_file = read_key_file(args) if args.org_key is not None else None
    store, client = _client(args)
    try:
        key = None if key_file is None else unlock_case_files(key_file, store)
        with client:
            referrals = client.referrals("incoming" if args.incoming else "outgoing")
        opened = [open_referral(key, r) if key is not None else None for r in referrals]
        if key is not None:
            key.close()
    finally:
        store.close()
    if args.json:
        print_json(
            [
                {**r.model_dump(mode="json", exclude={"sealed"}),
                 "contents": None if c is None else c.model_dump(mode="json")}
                for r, c in zip(referrals, opened, strict=True)
            ]
        )  # fmt: skip
        return 0
    for referral, contents in zip(referrals, opened, strict=True):
        print(_line(referral))
        if contents is not None:
            for name, value in contents.fields.items():
                print(f"  {name}: {value}")
            if contents.note:
                print(f"  note: {contents.note}")
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    try:
        uuid.UUID(args.referral_id)
    except ValueError:
        raise UsageError(f"REFERRAL_ID: {args.referral_id!r} is not a referral id") from None
    store, client = _client(args)
    try:
        with client:
            if args.answer == "accept":
                referral = client.accept(args.referral_id)
            elif args.answer == "decline":
                referral = client.decline(args.referral_id, args.reason)
            else:
                referral = client.delivered(args.referral_id)
    finally:
        store.close()
    print(_line(referral))
    return 0
