"""`fieldapp bundle export/import`: offline bundles, on a device or at the central server.

On a device's data directory: `export --out FILE` writes the outbox (signed, nothing marked
sent); `import FILE` applies a server bundle. On a server's data directory (or with
`--database-url`): `import FILE` ingests a device bundle as a push and writes the answer
bundle (`--answer`, default FILE.answer.fieldapp); `export --for DEVICE|REGION --out FILE`
writes forms, shared items and changes for devices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldapp.cli._common import (
    Commands,
    UsageError,
    database_option,
    is_server_dir,
    open_store,
    print_json,
    server_settings,
)

__all__ = ["add_commands"]

_MAX_BUNDLE_FILE = 2 * 1024**3
# What each push outcome means to the person importing a bundle at the centre.
_SAID = {
    "accepted": "accepted",
    "duplicate": "ignored (already here)",
    "conflict": "accepted as a conflict (both versions kept for review)",
    "rejected": "refused",
}


def add_commands(commands: Commands) -> None:
    export = commands.add(
        "export", cmd_export,
        "write a bundle file: a device's waiting records, or (on a server, with --for) what"
        " devices need",
        group="bundle",
    )  # fmt: skip
    export.add_argument("--out", required=True, help="the bundle file to write")
    export.add_argument(
        "--for", dest="target", default=None, metavar="DEVICE|REGION",
        help="on a server: the device id, or the region, the bundle is for",
    )  # fmt: skip
    export.add_argument("--org", default=None, help="on a server: the region's organisation")
    imp = commands.add(
        "import", cmd_import,
        "read a bundle file: a device's bundle at the server (as a push), the server's on a"
        " device (as a pull)",
        group="bundle",
    )  # fmt: skip
    imp.add_argument("file", help="the bundle file")
    imp.add_argument(
        "--answer", default=None, metavar="FILE",
        help="at the server: where to write the answer bundle (receipts) for the device"
        " (default: FILE.answer.fieldapp beside it)",
    )  # fmt: skip
    imp.add_argument("--json", action="store_true", help="print the outcome per record as JSON")
    for sub in (export, imp):
        database_option(sub)


def _on_server(args: argparse.Namespace) -> bool:
    return bool(args.database_url) or is_server_dir(args)


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.stat().st_size > _MAX_BUNDLE_FILE:
        raise UsageError(f"{path}: larger than any bundle (2 GiB)")
    return path.read_bytes()


def _write(path: Path, data: bytes) -> None:
    if path.exists():
        raise UsageError(f"{path} exists: refusing to overwrite it")
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(path)


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if _on_server(args):
        from sync.server.bundles import bundle_server

        if args.target is None:
            raise UsageError("on a server, say who the bundle is for: --for DEVICE|REGION")
        with bundle_server(server_settings(args)) as server:
            target, data = server.export_for(args.target, args.org)
        _write(out, data)
        print(f"wrote {out} for {target} ({len(data)} bytes)")
        return 0
    if args.target is not None:
        raise UsageError("--for is for a server's bundles; a device's bundle is its outbox")
    from sync.client import export_bundle

    store = open_store(args)
    try:
        bundle = export_bundle(store)
    finally:
        store.close()
    _write(out, bundle.data)
    print(
        f"wrote {out}: {bundle.records} records, {bundle.roster} roster entries"
        f" ({len(bundle.data)} bytes); they stay waiting here until the server's receipts come"
        " back (an answer bundle or a sync)"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = _read(path)
    if _on_server(args):
        return _import_at_server(args, path, data)
    from sync.client import import_bundle

    store = open_store(args)
    try:
        report = import_bundle(store, data)
    finally:
        store.close()
    counts = {
        "changes": report.pulled,
        "forms_added": report.forms_added,
        "sent": report.accepted + report.duplicate,
        "conflict": report.conflict,
        "rejected": report.rejected,
        "unconfirmed": report.unconfirmed,
    }
    if args.json:
        print_json({**counts, "errors": report.errors})
    else:
        print(", ".join(f"{name} {value}" for name, value in counts.items()))
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
    return 0 if not report.errors else 1


def _import_at_server(args: argparse.Namespace, path: Path, data: bytes) -> int:
    from sync.server.bundles import bundle_server

    answer = Path(args.answer) if args.answer else path.with_name(path.name + ".answer.fieldapp")
    if answer.exists():
        raise UsageError(f"{answer} exists: refusing to overwrite it (pass --answer FILE)")
    with bundle_server(server_settings(args)) as server:
        result = server.import_bundle(data)
    _write(answer, result.answer)
    rows = [
        {
            "id": str(o.id),
            "revision": o.revision,
            "status": o.status,
            "errors": [f"{e.field}: {e.code}: {e.message}" for e in o.errors],
        }
        for o in result.outcomes
    ]
    if args.json:
        print_json({"device": result.device_id, "records": rows, "roster": result.roster})
    else:
        print(f"bundle of device {result.device_id}:")
        for row in rows:
            print(f"  {row['id']} {row['revision']}: {_SAID[str(row['status'])]}")
            for error in row["errors"]:
                print(f"    {error}")
        roster: dict[str, int] = {}
        for _, status in result.roster:
            roster[status] = roster.get(status, 0) + 1
        summary: dict[str, int] = {}
        for row in rows:
            summary[str(row["status"])] = summary.get(str(row["status"]), 0) + 1
        print("records: " + (", ".join(f"{v} {k}" for k, v in sorted(summary.items())) or "none"))
        if roster:
            print("roster: " + ", ".join(f"{k} {v}" for k, v in sorted(roster.items())))
    print(f"answer bundle for the device: {answer}", file=sys.stderr)
    return 0
