"""`fieldapp office services`: the services survivors received, counted from the clear
statistics of cases and service entries that the server's office API lists (and the
organisation's outgoing referrals, from the referrals API), small cells
and their complements hidden (k = 11 by default). Same JSON as `office report`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fieldapp.cli._common import Commands, UsageError, print_json, store_client

__all__ = ["add_services_command"]


def add_services_command(
    commands: Commands, report_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """`report_options`: `office report`'s --json, --k and record filters."""
    from fieldapp.office.services import SERVICE_TABLES

    services = commands.add(
        "services",
        cmd_office_services,
        "count survivors assisted, services, shelter stays and referrals, small cells protected",
        group="office",
    )
    services.add_argument(
        "--table",
        default="survivors",
        choices=tuple(SERVICE_TABLES),
        help="survivors (cases, by the services received), services (entries), shelter_stays"
        " or referrals (the organisation's outgoing referrals; default survivors)",
    )
    services.add_argument(
        "--by",
        default="service_type",
        help="one to three of the table's dimensions, comma-separated: service_type, month,"
        " region, first_service, status (survivors); service_type, month, outcome, region"
        " (services); duration, month, region (shelter_stays); service, status (made, accepted,"
        " completed), month, region (referrals)",
    )
    report_options(services)


def cmd_office_services(args: argparse.Namespace) -> int:
    from fieldapp.cli.office import office_records
    from fieldapp.office.aggregates import AggregateError, DisclosurePolicy
    from fieldapp.office.services import SERVICE_TABLES, services_report

    by = [name.strip() for name in args.by.split(",") if name.strip()]
    if args.table == "referrals":
        spec, rows = _referrals(args)
    else:
        args.form = SERVICE_TABLES[args.table].form_id
        store, spec, records = office_records(args, people=True)
        try:
            rows = [(record.stats, record.region) for record in records]
        finally:
            store.close()
    try:
        report = services_report(args.table, spec, rows, by, policy=DisclosurePolicy(k=args.k))
    except AggregateError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(report.json()[0])
    else:
        print(report.text(args.lang), end="")
    return 0


def _referrals(args: argparse.Namespace) -> tuple[Any, list[tuple[dict[str, Any], str | None]]]:
    """The organisation's outgoing referrals as the server lists them to its office, as
    (statistics, region) rows of `REFERRAL_SPEC` (--region: that region's only)."""
    from fieldapp.office.services import REFERRAL_SPEC, referral_statistics
    from sync.client import ReferralsClient

    for option, value in (("--status", args.status), ("--from", args.received_from),
                          ("--to", args.received_to)):  # fmt: skip
        if value is not None:
            raise UsageError(f"{option}: filters records, not referrals (--table referrals)")
    store, client = store_client(args, ReferralsClient)
    try:
        with client:
            listed = client.referrals("outgoing")
    finally:
        store.close()
    rows = [
        (referral_statistics(r.service, r.status, r.sent_at.date()), r.from_region)
        for r in listed
        if args.region is None or r.from_region == args.region
    ]
    return REFERRAL_SPEC, rows
