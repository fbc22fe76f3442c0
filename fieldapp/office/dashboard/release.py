"""Before a dashboard's figures leave the screen (a PDF, an XLSX, JSON for a funder), its
protected reports pass the differencing gate of `fieldapp.office.aggregates.releases`.

Each protected form's report is one release, scoped by the dashboard's dates and region: a
report filtered to one region after the whole country's (or a period revised after late syncs)
is refused when the difference of the two shows fewer than k people, since the two files side
by side would give them away. All the forms' releases are checked before any is logged.
"""

from __future__ import annotations

import datetime
import uuid

from fieldapp.office.aggregates import ReleaseLog, Scope, check_release, release_of
from fieldapp.office.dashboard.build import Dashboard

__all__ = ["RELEASE_LOG", "publish_dashboard"]

# The releases a device's funder reports made, in its data directory (owner-only).
RELEASE_LOG = "office-releases.jsonl"


def publish_dashboard(
    dashboard: Dashboard, log: ReleaseLog, *, now: datetime.datetime | None = None
) -> list[str]:
    """Log the dashboard's protected reports as releases, or raise ReleaseRefused (nothing
    logged). Returns the release ids."""
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = uuid.uuid4().hex[:8]
    releases = []
    for figures in dashboard.forms:
        if not figures.protected:
            continue
        scope = Scope(
            figures.spec.id,
            dashboard.filter.start,
            dashboard.filter.end,
            dashboard.filter.filters(),
        )
        release_id = f"dashboard-{figures.spec.id}-{stamp}-{suffix}"
        releases.append(release_of(figures.report, release_id, scope))
    for release in releases:
        check_release(release, log, dashboard.k)
    for release in releases:
        log.append(release)
    return [r.id for r in releases]
