"""A case manager's `office attachments RECORD_ID --out DIR`: the photos, signatures and
files of a record's head revision, fetched in chunks from the server and opened with the
organisation's key file, written to DIR (the one place they are ever in clear, by request)."""

from __future__ import annotations

import argparse
import mimetypes
import os
from pathlib import Path

from fieldapp.cli._common import (
    Commands,
    UsageError,
    open_store,
    print_json,
    read_key_file,
    unlock_case_files,
)

__all__ = ["add_attachments_command"]


def add_attachments_command(commands: Commands) -> None:
    from fieldapp.cli.office import org_key_options

    command = commands.add(
        "attachments",
        cmd_office_attachments,
        "write a record's attachments to a folder, opened with the organisation's key file"
        " (case managers, admins)",
        group="office",
    )
    command.add_argument("record_id", metavar="RECORD_ID", help="the record's id")
    command.add_argument("--out", required=True, metavar="DIR", help="the folder to write to")
    org_key_options(command)
    command.add_argument("--json", action="store_true", help="print what was written as JSON")


def file_name(field: str, attachment_id: str, media_type: str) -> str:
    """`<question>-<first 8 of the id><extension>`: readable, unique, no path in it."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in field.rsplit("/", 1)[-1])
    extension = mimetypes.guess_extension(media_type) or ".bin"
    return f"{stem or 'attachment'}-{attachment_id[:8]}{extension}"


def cmd_office_attachments(args: argparse.Namespace) -> int:
    import uuid

    from sync.client import OfficeClient, open_attachments

    try:
        uuid.UUID(args.record_id)
    except ValueError:
        raise UsageError(f"RECORD_ID: {args.record_id!r} is not a record id") from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is not a folder")
    key_file = read_key_file(args)
    store = open_store(args)
    try:
        key = unlock_case_files(key_file, store)
        del key_file
        with OfficeClient(store) as client, key:
            opened = open_attachments(client, key, args.record_id)
    finally:
        store.close()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for attachment in opened:
        ref = attachment.ref
        path = out / file_name(ref.field, ref.id, ref.media_type)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(attachment.data)
        written.append({"field": ref.field, "media_type": ref.media_type, "path": str(path)})
    if args.json:
        print_json({"record_id": args.record_id, "attachments": written})
        return 0
    for entry in written:
        print(f"{entry['field']}: {entry['path']}")
    print(f"{len(written)} attachments written to {out}")
    return 0
