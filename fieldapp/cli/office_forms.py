"""A coordinator's `forms attach ID FILE...`: the data files a form imported as a draft
awaits (`select_one_from_file`, `pulldata`, `instance()` files the import was not given),
checked as the import checks them. On a device the files are kept encrypted with the form and
the draft becomes the ready version once every file is here; on a server's data folder the
draft waits beside the server (`form-drafts`, never in its database, so no device can receive
it) and is published only once every file is given."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fieldapp.cli._common import (
    Commands,
    UsageError,
    database_option,
    is_server_dir,
    open_store,
    server_settings,
)
from fieldapp.forms.attachments import awaiting_message
from fieldapp.forms.spec import FormSpec
from fieldapp.paths import data_dir

__all__ = ["add_attach_command", "on_server", "server_draft_shown"]


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
    database_option(attach)


def on_server(args: argparse.Namespace, spec: FormSpec, files: dict[str, bytes], org: Any) -> int:
    """Publish a ready version on the server; keep a draft beside it, never publishing it."""
    from fieldapp.office.xlsform.draft_folder import ServerDraft
    from sync.server import admin

    drafts = _drafts(args)
    if spec.awaiting_files:
        drafts.save(ServerDraft(spec, org, files))
        print(f"not published: {awaiting_message(spec)}", file=sys.stderr)
        print(f"{spec.id} {spec.version} (a draft kept beside the server, not published)")
        return 0
    with admin.open_server_storage(server_settings(args)) as storage:
        admin.publish_form(storage, spec, org=org, files=files)
    drafts.remove(spec)
    print(f"{spec.id} {spec.version} (published on the server)")
    return 0


def server_draft_shown(args: argparse.Namespace) -> bool:
    """On a server's data folder, print the draft of `args.form` awaiting files, if any."""
    if not (getattr(args, "database_url", None) or is_server_dir(args)):
        return False
    draft = _drafts(args).load(args.form, args.version)
    if draft is None:
        return False
    spec = draft.spec
    print(f"{spec.id}\tv{spec.version}\t{spec.label(spec.title, args.lang)}")
    print(f"{len(spec.import_warnings)} import warnings")
    for warning in spec.import_warnings:
        print(f"  {warning}")
    print(awaiting_message(spec))
    return True


def cmd_forms_attach(args: argparse.Namespace) -> int:
    from fieldapp.office.xlsform.drafts import AttachRefused, attach_files

    paths = [Path(file) for file in args.files]
    if args.database_url or is_server_dir(args):
        kept = _drafts(args).load(args.form, args.version)
        if kept is None:
            raise UsageError(f"no draft of form {args.form!r} awaits files beside this server")
        try:
            ready, contents = attach_files(kept.spec, paths)
        except AttachRefused as refused:
            return _refused(refused.problems)
        _print_attached(ready, contents)
        return on_server(args, ready, {**kept.files, **contents}, kept.org)
    store = open_store(args)
    try:
        draft = store.forms.stored(args.form, args.version)
        if not draft.awaiting_files:
            raise UsageError(f"form {draft.id} version {draft.version} awaits no file")
        try:
            ready, contents = attach_files(draft, paths)
        except AttachRefused as refused:
            return _refused(refused.problems)
        for digest, content in contents.items():
            store.forms.files.put(digest, content)
        store.forms.complete(ready)
    finally:
        store.close()
    _print_attached(ready, contents)
    if ready.awaiting_files:
        print(f"{ready.id} {ready.version}: still a draft: {awaiting_message(ready)}")
    else:
        print(f"{ready.id} {ready.version}: ready")
    return 0


def _drafts(args: argparse.Namespace) -> Any:
    from fieldapp.office.xlsform.draft_folder import DraftFolder

    return DraftFolder(data_dir(args.data_dir) / "form-drafts")


def _refused(problems: list[str]) -> int:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1


def _print_attached(ready: FormSpec, contents: dict[str, bytes]) -> None:
    for ref in ready.attachments.values():
        if ref.sha256 in contents:
            print(f"attached {ref.file}: {ref.size:,} bytes, sha256 {ref.sha256[:12]}")
