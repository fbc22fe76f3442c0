"""`fieldapp office services`: the services survivors received, counted from the clear
statistics of cases and service entries that the server's office API lists, small cells
and their complements hidden (k = 11 by default). Same JSON as `office report`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from fieldapp.cli._common import Commands, UsageError, print_json

__all__ = ["add_services_command"]


def add_services_command(
    commands: Commands, report_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """`report_options`: `office report`'s --json, --k and record filters."""
    from fieldapp.office.services import SERVICE_TABLES

    services = commands.add(
        "services",
        cmd_office_services,
        "count survivors assisted, services and shelter stays, small cells protected",
        group="office",
    )
    services.add_argument(
        "--table",
        default="survivors",
        choices=tuple(SERVICE_TABLES),
        help="survivors (cases, by the services received), services (entries) or"
        " shelter_stays (default survivors)",
    )
    services.add_argument(
        "--by",
        default="service_type",
        help="one to three of the table's dimensions, comma-separated: service_type, month,"
        " region, first_service, status (survivors); service_type, month, outcome, region"
        " (services); duration, month, region (shelter_stays)",
    )
    report_options(services)


def cmd_office_services(args: argparse.Namespace) -> int:
    from fieldapp.cli.office import office_records
    from fieldapp.office.aggregates import AggregateError, DisclosurePolicy
    from fieldapp.office.services import SERVICE_TABLES, services_report

    by = [name.strip() for name in args.by.split(",") if name.strip()]
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
