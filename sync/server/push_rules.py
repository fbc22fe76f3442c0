"""The push rule: what becomes of one pushed envelope, decided from what the server holds of
its record and from who pushes it. A pure function: the storage loads the record's state in
its transaction, calls `decide_push`, and writes what the decision says (the revision, the
record's head, its change, its audit entry), so the rule is tested without a database.

The verdicts, checked in this order (the first that applies):
- record_id_taken: the record id belongs to another organisation (as if unknown to it);
- duplicate: this (id, revision) is stored with the same content digest: nothing written,
  the stored receipt again (forever: no time limit);
- revision_reused: this (id, revision) is stored with another digest: never overwritten;
- not_record_owner: the pusher may not write the record (`auth.may_write`: neither its
  owner nor the office of its region), whatever the envelope is; a relay writes as the
  envelope's signer;
- consent_withdrawn: the record's consent was withdrawn and this is not a withdrawal too;
- accepted: a new record, an edit on the head, or a consent withdrawal (whatever its base):
  it becomes the head; a withdrawal also clears the conflict and erases every revision's
  sealed part, and its change reaches every device that wrote or pushed the record;
- conflict: a stale or unknown base: stored beside the head, the record flagged for review,
  its change reaching the head's author too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from sync.protocol import OutcomeStatus, RecordChangeData, RecordEnvelope, WireFieldError
from sync.server.auth import may_write
from sync.server.storage.models import Device, Owner

__all__ = ["PushDecision", "RecordState", "Verdict", "decide_push"]

Verdict = Literal[
    "accepted",
    "conflict",
    "duplicate",
    "revision_reused",
    "record_id_taken",
    "not_record_owner",
    "consent_withdrawn",
]


@dataclass(frozen=True, slots=True)
class RecordState:
    """What the server holds of one record, as far as the push rule needs it."""

    org_id: str
    owner: Owner  # who may write it, with the office of its region
    head_revision: str
    head_device_id: str  # the head's author
    form_id: str
    deleted: bool  # the head is a tombstone
    in_conflict: bool
    siblings: tuple[str, ...]  # revisions kept as conflicting with the head, oldest first
    withdrawn: bool  # consent withdrawn: no sealed content is ever stored again
    participants: frozenset[str]  # devices that wrote or pushed a revision of it
    digests: Mapping[str, str]  # content digest of every stored revision, by revision


@dataclass(frozen=True, slots=True)
class PushDecision:
    """The verdict on one envelope and what to write for it.

    For accepted and conflict, `record` is the record after the push and `change`,
    `audience` the record change to append (and to whom, beyond the organisation-wide roles);
    for a duplicate, `record` is the record as stored; for a refusal, `error` says why.
    """

    verdict: Verdict
    record: RecordState | None = None
    change: RecordChangeData | None = None
    audience: frozenset[str] = frozenset()
    error: WireFieldError | None = None
    erases: bool = False  # an accepted withdrawal: every stored sealed part goes

    @property
    def status(self) -> OutcomeStatus:
        if self.verdict in ("accepted", "conflict", "duplicate"):
            return self.verdict
        return "rejected"

    @property
    def stores(self) -> bool:
        """Whether the envelope is stored, as a new head or as a sibling in conflict."""
        return self.verdict in ("accepted", "conflict")

    @property
    def audit_outcome(self) -> str:
        """A refusal of who the device is reads as the app's refusals do; a stored outcome,
        or a rejection of what was sent, by its status."""
        return "refused:not_record_owner" if self.verdict == "not_record_owner" else self.status


def decide_push(
    pusher: Device, envelope: RecordEnvelope, digest: str, record: RecordState | None
) -> PushDecision:
    """The verdict on `envelope` (whose content digest is `digest`), pushed by `pusher`, for
    a record the server holds as `record` (None: unknown); see the module docstring."""
    if record is not None and record.org_id != pusher.org_id:
        return _refused("record_id_taken", envelope)
    stored = None if record is None else record.digests.get(envelope.revision)
    if stored is not None:
        if stored == digest:
            return PushDecision("duplicate", record)
        return _refused("revision_reused", envelope)
    if record is not None and not may_write(_writer(pusher, envelope), record.owner):
        return _refused("not_record_owner", envelope)
    if record is not None and record.withdrawn and not envelope.consent_withdrawn:
        return _refused("consent_withdrawn", envelope)

    authors = frozenset({pusher.id, envelope.device_id})
    participants = authors | (record.participants if record else frozenset())
    digests = {**(record.digests if record else {}), envelope.revision: digest}
    # A withdrawal becomes the head whatever its base: every version loses its sealed part,
    # so there is nothing left to compare, and conflicting ones are set aside.
    if (
        record is not None
        and envelope.base_revision != record.head_revision
        and not envelope.consent_withdrawn
    ):
        siblings = (*record.siblings, envelope.revision)
        after = replace(
            record, siblings=siblings, in_conflict=True, participants=participants, digests=digests
        )
        return _stored("conflict", envelope, after, authors | {record.head_device_id})
    if record is None:  # a new record is the signer's, in the pushing device's region
        owner = Owner(pusher.org_id, envelope.device_id, pusher.region)
        record = RecordState(
            pusher.org_id, owner, "", "", "", False, False, (), False, frozenset(), {}
        )  # nothing stored yet: the head is the envelope, below
    after = replace(
        record,
        head_revision=envelope.revision,
        head_device_id=envelope.device_id,
        form_id=envelope.form_id,
        deleted=envelope.deleted,
        participants=participants,
        digests=digests,
    )
    if not envelope.consent_withdrawn:
        return _stored("accepted", envelope, after, authors)
    after = replace(after, withdrawn=True, in_conflict=False, siblings=())
    # Every copy of the record must go: the change reaches whoever wrote or pushed it.
    return _stored("accepted", envelope, after, participants, erases=True)


def _writer(pusher: Device, envelope: RecordEnvelope) -> Device:
    """Who writes the record: the pusher, or for a relay the envelope's signer, as a device
    of the relay's organisation and region with no office rights (the push route verified
    the signature against that device's enrolled key, and that the relay may carry it)."""
    if pusher.role != "relay":
        return pusher
    return replace(pusher, id=envelope.device_id, role="collector")


