"""People, not rows, on the wire: the keyed match digests a device sends beside a record's
sealed part (`MatchKey`, in `RecordEnvelope.match`), the office's candidate duplicate
records (`GET /v1/office/duplicates`) and its decision on a pair (`POST
/v1/office/duplicates/{pair}:merge` | `:dismiss`), and the people-versus-attendances count
of a training form with the fuzzy matches a coordinator confirms (`GET /v1/office/people`,
`POST /v1/office/people/{pair}:confirm` | `:reject`).

A digest is HMAC-SHA256 under the organisation's match key, truncated to 16 bytes
(fieldapp.crypto.matching): the server compares them, and cannot compute one.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from sync.protocol.office import OfficeRecord
from sync.protocol.records import MAX_MATCH_KEYS, MatchKey, MatchKind
from sync.protocol.wire import Timestamp, WireModel

__all__ = [
    "MAX_MATCH_KEYS",
    "MAX_PAIR_ID",
    "DuplicatePair",
    "DuplicatesPage",
    "MatchDecision",
    "MatchDecisionResult",
    "MatchKey",
    "MatchKind",
    "MergeRequest",
    "PeopleReport",
    "PersonAttendance",
    "PersonPair",
]

MatchDecision = Literal["merged", "dismissed", "confirmed", "rejected"]
MAX_PAIR_ID = 300


class DuplicatePair(WireModel):
    """Two records that may be one person, side by side (statistical fields only): `pair`
    names it in the decision's path; `shared` are the blocking keys both have."""

    pair: str
    records: list[OfficeRecord] = Field(min_length=2, max_length=2)
    shared: list[MatchKind]


class DuplicatesPage(WireModel):
    """The open candidate pairs the viewer may see, most shared keys first."""

    pairs: list[DuplicatePair]


class MergeRequest(WireModel):
    """Which record of the pair stays the person's record (the other is marked its
    duplicate, kept, never deleted); the one received first when not given."""

    keep: UUID | None = None


class MatchDecisionResult(WireModel):
    pair: str
    decision: MatchDecision
    kept: str | None = None
    decided_at: Timestamp


class PersonAttendance(WireModel):
    """One participant instance: its record, its `_id` and its statistical answers."""

    record_id: UUID
    subject: str
    stats: dict[str, object]


class PersonPair(WireModel):
    """Two attendances with the same name but neither organisation nor phone in common: the
    same person for a coordinator to confirm, or not."""

    pair: str
    attendances: list[PersonAttendance] = Field(min_length=2, max_length=2)


class PeopleReport(WireModel):
    """`attendances` participant instances of the form's records (not deleted, not merged
    away) belong to `people` people: the same name with the same organisation or phone is
    one person, and so is a pair a coordinator confirmed; `to_confirm` lists the others with
    the same name."""

    form_id: str
    attendances: int
    people: int
    to_confirm: list[PersonPair]
