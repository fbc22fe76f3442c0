"""The data collaborative, office side: what a member organisation contributes, and how the
hub's steward pools contributions into a release.

A contribution is one organisation's counts of identified victims for one quarter over fixed
tables (`ALL_TABLES`: nationality, age band, sex, exploitation type, and month × region; every
cell, margins included, zeros left out), signed with the organisation's key and sealed to the
steward's: never a record, and nothing the hub can read.

A release pools the contributions of a period (cell by cell: organisations count disjoint
people) and protects the pooled tables as the office protects a report (`aggregates`: k, LP
audited complementary suppression), with one more kind of primary cell: a member knows its own
counts, so a cell where the others together count 0 < n < k is hidden too (the pooled 12 where
one member counted 11 would otherwise tell it the rest is 1 person). Before it is signed, the
release is checked against the period's earlier releases (`check_release`): if the difference
has a cell or total of 0 < |d| < k (a late contribution, a withdrawal) it is refused, naming the
cells. Extra figures (services, once counted) are one more entry of `ALL_TABLES`' kind.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fieldapp.crypto import OrgKeyPair, RecipientKey, seal, verify
from fieldapp.crypto.errors import CryptoError
from fieldapp.forms.spec import FormSpec
from fieldapp.office.aggregates import (
    AggregateError,
    DisclosurePolicy,
    MemoryReleaseLog,
    Release,
    Report,
    Scope,
    check_release,
    release_of,
)
from fieldapp.office.aggregates.counting import SPECIAL_LABELS, count_tables
from fieldapp.office.aggregates.linked import link
from fieldapp.office.aggregates.protection import protect
from fieldapp.office.aggregates.report import PublishedTable
from fieldapp.office.aggregates.tables import Category, Dimension, Key, Table
from sync.client import HubClient
from sync.protocol.canonical import canonical_json
from sync.protocol.hub import (
    HubContribution,
    HubInfo,
    HubRelease,
    HubReleaseUpload,
    parse_period,
    release_signed_bytes,
)

__all__ = [
    "ALL_TABLES",
    "HUB_FORM",
    "HUB_TABLES",
    "MONTH",
    "REGION",
    "PooledRelease",
    "contribute",
    "contribution_of",
    "hub_info_of",
    "latest_release",
    "open_contribution",
    "open_release_counts",
    "pool_release",
    "pooled_table",
    "quarter_bounds",
    "release_csv",
    "release_period",
    "release_text",
    "seal_contribution",
    "verify_release",
]

HUB_FORM = "victim_screening"
# The fixed tables every member counts: by exploitation type, sex, age band, nationality.
HUB_TABLES: tuple[tuple[str, ...], ...] = (
    ("nationality", "age_band"),
    ("nationality", "sex"),
    ("exploitation_types", "sex"),
)
# When and where, from each record's metadata (the month it was made, its region): the
# caller puts them in each row under these names.
MONTH, REGION = "month", "region"
TIME_AND_PLACE = (MONTH, REGION)
_LABELS = {MONTH: {"en": "Month"}, REGION: {"en": "Region"}}
ALL_TABLES = (*HUB_TABLES, TIME_AND_PLACE)
IDENTIFIED_OUTCOMES = frozenset({"presumed_victim", "identified_victim"})
_CONTRIBUTION_AAD = b"fieldapp/hub-contribution/v1\n"
_COUNTS_AAD = b"fieldapp/hub-release-counts/v1\n"


def quarter_bounds(period: str) -> tuple[datetime.date, datetime.date]:
    """The first day of the quarter and the first day after it."""
    parse_period(period)
    year, quarter = int(period[:4]), int(period[5])
    start = datetime.date(year, 3 * quarter - 2, 1)
    end = datetime.date(year + 1, 1, 1) if quarter == 4 else datetime.date(year, 3 * quarter + 1, 1)
    return start, end


def contribution_of(
    spec: FormSpec, rows: Iterable[Mapping[str, Any]], period: str, org: OrgKeyPair
) -> HubContribution:
    """The organisation's signed counts of identified victims among `rows` (the statistical
    fields of the period's screenings), every non-zero cell of every table of `HUB_TABLES`."""
    if spec.id != HUB_FORM:
        raise AggregateError(f"form: the collaborative counts {HUB_FORM!r}, not {spec.id!r}")
    victims = [r for r in rows if r.get("screening_outcome") in IDENTIFIED_OUTCOMES]
    counts: Counter[Key] = Counter()
    for table in [*count_tables(spec, victims, HUB_TABLES), _time_and_place(victims, period)]:
        for index in table.indices():
            counts[table.key(index)] = table.counts[index]
    signer = org.hub_signing_key()
    unsigned = HubContribution(
        org_key=signer.public_key,
        period=period,
        form_id=spec.id,
        tables=[list(fields) for fields in ALL_TABLES],
        counts=[[unit, [list(v) for v in values], n] for (unit, values), n in counts.items() if n],
    )
    return unsigned.model_copy(update={"signature": signer.sign(_signed_bytes(unsigned))})


