"""People, not rows, from the command line of an enrolled office device: `office duplicates`
(records that may be one person, found by keyed match digests, never by decrypting; a case
manager merges or dismisses a pair) and `office people` (a training form's attendances and
the people they are; a coordinator confirms or rejects same-name pairs). Both ask the
server's office API with this device's enrolment."""

from __future__ import annotations

import argparse
from typing import Any

from fieldapp.cli._common import Commands, UsageError, print_json, store_client

__all__ = ["add_people_commands", "people_counts"]


def add_people_commands(commands: Commands) -> None:
    dup = commands.add(
        "duplicates",
        cmd_office_duplicates,
        "list records that may be the same person, or merge or dismiss a pair",
        group="office",
    )
    dup.add_argument("action", nargs="?", choices=("merge", "dismiss"), help="decide a pair")
    dup.add_argument("pair", nargs="?", help="the pair, as listed")
    dup.add_argument("--keep", default=None, metavar="RECORD", help="merge: the record kept")
    dup.add_argument("--json", action="store_true", help="print JSON")

    people = commands.add(
        "people",
        cmd_office_people,
        "count a training form's participants as people, or confirm or reject a pair",
        group="office",
    )
    people.add_argument("action", nargs="?", choices=("confirm", "reject"), help="decide a pair")
    people.add_argument("pair", nargs="?", help="the pair, as listed")
    people.add_argument("--form", default=None, help="the form id (to count)")
    people.add_argument("--json", action="store_true", help="print JSON")


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    from sync.client import OfficeClient

    return store_client(args, OfficeClient)


def _decision(args: argparse.Namespace, result: Any) -> int:
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        kept = f" (kept {result.kept})" if result.kept else ""
        print(f"{result.pair}\t{result.decision}{kept}")
    return 0


def cmd_office_duplicates(args: argparse.Namespace) -> int:
    if args.action is not None and not args.pair:
        raise UsageError(f"office duplicates {args.action}: name the PAIR, as listed")
    if args.keep is not None and args.action != "merge":
        raise UsageError("--keep: only with `merge`")
    store, client = _client(args)
    try:
        with client:
            try:
                if args.action == "merge":
                    return _decision(args, client.merge(args.pair, args.keep))
                if args.action == "dismiss":
                    return _decision(args, client.dismiss(args.pair))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            page = client.duplicates()
    finally:
        store.close()
    if args.json:
        print_json(page.model_dump(mode="json"))
        return 0
    for pair in page.pairs:
        print(f"{pair.pair}\tshared: {', '.join(pair.shared)}")
        for record in pair.records:
            stats = ", ".join(f"{k}={v}" for k, v in sorted(record.stats.items()))
            print(f"  {record.id}\t{record.region or '-'}\t{record.received_at:%Y-%m-%d}\t{stats}")
    print(f"{len(page.pairs)} possible duplicates")
    return 0


def people_counts(client: Any, form: str) -> dict[str, Any]:
    """The JSON of `--people`: attendances, people, and how many pairs wait to be confirmed."""
    report = client.people(form)
    return {
        "form": report.form_id,
        "attendances": report.attendances,
        "people": report.people,
        "to_confirm": len(report.to_confirm),
    }


def cmd_office_people(args: argparse.Namespace) -> int:
    if args.action is not None and not args.pair:
        raise UsageError(f"office people {args.action}: name the PAIR, as listed")
    if args.action is None and not args.form:
        raise UsageError("office people: --form ID (the training form to count)")
    store, client = _client(args)
    try:
        with client:
            try:
                if args.action == "confirm":
                    return _decision(args, client.confirm_person(args.pair))
                if args.action == "reject":
                    return _decision(args, client.reject_person(args.pair))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            report = client.people(args.form)
    finally:
        store.close()
    if args.json:
        print_json(report.model_dump(mode="json"))
        return 0
    print(f"{report.attendances} attendances, {report.people} people")
    for pair in report.to_confirm:
        sides = " / ".join(
            ", ".join(f"{k}={v}" for k, v in sorted(a.stats.items())) for a in pair.attendances
        )
        print(f"{pair.pair}\tsame name: {sides}")
    return 0
