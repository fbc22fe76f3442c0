"""A coordinator's `forms attach ID FILE...`: the data files a form imported as a draft
awaits (`select_one_from_file`, `pulldata`, `instance()` files the import was not given),
checked as the import checks them and kept encrypted with the form; the draft becomes the
ready version once every file is here, and only then can it be used or published."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldapp.cli._common import Commands, UsageError, open_store
from fieldapp.forms.attachments import awaited_where
from fieldapp.forms.spec import FormSpec

__all__ = ["add_attach_command", "draft_refusal"]


def add_attach_command(commands: Commands) -> None:
    attach = commands.add(
        "attach",
        cmd_forms_attach,
        "attach the data files a form imported as a draft awaits (forms show lists them)",
        group="forms",
    )
    attach.add_argument("form", help="the form id")
    attach.add_argument(
        "files", nargs="+", metavar="FILE", help="each file, named as the form names it"
    )
    attach.add_argument("--version", default=None, help="this version (default: the newest)")


def draft_refusal(spec: FormSpec, workbook: str) -> str:
    """Why an import with data files missing is not published on a server (which keeps no
    drafts): each file, where it is read, and the command that gives them."""
    named = awaited_where(spec)
    given = " ".join(f"--attach {a.file}" for a in spec.awaiting_files.values())
    return (
        f"not published: form {spec.id!r} version {spec.version} lacks its data files {named}:"
        f" give them with `fieldapp forms import {workbook} {given}`"
    )


def cmd_forms_attach(args: argparse.Namespace) -> int:
    from fieldapp.office.xlsform.drafts import AttachRefused, attach_files

    paths = [Path(file) for file in args.files]
    store = open_store(args)
    try:
        draft = store.forms.stored(args.form, args.version)
        if not draft.awaiting_files:
            raise UsageError(f"form {draft.id} version {draft.version} awaits no file")
        try:
            ready, contents = attach_files(draft, paths)
        except AttachRefused as refused:
            for problem in refused.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1
        for digest, content in contents.items():
            store.forms.files.put(digest, content)
        store.forms.complete(ready)
    finally:
        store.close()
    for ref in ready.attachments.values():
        if ref.sha256 in contents:
            print(f"attached {ref.file}: {ref.size:,} bytes, sha256 {ref.sha256[:12]}")
    if ready.awaiting_files:
        waiting = ", ".join(a.file for a in ready.awaiting_files.values())
        print(f"{ready.id} {ready.version}: still a draft, awaiting {waiting}")
    else:
        print(f"{ready.id} {ready.version}: ready")
    return 0