def seal_contribution(contribution: HubContribution, hub: RecipientKey) -> bytes:
    """The contribution sealed to the steward's key, bound to its period."""
    aad = _CONTRIBUTION_AAD + contribution.period.encode()
    return seal(contribution.model_dump_json().encode(), [hub], aad)


def open_contribution(
    hub: OrgKeyPair, sealed: bytes, period: str, sender: bytes
) -> HubContribution:
    """Open a sealed contribution and check it: signed by the member that sent it, for the
    period it was filed under, counted over the fixed tables."""
    try:
        plain = hub.open(sealed, _CONTRIBUTION_AAD + period.encode())
        contribution = HubContribution.model_validate_json(plain)
        verify(contribution.org_key, contribution.signature, _signed_bytes(contribution))
    except (CryptoError, ValueError) as exc:
        raise AggregateError(f"contribution for {period}: cannot be trusted ({exc})") from exc
    if contribution.org_key != sender or contribution.period != period:
        raise AggregateError(f"contribution for {period}: signed by another member or period")
    if contribution.tables != [list(fields) for fields in ALL_TABLES]:
        raise AggregateError(f"contribution for {period}: tables are not the collaborative's")
    return contribution


def _signed_bytes(contribution: HubContribution) -> bytes:
    return canonical_json(contribution.model_dump(mode="json", exclude={"signature"}))


def _counts(contribution: HubContribution) -> dict[Key, int]:
    try:
        return {
            (unit, tuple((str(f), v) for f, v in values)): int(n)
            for unit, values, n in contribution.counts
        }
    except (TypeError, ValueError) as exc:
        raise AggregateError(f"counts: malformed cell ({exc})") from exc


@dataclass(frozen=True)
class PooledRelease:
    """A release ready to publish: the protected report, its log entry (true counts), the
    members it counts, and the upload (signed, true counts sealed) for the hub."""

    report: Report
    release: Release
    upload: HubReleaseUpload


def pool_release(
    spec: FormSpec,
    contributions: Sequence[HubContribution],
    earlier: Sequence[Release],
    *,
    period: str,
    version: int,
    hub: OrgKeyPair,
    policy: DisclosurePolicy,
) -> PooledRelease:
    """Pool, protect, check against `earlier` releases of the period (ReleaseRefused) and sign."""
    own = [_counts(c) for c in contributions]
    pooled: Counter[Key] = Counter()
    for counts in own:
        pooled.update(counts)
    tables = [pooled_table(spec, fields, pooled, period) for fields in ALL_TABLES]
    # What any one member could work out by taking its own counts away: the others' figure.
    forced = {
        key for counts in own for key, n in pooled.items() if 0 < n - counts.get(key, 0) < policy.k
    }
    linked = link(tables)
    protection = protect(linked, policy, forced)
    published = tuple(PublishedTable(t, protection.hidden) for t in tables)
    report = Report(spec.id, published, policy.k, protection, ())
    start, end = quarter_bounds(period)
    release = release_of(report, f"{period}v{version}", Scope(spec.id, start, end))
    log = MemoryReleaseLog()
    for old in earlier:
        log.append(old)
    check_release(release, log, policy.k)
    contributors = sorted(c.org_key for c in contributions)
    signer = hub.hub_signing_key()
    upload = HubReleaseUpload(
        period=period,
        version=version,
        tables=report.json(),
        contributors=contributors,
        signature=signer.sign(release_signed_bytes(period, version, report.json())),
        sealed_counts=seal(
            canonical_json(release.as_json()), [hub.recipient], _COUNTS_AAD + period.encode()
        ),
    )
    return PooledRelease(report, release, upload)


