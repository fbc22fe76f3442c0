"""The dashboard's records, asked of the server's office API (never its database): every
form that has charts, filtered on the server by region and by the day received (a record made
on or after `start` was received on or after it too), then by the day made in `build`."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from fieldapp.forms.spec import FormSpec
from fieldapp.office.dashboard.build import DashboardFilter, DashboardRecord
from fieldapp.office.dashboard.charts import CHARTS

__all__ = ["RecordLister", "charted_forms", "dashboard_records"]


class RecordLister(Protocol):
    """What the dashboard needs of `sync.client.OfficeClient`."""

    def records(self, *, page_size: int = 500, **query: Any) -> Iterator[Any]: ...


def charted_forms(specs: Iterable[FormSpec]) -> dict[str, FormSpec]:
    """The forms the dashboard draws charts for, by id."""
    return {s.id: s for s in specs if any(c.applies_to(s) for c in CHARTS)}


def dashboard_records(
    client: RecordLister, forms: Iterable[str], dashboard_filter: DashboardFilter
) -> Iterator[DashboardRecord]:
    received_from = None
    if dashboard_filter.start is not None:
        received_from = datetime.datetime.combine(
            dashboard_filter.start, datetime.time(0), tzinfo=datetime.UTC
        )
    for form_id in forms:
        if dashboard_filter.form not in (None, form_id):
            continue
        for record in client.records(
            form=form_id, region=dashboard_filter.region, received_from=received_from
        ):
            if not record.deleted:
                yield DashboardRecord(
                    record.form_id, record.region, record.created_at, record.stats
                )