def _stored(
    verdict: Verdict,
    envelope: RecordEnvelope,
    after: RecordState,
    audience: frozenset[str],
    *,
    erases: bool = False,
) -> PushDecision:
    """A decision to store `envelope`, leaving its record as `after`, with the record change
    that tells `audience` what happened (metadata only: never stats, never sealed bytes)."""
    change = RecordChangeData(
        revision=envelope.revision,
        base_revision=envelope.base_revision,
        head_revision=after.head_revision,
        form_id=envelope.form_id,
        form_version=envelope.form_version,
        device_id=envelope.device_id,
        conflict=after.in_conflict,
        siblings=after.siblings,
        consent_withdrawn=envelope.consent_withdrawn,
    )
    return PushDecision(verdict, after, change, audience, erases=erases)


_REFUSALS = {
    "revision_reused": ("revision", "this revision was already stored with different content"),
    "record_id_taken": ("revision", "this record id belongs to another organisation"),
    "consent_withdrawn": (
        "sealed",
        "consent was withdrawn for this record: the server erased its personal details"
        " and stores no new version of them",
    ),
}


def _refused(verdict: Verdict, envelope: RecordEnvelope) -> PushDecision:
    """A refusal naming the envelope field it is about; a record the device may not write
    names what it asked and who may do it."""
    if verdict == "not_record_owner":
        what = "withdraw its consent" if envelope.consent_withdrawn else "store a version of it"
        field, message = (
            "id",
            "this record belongs to the device that created it: only that device, or an"
            f" admin or case manager of the record's region, may {what}",
        )
    else:
        field, message = _REFUSALS[verdict]
    return PushDecision(
        verdict, error=WireFieldError(field=field, path=field, code=verdict, message=message)
    )
