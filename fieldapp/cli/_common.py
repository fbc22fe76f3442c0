"""What every command group shares: the passphrase prompt, opening the device store, JSON
output, the server's settings, and the registry the groups add their commands to."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldapp.errors import FieldappError
from fieldapp.paths import data_dir, store_path

Handler = Callable[[argparse.Namespace], int]

# Commands grouped under one word (`fieldapp forms list`): its help, and its description.
_GROUPS = {
    "forms": ("list and import forms", "Forms."),
    "records": ("import, list and show records", "Records."),
    "keys": ("organisation keys", "Organisation keys."),
    "admin": ("administer the central server", "Server administration."),
    "bundle": (
        "offline bundle files, carried where there is no line",
        "Offline bundles: a device's waiting records in one signed file for the centre, and"
        " the centre's forms, shared items and receipts in one for devices.",
    ),
    "referrals": (
        "referrals between organisations",
        "Referrals between organisations: the directory of their services, referrals sent"
        " with their status, and those received, answered by the office.",
    ),
    "hub": (
        "a data collaborative: pooled, protected counts from several organisations",
        "The data collaborative: the steward's keys, members and releases; anyone with"
        " access downloads a release as CSV. The hub is `fieldapp serve --hub FILE`.",
    ),
    "office": (
        "the office's exports and reports, through the server's API",
        "The office: exports and safe reports of the organisation's records, asked of the"
        " server with this device's enrolment (a coordinator's, case manager's or admin's).",
    ),
}


class UsageError(FieldappError):
    """The command was called in a way that cannot work."""


def ask_passphrase(purpose: str, *, confirm: bool = False, env: str = "FIELDAPP_PASSPHRASE") -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"no passphrase: set {env} or run in a terminal")
    value = getpass.getpass(f"{purpose}: ")
    if confirm and getpass.getpass("Repeat it: ") != value:
        raise UsageError("the two passphrases differ")
    return value


def open_store(args: argparse.Namespace, *, unlock: bool = True) -> Any:
    from fieldapp.store import Store

    path = store_path(args.data_dir)
    store = Store(path)
    if not store.keyring.initialised:
        store.close()
        raise UsageError(f"no store in {path.parent}: run `fieldapp init` first")
    if unlock:
        store.keyring.unlock(ask_passphrase("Passphrase"))
    return store


def store_client(args: argparse.Namespace, make_client: Callable[[Any], Any]) -> tuple[Any, Any]:
    """The device store, unlocked, and a client of its server made from it (the store closed
    again if that fails)."""
    store = open_store(args)
    try:
        return store, make_client(store)
    except Exception:
        store.close()
        raise


def read_key_file(args: argparse.Namespace) -> tuple[bytes, str, str]:
    """The organisation key file `--org-key`: its bytes, its passphrase, its path."""
    key_path = Path(args.org_key)
    try:
        key_bytes = key_path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--org-key: cannot read {key_path}: {exc.strerror}") from None
    return key_bytes, key_file_passphrase(args), str(key_path)


def unlock_case_files(key_file: tuple[bytes, str, str], store: Any) -> Any:
    """A case manager's session of the key file `read_key_file` read, checked against the
    keys the device enrolled with (WrongOrganisationKey for another organisation's)."""
    from fieldapp import crypto

    key_bytes, passphrase, source = key_file
    return crypto.CaseFileKey.unlock(
        key_bytes,
        passphrase,
        organisation=store.outbox.recipients(),
        source=source,
        timer=False,
    )


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def server_settings(args: argparse.Namespace) -> Any:
    from sync.server.settings import ServerSettings

    return ServerSettings(data_dir=data_dir(args.data_dir), database_url=args.database_url or "")


def is_server_dir(args: argparse.Namespace) -> bool:
    return (data_dir(args.data_dir) / "server.db").exists()


def database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="server database (default: SQLite in the data dir; postgresql://... for PostgreSQL)",
    )


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, refused when the command line is
    parsed (argparse names the option) rather than deep inside the command."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low} to {high}")
        return value

    return parse


def number(low: float, high: float, *, low_included: bool = True) -> Callable[[str], float]:
    """An argparse type: a number from `low` (or just above it) to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above_low = value >= low if low_included else value > low  # False for nan
        if not above_low or value > high:
            bounds = (
                f"{low:g} to {high:g}" if low_included else f"more than {low:g}, up to {high:g}"
            )
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {bounds}")
        return value

    return parse


PORT = whole_number(1, 65_535)


def key_file_passphrase(args: argparse.Namespace) -> str:
    """The organisation key file's passphrase: from `--passphrase-env VAR`, else asked on
    the terminal (never from the store's FIELDAPP_PASSPHRASE: another secret)."""
    if args.passphrase_env is not None:
        value = os.environ.get(args.passphrase_env)
        if not value:
            raise UsageError(f"--passphrase-env: the variable {args.passphrase_env} is not set")
        return value
    if not sys.stdin.isatty():
        raise UsageError(
            "no passphrase for the key file: run in a terminal or give --passphrase-env VAR"
        )
    return getpass.getpass("Passphrase of the organisation key file: ")


class Commands:
    """The parser's commands: each command group's module adds its own here."""

    def __init__(self, commands: Any) -> None:
        self._commands = commands  # the top-level parser's subparsers
        self._groups: dict[str, Any] = {}

    def add(
        self, name: str, handler: Handler, help_text: str, *, group: str | None = None
    ) -> argparse.ArgumentParser:
        """A command (in `group`, made on first use, or at the top), run by `handler`."""
        target = self._commands if group is None else self._group(group)
        sub: argparse.ArgumentParser = target.add_parser(
            name, help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    def _group(self, name: str) -> Any:
        if name not in self._groups:
            help_text, description = _GROUPS[name]
            parser = self._commands.add_parser(name, help=help_text, description=description)
            self._groups[name] = parser.add_subparsers(
                dest=f"{name}_command", required=True, metavar="COMMAND"
            )
        return self._groups[name]


def install_office_tools() -> None:
    """Plug the laptop's office tools (dashboard, funder report, exports) into the app's
    screens; without the office extra the screens say what is missing."""
    try:
        from fieldapp.office.ui_tools import install
    except ImportError:
        return
    install()
