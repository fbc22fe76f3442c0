"""Safe aggregates: counts about victims that cannot be traced back to a person.

Every cell about victims below k (11, CTDC's threshold; a setting) is hidden, with
complementary suppression audited by linear programming so that no hidden cell can be worked
out from totals or from another table of the same report; a new release overlapping an earlier
one is refused when their difference shows a small group; a micro-data export keeps every
combination of quasi-identifiers in a group of at least k. Figures about professionals
(training) are published as counted. See docs/architecture.md and the modules:

`tables` (count tables and their lines), `counting` (from records' statistics), `linked` (the
tables of one report as one system), `audit` (the attacker's linear program), `protection`
(which cells to hide), `report` (the JSON and text), `releases` (log and differencing gate),
`microdata` (k-anonymous export), `policy` (k and which forms), `errors`.

Office-only: scipy (the `office` extra) is imported by `audit` when it runs; the phone build
ships none of this.
"""

from __future__ import annotations

from fieldapp.office.aggregates.errors import AggregateError, ReleaseRefused
from fieldapp.office.aggregates.microdata import (
    MicrodataExport,
    QuasiIdentifier,
    anonymise,
    victim_quasi_identifiers,
)
from fieldapp.office.aggregates.policy import CTDC_K, DisclosurePolicy
from fieldapp.office.aggregates.releases import (
    JsonLinesReleaseLog,
    MemoryReleaseLog,
    Release,
    ReleaseLog,
    Scope,
    check_release,
    publish,
    release_of,
)
from fieldapp.office.aggregates.report import PublishedTable, Report, build_report, report_json

__all__ = [
    "CTDC_K",
    "AggregateError",
    "DisclosurePolicy",
    "JsonLinesReleaseLog",
    "MemoryReleaseLog",
    "MicrodataExport",
    "PublishedTable",
    "QuasiIdentifier",
    "Release",
    "ReleaseLog",
    "ReleaseRefused",
    "Report",
    "Scope",
    "anonymise",
    "build_report",
    "check_release",
    "publish",
    "release_of",
    "report_json",
    "victim_quasi_identifiers",
]
