"""`fieldapp` command line: a thin layer over the library, for spreadsheets and scripts.

One module per command group, each adding its commands to the parser: `device` (init,
records, forms list, keys, app, enrol, sync), `office` (forms and records imports, demo),
`server` (serve, admin), `bundle` (offline bundle files), `hub` (a data collaborative's
steward and members), `referrals` (referrals between organisations). Non-interactive use
reads the passphrase from FIELDAPP_PASSPHRASE.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fieldapp import __version__
from fieldapp.cli import bundle, device, hub, office, referrals, server
from fieldapp.cli._common import Commands
from fieldapp.errors import FieldappError
from fieldapp.paths import data_dir
from sync.protocol import ProtocolError

__all__ = ["build_parser", "main"]


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
    commands = Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for group in (device, office, server, bundle, hub, referrals):
        group.add_commands(commands)
    return parser


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