def open_release_counts(hub: OrgKeyPair, sealed: bytes, period: str) -> Release:
    """An earlier release's true counts, for the differencing check (the steward only)."""
    return Release.from_json(json.loads(hub.open(sealed, _COUNTS_AAD + period.encode())))


def verify_release(
    steward_key: bytes, period: str, version: int, tables: list[dict[str, Any]], signature: bytes
) -> None:
    """SignatureError unless the steward signed exactly these published tables."""
    verify(steward_key, signature, release_signed_bytes(period, version, tables))


def pooled_table(
    spec: FormSpec, fields: Sequence[str], pooled: Mapping[Key, int], period: str
) -> Table:
    """The table over `fields` with the form's categories (the period's months for `month`)
    and any value a member counted."""
    if tuple(fields) == TIME_AND_PLACE:
        bases = [_time_dimension(period), Dimension(REGION, _LABELS[REGION], ())]
        unit = None
    else:
        [empty] = count_tables(spec, [], [fields])
        bases, unit = list(empty.dims), empty.unit
    dims = []
    for dim in bases:
        known = {c.value for c in dim.categories}
        seen = sorted(
            {v for (_, values), _n in pooled.items() for f, v in values if f == dim.field} - known,
            key=lambda v: (v is None, str(v)),
        )
        extra = tuple(Category(v, _not_answered(v)) for v in seen)
        dims.append(Dimension(dim.field, dim.label, dim.categories + extra, dim.multiple))
    return _filled(dims, lambda key: pooled.get(key, 0), unit)


def _filled(dims: Sequence[Dimension], count: Callable[[Key], int], unit: str | None) -> Table:
    shell = Table(tuple(dims), {}, unit)
    return Table(tuple(dims), {i: count(shell.key(i)) for i in shell.indices()}, unit)


def _time_dimension(period: str) -> Dimension:
    start, _ = quarter_bounds(period)
    months = [f"{start.year:04d}-{start.month + m:02d}" for m in range(3)]
    return Dimension(MONTH, _LABELS[MONTH], tuple(Category(m, {}) for m in months))


def _time_and_place(victims: Sequence[Mapping[str, Any]], period: str) -> Table:
    """Victims by the month their record was made and its region (None: not given)."""
    months = _time_dimension(period)
    allowed = {c.value for c in months.categories} | {None}
    tally: Counter[tuple[Any, Any]] = Counter()
    for row in victims:
        month, region = row.get(MONTH), row.get(REGION)
        if month not in allowed:
            raise AggregateError(f"{MONTH}: {month!r} is not a month of {period}")
        tally[month, region] += 1
    unanswered = (Category(None, _not_answered(None)),)
    regions = tuple(Category(r, {}) for r in sorted({r for _, r in tally} - {None}))
    dims = [
        Dimension(
            MONTH,
            months.label,
            months.categories + (unanswered if any(m is None for m, _ in tally) else ()),
        ),
        Dimension(
            REGION,
            _LABELS[REGION],
            regions + (unanswered if any(r is None for _, r in tally) else ()),
        ),
    ]

    def count(key: Key) -> int:
        fixed = dict(key[1])
        return sum(
            n for (m, r), n in tally.items()
            if fixed.get(MONTH, m) == m and fixed.get(REGION, r) == r
        )  # fmt: skip

    return _filled(dims, count, None)


