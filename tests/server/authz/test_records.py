"""Who may write and read organisation A's record (real HTTP, SQLite): its owner, and the
office of its region (or of none); the sealed parts only to those holding the organisation's
key, and to the record's own writers. The matrix's world: _matrix.py and conftest.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from sync.protocol import PushResponse, RecordOutcome, Role
from sync.server.auth import OFFICE_ROLES, SEALED_READ_ROLES
from sync.server.storage import ORG_WIDE_ROLES
from tests.server._harness import (
    FORM,
    Phone,
    revision,
)
from tests.server.authz._matrix import (
    A_ONLY_VERSION,
    ROLES,
    Matrix,
    check_receipts,
)


def pushed(m: Matrix, phone: Phone, envelope: Any) -> RecordOutcome:
    response = m.world.push(phone, envelope)
    assert response.status_code == 200, response.text
    [outcome] = PushResponse.model_validate_json(response.content).outcomes
    return outcome


REGIONS = ("north", "south", None)  # the record's region, another one, none (the whole org)


@pytest.mark.parametrize("region", REGIONS, ids=["same region", "other region", "no region"])
@pytest.mark.parametrize("role", ROLES)
def test_a_record_is_written_only_by_its_owner_and_the_office_of_its_region(
    matrix: Matrix, role: Role, region: str | None
) -> None:
    """A's record was created by a collector of region north. Another device pushes a
    revision based on its head, one with no base, a consent withdrawal, and asks to settle
    it: only an admin or case manager of north, or of no region, may."""
    world, form = matrix.world, (FORM.id, A_ONLY_VERSION)
    caller = world.enrol(matrix.org_a, role, region)
    may = role in OFFICE_ROLES and region in ("north", None)
    on_head = caller.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )
    no_base = caller.envelope(record_id=matrix.record_id, rev=revision(2), form=form)
    withdrawal = caller.envelope(
        record_id=matrix.record_id, rev=revision(3), base=on_head.revision, form=form,
        withdrawn=True,
    )  # fmt: skip

    outcomes = [pushed(matrix, caller, on_head), pushed(matrix, caller, no_base)]
    settled = world.client.post(
        f"/v1/admin/records/{matrix.record_id}:resolve",
        json={"keep_revision": on_head.revision if may else matrix.revision},
        headers=caller.auth,
    )
    outcomes.append(pushed(matrix, caller, withdrawal))

    revisions = world.storage.list_revisions(matrix.org_a.id, matrix.record_id)
    refused = [
        e
        for e in world.storage.list_audit(matrix.org_a.id)
        if e.device_id == caller.device_id and e.outcome == "refused:not_record_owner"
    ]
    if may:
        assert [o.status for o in outcomes] == ["accepted", "conflict", "accepted"]
        assert settled.status_code == 200, settled.text
        assert [r.sealed is None for r in revisions] == [True] * 4  # every version erased
        assert refused == []
        return
    for outcome in outcomes:
        assert (outcome.status, outcome.receipt) == ("rejected", None)
        assert [(e.code, e.field) for e in outcome.errors] == [("not_record_owner", "id")]
        assert matrix.revision not in outcome.model_dump_json()
    expected = "not_record_owner" if role in OFFICE_ROLES else "forbidden"
    assert (settled.status_code, settled.json()["error"]) == (403, expected)
    assert [(r.revision, r.status, r.sealed is not None) for r in revisions] == [
        (matrix.revision, "current", True)
    ]
    head = world.storage.get_record(matrix.org_a.id, matrix.record_id)
    assert (head.head_revision, head.in_conflict, head.consent_withdrawn) == (
        matrix.revision,
        False,
        False,
    )
    office = role in OFFICE_ROLES  # past the role check, the resolve is refused for its region
    actions = ["push", "push", *(["resolve_conflict"] if office else []), "push"]
    assert [(e.action, e.record_id) for e in refused] == [
        (action, str(matrix.record_id)) for action in actions
    ]


def test_the_owner_writes_its_record_and_leaves_settling_it_to_the_office(matrix: Matrix) -> None:
    world, author, form = matrix.world, matrix.author, (FORM.id, A_ONLY_VERSION)
    edit = author.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )
    offline = author.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )  # its other copy's edit
    assert pushed(matrix, author, edit).status == "accepted"
    assert pushed(matrix, author, offline).status == "conflict"
    settled = world.client.post(
        f"/v1/admin/records/{matrix.record_id}:resolve",
        json={"keep_revision": edit.revision},
        headers=author.auth,
    )
    assert (settled.status_code, settled.json()["error"]) == (403, "forbidden")
    withdrawal = author.envelope(
        record_id=matrix.record_id, rev=revision(3), base=edit.revision, form=form, withdrawn=True
    )
    assert pushed(matrix, author, withdrawal).status == "accepted"


@pytest.mark.parametrize("region", REGIONS, ids=["same region", "other region", "no region"])
@pytest.mark.parametrize("role", ROLES)
def test_the_record_route_gives_sealed_parts_only_to_key_holders_and_its_writers(
    matrix: Matrix, role: Role, region: str | None
) -> None:
    """`GET /v1/records/{id}` of A's record (north): the office of its region (or of none)
    reads it, sealed parts only for those holding the organisation's key; another region's
    office gets 404, as do field devices that took no part; its author gets it whole."""
    world = matrix.world
    caller = world.enrol(matrix.org_a, role, region)
    path = f"/v1/records/{matrix.record_id}"
    response = world.client.get(path, headers=caller.auth)
    receipts = check_receipts(matrix, caller, caller.auth).json()["held"]
    if role not in ORG_WIDE_ROLES or region == "south":
        assert response.status_code == 404, response.text
        assert matrix.revision not in response.text
        assert receipts == []
        return
    assert response.status_code == 200, response.text
    view = response.json()
    sealed = [revision["sealed"] for revision in view["revisions"]]
    if role in SEALED_READ_ROLES:
        assert sealed != [None] and None not in sealed
        assert view["sealed_withheld"] is False
    else:
        assert sealed == [None] and view["sealed_withheld"] is True
        assert view["revisions"][0]["stats"]  # the statistics still come
    assert len(receipts) == 1
    outcomes = [
        e.outcome
        for e in world.storage.list_audit(matrix.org_a.id)
        if e.device_id == caller.device_id and e.action == "read_record"
    ]
    assert outcomes == ["ok" if role in SEALED_READ_ROLES else "ok:statistics"]

    mine = world.client.get(path, headers=matrix.author.auth).json()
    assert mine["sealed_withheld"] is False and mine["revisions"][0]["sealed"] is not None
