"""`fieldapp hub ...`: the data collaborative's steward (init, admit, release) and anyone
with access (download, member-key), thin over fieldapp.office.collaborative. The hub itself
is `fieldapp serve --hub hub-public.json`."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import TYPE_CHECKING

from fieldapp.cli._common import Commands, UsageError, key_file_passphrase, whole_number

if TYPE_CHECKING:
    from fieldapp.crypto import OrgKeyPair
    from sync.client import HubClient
    from sync.protocol.hub import HubRelease

__all__ = ["add_commands"]


def add_commands(commands: Commands) -> None:
    init = commands.add(
        "init", cmd_hub_init, "make the steward's hub key file and the hub's public keys",
        group="hub",
    )  # fmt: skip
    init.add_argument("--out-dir", required=True, metavar="DIR", help="where to write them")
    init.add_argument("--k", type=whole_number(2, 1000), default=11, help="k (default 11)")
    member_key = commands.add(
        "member-key", cmd_hub_member_key, "print an organisation's key in a hub (to be admitted)",
        group="hub",
    )  # fmt: skip
    admit = commands.add("admit", cmd_hub_admit, "admit a member organisation", group="hub")
    admit.add_argument("--member-key", required=True, help="the key `hub member-key` printed")
    admit.add_argument("--name", required=True, help="the organisation's name")
    release = commands.add(
        "release", cmd_hub_release, "pool, protect, check and publish a quarter", group="hub"
    )
    release.add_argument(
        "--k", type=whole_number(2, 1000), default=None,
        help="smallest group a figure may show (default: the hub's, from `hub init --k`)",
    )  # fmt: skip
    download = commands.add(
        "download", cmd_hub_download, "write the quarter's newest release as CSV", group="hub"
    )
    download.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV file")
    show = commands.add(
        "show", cmd_hub_show, "print the quarter's newest release (pooled figures)", group="hub"
    )
    for parser in (admit, release, download, show):
        parser.add_argument("--hub", required=True, metavar="URL", help="the hub's address")
    for parser in (release, download, show):
        parser.add_argument("--period", required=True, help="the quarter, such as 2026Q3")
    for parser in (member_key, admit, release, download, show):
        parser.add_argument(
            "--key-file", required=True, metavar="FILE",
            help="the steward's hub key file (a member's organisation key file to download)",
        )  # fmt: skip
    for parser in (init, member_key, admit, release, download, show):
        parser.add_argument("--passphrase-env", default=None, metavar="VAR",
                            help="the key file's passphrase from this variable")  # fmt: skip


def _keys(args: argparse.Namespace) -> OrgKeyPair:
    from fieldapp.crypto import OrgKeyPair

    return OrgKeyPair.load(Path(args.key_file), key_file_passphrase(args))


def _client(args: argparse.Namespace) -> tuple[OrgKeyPair, HubClient]:
    from sync.client import HubClient

    keys = _keys(args)
    return keys, HubClient(args.hub, keys.hub_signing_key())


def cmd_hub_init(args: argparse.Namespace) -> int:
    from fieldapp.crypto import OrgKeyPair
    from fieldapp.office.collaborative import hub_info_of

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / "hub-steward.key", out / "hub-public.json"
    if private.exists():
        raise UsageError(f"--out-dir: {private} exists; a hub keeps its key")
    keys = OrgKeyPair.generate()
    keys.save(private, key_file_passphrase(args))
    public.write_text(hub_info_of(keys, args.k).model_dump_json(indent=2), encoding="utf-8")
    print(f"{private} (keep it safe: it opens every contribution)")
    print(f"{public} (serve with: fieldapp serve --hub {public})")
    return 0


def cmd_hub_member_key(args: argparse.Namespace) -> int:
    print(base64.b64encode(_keys(args).hub_signing_key().public_key).decode())
    return 0


def cmd_hub_admit(args: argparse.Namespace) -> int:
    try:
        member_key = base64.b64decode(args.member_key, validate=True)
    except ValueError:
        raise UsageError("--member-key: not base64 (print it with `hub member-key`)") from None
    _, client = _client(args)
    with client:
        member = client.admit(member_key, args.name)
    print(f"{member.name} admitted; it shares once its admin runs `office share --consent yes`")
    return 0


def cmd_hub_release(args: argparse.Namespace) -> int:
    from fieldapp.forms.builtin import load_builtin_forms
    from fieldapp.office.aggregates import DisclosurePolicy
    from fieldapp.office.collaborative import HUB_FORM, release_period

    keys, client = _client(args)
    spec = load_builtin_forms()[HUB_FORM]
    with client:
        k = args.k or client.info().k
        pooled = release_period(client, keys, spec, args.period, DisclosurePolicy(k=k))
    hidden = len(pooled.report.protection.hidden) if pooled.report.protection else 0
    members = len(pooled.upload.contributors)
    print(f"{args.period} version {pooled.upload.version}: {members} members, {hidden} hidden")
    return 0


def _latest(args: argparse.Namespace) -> HubRelease:
    from fieldapp.office.collaborative import latest_release

    _, client = _client(args)
    with client:
        return latest_release(client, args.period)


def cmd_hub_download(args: argparse.Namespace) -> int:
    from fieldapp.office.collaborative import release_csv

    release = _latest(args)
    Path(args.out).write_text(release_csv(release.tables), encoding="utf-8")
    if release.withdrawn:
        print(f"note: {len(release.withdrawn)} member(s) counted in it have since withdrawn")
    print(f"{args.out}: {release.period} version {release.version}, signed by the steward")
    return 0


def cmd_hub_show(args: argparse.Namespace) -> int:
    from fieldapp.office.collaborative import release_text

    print(release_text(_latest(args)), end="")
    return 0