def _not_answered(value: Any) -> dict[str, str]:
    return SPECIAL_LABELS[None] if value is None else {}


def release_csv(tables: Sequence[Mapping[str, Any]]) -> str:
    """A published release as CSV: one row a figure (table, the values it counts, count);
    a hidden figure's count is empty, never its value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "values", "count", "suppressed"])
    for table in tables:
        name = " x ".join(table["by"])
        total = {"values": {}, "count": table["total"], "suppressed": table["total"] is None}
        for cell in [*table["cells"], *table["margins"], total]:
            values = "; ".join(f"{k}={_text(v)}" for k, v in sorted(cell["values"].items()))
            count = "" if cell["suppressed"] else cell["count"]
            writer.writerow([name, values or "total", count, "yes" if cell["suppressed"] else ""])
    return out.getvalue()


def release_text(release: HubRelease) -> str:
    """A release as people read it: each table's figures, x for a hidden one, and whether
    members counted in it have withdrawn since."""
    lines = [f"{release.period} version {release.version}: {len(release.contributors)} members"]
    for table in release.tables:
        lines.append("")
        lines.append(" x ".join(table["by"]))
        total = {"values": {}, "count": table["total"]}
        for cell in [*table["cells"], *table["margins"], total]:
            if cell["count"] == 0:
                continue
            values = ", ".join(f"{k}={_text(v)}" for k, v in sorted(cell["values"].items()))
            count = "x" if cell["count"] is None else str(cell["count"])
            lines.append(f"  {values or 'total'}: {count}")
    lines.append("")
    lines.append("x: hidden to protect the people counted (groups under k, and what reveals them)")
    if release.withdrawn:
        lines.append(f"! {len(release.withdrawn)} member(s) counted here have since withdrawn")
    return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    return "(not answered)" if value is None else str(value)


# -- over a hub (sync.client.HubClient): what the CLI commands do -------------------------


def hub_info_of(hub: OrgKeyPair, k: int) -> HubInfo:
    """The public key file a hub serves with (`serve --hub FILE`): never a private key."""
    recipient = hub.recipient
    return HubInfo(
        sealing_kem=recipient.kem,
        sealing_public_key=recipient.public_key,
        steward_key=hub.hub_signing_key().public_key,
        k=k,
    )


def contribute(
    client: HubClient, spec: FormSpec, rows: Iterable[Mapping[str, Any]], period: str,
    org: OrgKeyPair,
) -> HubContribution:  # fmt: skip
    """Count, sign, seal to the hub's key and send the organisation's figures for `period`."""
    info = client.info()
    contribution = contribution_of(spec, rows, period, org)
    recipient = RecipientKey.from_public_key(info.sealing_kem, info.sealing_public_key)
    client.contribute(period, seal_contribution(contribution, recipient))
    return contribution


def release_period(
    client: HubClient, hub: OrgKeyPair, spec: FormSpec, period: str, policy: DisclosurePolicy
) -> PooledRelease:
    """The steward's release of `period`: open the sharing members' contributions, pool and
    protect them, check against the period's earlier releases (ReleaseRefused), publish."""
    opened = [
        open_contribution(hub, c.sealed, period, c.org_key or b"")
        for c in client.contributions(period)
    ]
    if not opened:
        raise AggregateError(f"period: no member has contributed to {period}")
    earlier = [
        open_release_counts(hub, r.sealed_counts, period)
        for r in client.releases(period)
        if r.sealed_counts is not None
    ]
    pooled = pool_release(
        spec, opened, earlier, period=period, version=len(earlier) + 1, hub=hub, policy=policy
    )
    client.publish(pooled.upload)
    return pooled


def latest_release(client: HubClient, period: str) -> HubRelease:
    """The newest release of `period`, its steward's signature checked (SignatureError)."""
    releases = client.releases(period)
    if not releases:
        raise AggregateError(f"period: the hub has no release of {period}")
    release = releases[-1]
    steward = client.info().steward_key
    verify_release(steward, release.period, release.version, release.tables, release.signature)
    return release
