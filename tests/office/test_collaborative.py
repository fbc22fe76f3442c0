"""The data collaborative's pooling, office side: a release pools members' sealed counts,
hides what is small across organisations (and what one member could work out by taking its
own counts away), and is refused when it differs from an earlier one by a small group."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fieldapp.crypto import OrgKeyPair
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import AggregateError, DisclosurePolicy, ReleaseRefused
from fieldapp.office.collaborative import (
    contribution_of,
    open_contribution,
    open_release_counts,
    pool_release,
    release_csv,
    seal_contribution,
    verify_release,
)
from tests.office._attacker import from_json

VICTIMS = load_builtin_forms()["victim_screening"]
POLICY = DisclosurePolicy()
PERIOD = "2026Q3"


def common_victims(n: int, nationalities: tuple[str, ...] = ("NG", "RO")) -> list[dict[str, Any]]:
    """Adults of common nationalities, every cell of them comfortably above k."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "screening_outcome": "identified_victim",
                "nationality": nationalities[i % len(nationalities)],
                "age_band": ("18_24", "25_34")[(i // 2) % 2],
                "sex": ("female", "male")[(i // 4) % 2],
                "exploitation_types": [("forced_labour", "sexual_exploitation")[(i // 8) % 2]],
                "month": ("2026-07", "2026-08", "2026-09")[i % 3],
                "region": ("north", "south")[(i // 3) % 2],
            }
        )
    return rows


RARE = {
    "screening_outcome": "identified_victim",
    "nationality": "ER",
    "age_band": "12_14",
    "sex": "female",
    "exploitation_types": ["forced_marriage"],
    "month": "2026-08",
    "region": "east",
}
NOT_A_VICTIM = {**RARE, "screening_outcome": "not_victim", "nationality": "AF"}


@pytest.fixture(scope="module")
def hub() -> OrgKeyPair:
    return OrgKeyPair.generate()


@pytest.fixture(scope="module")
def orgs() -> tuple[OrgKeyPair, OrgKeyPair]:
    return OrgKeyPair.generate("X25519"), OrgKeyPair.generate("X25519")


def _release(hub: OrgKeyPair, contributions: list[Any], earlier: list[Any] = (), version: int = 1):  # type: ignore[no-untyped-def,assignment]
    return pool_release(
        VICTIMS,
        contributions,
        list(earlier),
        period=PERIOD,
        version=version,
        hub=hub,
        policy=POLICY,
    )


def _whole(low: float, high: float) -> float:
    return math.inf if math.isinf(high) else math.floor(high + 1e-6) - math.ceil(low - 1e-6)


def test_a_rare_victim_of_one_organisation_is_hidden_in_the_pooled_release(
    hub: OrgKeyPair, orgs: tuple[OrgKeyPair, OrgKeyPair]
) -> None:
    a = contribution_of(VICTIMS, common_victims(200), PERIOD, orgs[0])
    b = contribution_of(VICTIMS, [*common_victims(160), RARE, NOT_A_VICTIM], PERIOD, orgs[1])
    pooled = _release(hub, [a, b])
    tables = pooled.upload.tables
    assert [t["total"] for t in tables if t["total"] is not None] != []
    eritrean = [
        c
        for t in tables
        for c in [*t["cells"], *t["margins"]]
        if c["values"].get("nationality") == "ER"
    ]
    assert eritrean and all(c["count"] is None for c in eritrean)
    # Her region is one only she comes from: hidden as well, by month and in total.
    east = [
        c
        for t in tables
        for c in [*t["cells"], *t["margins"]]
        if c["values"].get("region") == "east"
    ]
    assert east and all(c["count"] is None for c in east)
    assert not any(
        c["values"].get("nationality") == "AF" and c["count"] for t in tables for c in t["cells"]
    )
    # No hidden figure about her can be worked out from the margins and the other tables.
    attacker = from_json(tables, multiple=("exploitation_types",))
    truth = {frozenset(key[1]): n for key, n in pooled.release.counts.items()}
    small = [cell for cell, n in truth.items() if 0 < n < POLICY.k]
    assert frozenset({("nationality", "ER"), ("age_band", "12_14")}) in small
    for cell in small:
        assert cell in attacker.unknown
        assert _whole(*attacker.lp_range({cell: 1})) >= 1, sorted(cell)
    assert "ER" not in release_csv(tables).replace("nationality=ER", "").split(",")
    verify_release(hub.hub_signing_key().public_key, PERIOD, 1, tables, pooled.upload.signature)


def test_what_one_member_could_subtract_from_the_pool_is_hidden_too(
    hub: OrgKeyPair, orgs: tuple[OrgKeyPair, OrgKeyPair]
) -> None:
    # Org A counts 30 Vietnamese victims, org B one: the pooled 31 is above k, but A, knowing
    # its own 30, would learn B's single Vietnamese survivor from it.
    a_rows = [*common_victims(200), *common_victims(30, ("VN",))]
    b_rows = [*common_victims(160), *common_victims(1, ("VN",))]
    a = contribution_of(VICTIMS, a_rows, PERIOD, orgs[0])
    b = contribution_of(VICTIMS, b_rows, PERIOD, orgs[1])
    tables = _release(hub, [a, b]).upload.tables
    vietnam = [m for t in tables for m in t["margins"] if m["values"] == {"nationality": "VN"}]
    assert vietnam and all(m["count"] is None for m in vietnam)


def test_a_release_differing_by_one_late_survivor_is_refused(
    hub: OrgKeyPair, orgs: tuple[OrgKeyPair, OrgKeyPair]
) -> None:
    a = contribution_of(VICTIMS, common_victims(200), PERIOD, orgs[0])
    b = contribution_of(VICTIMS, common_victims(160), PERIOD, orgs[1])
    first = _release(hub, [a, b])
    # The steward keeps only the sealed true counts at the hub, and opens them next time.
    earlier = open_release_counts(hub, first.upload.sealed_counts, PERIOD)
    assert earlier == first.release
    late = {**common_victims(1)[0], "nationality": "RO"}
    b_late = contribution_of(VICTIMS, [*common_victims(160), late], PERIOD, orgs[1])
    with pytest.raises(ReleaseRefused) as refused:
        _release(hub, [a, b_late], [earlier], version=2)
    assert ("2026Q3v1", "total", 1) in refused.value.cells
    # Published side by side, the two would pin the late survivor: the gate is what stops it.
    unprotected = _release(hub, [a, b_late], [], version=2).upload.tables
    assert unprotected[0]["total"] - first.upload.tables[0]["total"] == 1


def test_a_withdrawal_that_removes_a_small_group_refuses_the_re_release(
    hub: OrgKeyPair, orgs: tuple[OrgKeyPair, OrgKeyPair]
) -> None:
    a = contribution_of(VICTIMS, common_victims(200), PERIOD, orgs[0])
    b = contribution_of(VICTIMS, common_victims(5, ("NG",)), PERIOD, orgs[1])
    first = _release(hub, [a, b])
    with pytest.raises(ReleaseRefused):
        _release(hub, [a], [first.release], version=2)


def test_contributions_are_sealed_signed_and_bound_to_their_sender(
    hub: OrgKeyPair, orgs: tuple[OrgKeyPair, OrgKeyPair]
) -> None:
    contribution = contribution_of(VICTIMS, [*common_victims(20), RARE], PERIOD, orgs[0])
    sealed = seal_contribution(contribution, hub.recipient)
    assert b"ER" not in sealed and b"forced_marriage" not in sealed
    sender = orgs[0].hub_signing_key().public_key
    assert open_contribution(hub, sealed, PERIOD, sender) == contribution
    with pytest.raises(AggregateError, match="another member"):
        open_contribution(hub, sealed, PERIOD, orgs[1].hub_signing_key().public_key)
    with pytest.raises(AggregateError, match="cannot be trusted"):
        open_contribution(hub, sealed, "2026Q4", sender)
    forged = contribution.model_copy(update={"counts": [[None, [], 1000]]})
    with pytest.raises(AggregateError, match="cannot be trusted"):
        open_contribution(hub, seal_contribution(forged, hub.recipient), PERIOD, sender)
    # Counts only: no record, no field outside the fixed tables.
    fields = {f for _, values, _ in contribution.counts for f, _ in values}
    assert fields == {"nationality", "age_band", "sex", "exploitation_types", "month", "region"}
    with pytest.raises(AggregateError, match="month: '2026-10' is not a month of 2026Q3"):
        contribution_of(VICTIMS, [{**RARE, "month": "2026-10"}], PERIOD, orgs[0])
