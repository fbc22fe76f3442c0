"""`/v1/office/duplicates` and `/v1/office/people`: people, not rows. Candidate duplicate
victim records (found by the keyed match digests devices send, never by decrypting) listed
for the office and merged or dismissed by a case manager or admin; a training form's
attendances counted as people, with same-name pairs a coordinator confirms or rejects.
Scoped like the records list (a regional device sees its region's records only) and audited
with counts and decisions only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Path, Query

from sync.protocol import (
    MAX_PAIR_ID,
    DuplicatePair,
    DuplicatesPage,
    MatchDecisionResult,
    MergeRequest,
    OfficeRecord,
    PeopleReport,
    PersonAttendance,
    PersonPair,
)
from sync.server.auth import OFFICE_ROLES
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    audit,
    require_role,
    v1_router,
)
from sync.server.storage import ORG_WIDE_ROLES, Device, MatchDecisionStored, NotFound

__all__ = ["router"]

router = v1_router()

# Victim pairs are the case managers' (and admins'): coordinators count people.
DUPLICATE_ROLES = OFFICE_ROLES
PEOPLE_ROLES = ORG_WIDE_ROLES
_PAIR = Annotated[str, Path(min_length=3, max_length=MAX_PAIR_ID, pattern=r"^[0-9a-zA-Z._~-]+$")]


@router.get("/office/duplicates", response_model=DuplicatesPage)
def office_duplicates(
    device: CurrentDevice,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> DuplicatesPage:
    """Pairs of records that may be the same person (they share a keyed digest of a
    victim's normalised name, or of a name with the date of birth), side by side with their
    statistical fields; open pairs only (no decision yet), most shared keys first."""
    require_role(device, DUPLICATE_ROLES, "list possible duplicates")
    rows = context.storage.office_duplicates(device, limit)
    audit(context, device, "duplicates_list", f"ok:{len(rows)}")
    return DuplicatesPage(
        pairs=[
            DuplicatePair(
                pair=row.pair,
                records=[OfficeRecord.model_validate(r, from_attributes=True) for r in row.rows],
                shared=list(row.shared),
            )
            for row in rows
        ]
    )


def _decide(
    context: Context, device: Device, pair: str, decision: str, merge: MergeRequest | None
) -> MatchDecisionResult:
    require_role(device, DUPLICATE_ROLES, "merge or dismiss duplicates")
    keep = None if merge is None else merge.keep
    try:
        stored = context.storage.decide_duplicate(device, pair, decision, keep, context.now())
    except NotFound:
        audit(context, device, "duplicate_decision", "refused:pair_not_found")
        raise ApiError(404, "pair_not_found", "no such pair of possible duplicates") from None
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    audit(context, device, "duplicate_decision", stored.decision)
    return _result(stored)


def _result(stored: MatchDecisionStored) -> MatchDecisionResult:
    return MatchDecisionResult(
        pair=stored.pair,
        decision=stored.decision,
        kept=stored.kept,
        decided_at=stored.decided_at,
    )


@router.post("/office/duplicates/{pair}:merge", response_model=MatchDecisionResult)
def merge_duplicates(
    pair: _PAIR,
    device: CurrentDevice,
    context: Context,
    body: Annotated[MergeRequest | None, Body()] = None,
) -> MatchDecisionResult:
    """The two records are one person: `keep` (else the one received first) stays, the
    other is marked its duplicate (kept, never deleted) and reports count the person once."""
    return _decide(context, device, pair, "merged", body or MergeRequest())


@router.post("/office/duplicates/{pair}:dismiss", response_model=MatchDecisionResult)
def dismiss_duplicates(pair: _PAIR, device: CurrentDevice, context: Context) -> MatchDecisionResult:
    """Not the same person: the pair is no longer listed (an earlier merge of it is undone)."""
    return _decide(context, device, pair, "dismissed", None)


@router.get("/office/people", response_model=PeopleReport)
def office_people(
    device: CurrentDevice,
    context: Context,
    form: Annotated[str, Query(min_length=1, max_length=64)],
) -> PeopleReport:
    """How many participant instances (attendances) the form's records hold and how many
    people they are, with the same-name pairs for a coordinator to confirm."""
    require_role(device, PEOPLE_ROLES, "count people")
    count = context.storage.office_people(device, form)
    audit(context, device, "people_count", f"ok:{count.attendances}")
    return PeopleReport(
        form_id=count.form_id,
        attendances=count.attendances,
        people=count.people,
        to_confirm=[
            PersonPair(
                pair=pair,
                attendances=[
                    PersonAttendance.model_validate(a, from_attributes=True) for a in (one, two)
                ],
            )
            for pair, one, two in count.to_confirm
        ],
    )


def _decide_people(
    context: Context, device: Device, pair: str, decision: str
) -> MatchDecisionResult:
    require_role(device, PEOPLE_ROLES, "confirm participants")
    try:
        stored = context.storage.decide_people(device, pair, decision, context.now())
    except NotFound:
        audit(context, device, "people_decision", "refused:pair_not_found")
        raise ApiError(404, "pair_not_found", "no such pair of attendances") from None
    audit(context, device, "people_decision", stored.decision)
    return _result(stored)


@router.post("/office/people/{pair}:confirm", response_model=MatchDecisionResult)
def confirm_person(pair: _PAIR, device: CurrentDevice, context: Context) -> MatchDecisionResult:
    """The two attendances are one person: counted once."""
    return _decide_people(context, device, pair, "confirmed")


@router.post("/office/people/{pair}:reject", response_model=MatchDecisionResult)
def reject_person(pair: _PAIR, device: CurrentDevice, context: Context) -> MatchDecisionResult:
    """Two people with the same name: no longer offered."""
    return _decide_people(context, device, pair, "rejected")
