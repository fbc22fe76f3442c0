"""What a pulled change does to the store: one handler per kind of change, dispatched by kind.

A change that cannot be applied is reported, never retried forever: a queue wedged on one bad
item is worse than a message. A change this device has no use for (a deleted form, another
device's revocation, a kind this version does not know) is counted as skipped.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import ValidationError

from fieldapp.errors import RecordNotFound, StoreError
from fieldapp.forms.spec import FormSpec
from fieldapp.store import Store
from sync.client._errors import ServerRefused
from sync.client._outcomes import conflict_problem
from sync.client._report import SyncReport
from sync.protocol import (
    Change,
    EventChange,
    FormChange,
    RecordChange,
    ReferenceChange,
    ReviewChange,
    RevocationChange,
    RosterChange,
    UnknownChange,
)

__all__ = [
    "apply_change",
    "on_event",
    "on_form",
    "on_record",
    "on_reference",
    "on_review",
    "on_revocation",
    "on_roster",
]


def apply_change(store: Store, change: Change | UnknownChange, report: SyncReport) -> None:
    """Hand the change to the handler of its kind; one of a kind this version does not know
    is counted in `report.skipped_changes`. Raises ServerRefused if this device was revoked."""
    match change:
        case FormChange():
            on_form(store, change, report)
        case ReferenceChange():
            on_reference(store, change, report)
        case EventChange():
            on_event(store, change, report)
        case RecordChange():
            on_record(store, change, report)
        case RevocationChange():
            on_revocation(store, change, report)
        case RosterChange():
            on_roster(store, change, report)
        case ReviewChange():
            on_review(store, change, report)
        case UnknownChange():
            report.skipped_changes += 1


def on_form(store: Store, change: FormChange, report: SyncReport) -> None:
    """A form version published for the device: added unless it holds it already (counted in
    `report.forms_added`); one it cannot add is named in `report.errors`. Forms are never
    removed from a device (a deleted one is skipped): its records may still need them."""
    if change.deleted:
        report.skipped_changes += 1
        return
    if store.forms.holds_as_sent(change.data.form_id, change.data.version, change.data.spec):
        return
    try:
        spec = FormSpec.model_validate(change.data.spec)
        if _known_form(store, spec):
            return
        store.forms.add(spec, source="server")
    except (ValidationError, StoreError) as exc:
        report.errors.append(f"form {change.key} from the server was not added: {exc}")
        return
    report.forms_added += 1


def on_reference(store: Store, change: ReferenceChange, report: SyncReport) -> None:
    """A reference list the organisation shares: kept as sent, or dropped when deleted."""
    _keep_shared(store, change.kind, change.key, change.data, change.seq, change.deleted)


def on_event(store: Store, change: EventChange, report: SyncReport) -> None:
    """A training event shared with trainers: kept as sent, or dropped when deleted."""
    _keep_shared(store, change.kind, change.key, change.data, change.seq, change.deleted)


def on_roster(store: Store, change: RosterChange, report: SyncReport) -> None:
    """A participant of the team's roster (sealed with the team key): kept, or dropped."""
    data = change.data.model_dump(mode="json")
    _keep_shared(store, change.kind, change.key, data, change.seq, change.deleted)


def on_record(store: Store, change: RecordChange, report: SyncReport) -> None:
    """What happened to a record this device takes part in: its consent withdrawn (this copy
    is erased), a conflict (this copy marked), or the office's resolution (this copy leaves
    `conflict`). Anything else needs nothing here."""
    if change.data.consent_withdrawn:
        _note_withdrawal(store, change, report)
    elif change.data.conflict:
        _note_conflict(store, change)
    elif change.data.resolved:
        _note_resolution(store, change, report)


def on_review(store: Store, change: ReviewChange, report: SyncReport) -> None:
    """The office reviewed one of this device's records (or a resend moved the review on):
    kept against the record, the latest by seq (counted in `report.reviews`). Only the
    devices that wrote or pushed a revision of the record get it. Works while locked."""
    data = change.data
    store.reviews.keep(
        change.key, data.revision, data.state, data.comment, data.reviewed_at, change.seq
    )
    report.reviews += 1


def on_revocation(store: Store, change: RevocationChange, report: SyncReport) -> None:
    """A device of the organisation was revoked: ServerRefused if it is this one (syncing
    stops: enrol again); another device's is skipped."""
    if change.key == store.device_id:
        raise ServerRefused("this device was revoked by the organisation: enrol it again")
    report.skipped_changes += 1


def _keep_shared(
    store: Store, kind: str, key: str, data: dict[str, Any], seq: int, deleted: bool
) -> None:
    if deleted:
        store.roster.delete_shared(kind, key)
    else:
        store.roster.put_shared(kind, key, data, seq)


def _known_form(store: Store, spec: FormSpec) -> bool:
    """The device holds this version already (the server may have reordered its JSON)."""
    return store.forms.holds(spec)


def _note_withdrawal(store: Store, change: RecordChange, report: SyncReport) -> None:
    """Consent was withdrawn for a record (on another copy, or by the office): this
    device's copy loses its sensitive part too, whatever state it is in."""
    with contextlib.suppress(RecordNotFound):  # a record this device never held
        if store.consent.erase_withdrawn(change.key, change.data.head_revision):
            report.erased += 1


def _note_conflict(store: Store, change: RecordChange) -> None:
    """Mark this device's copy of a record `conflict` if it holds one of the versions the
    server keeps for review (the head, or a sibling pushed from a copy of this store)."""
    head = change.data.head_revision
    if change.data.revision == head and store.conflicts.settled(change.key, head):
        return  # the head is this device's settled version: the office has the rest
    for revision in [head, *change.data.siblings]:
        try:
            store.outbox.record_outcome(
                change.key,
                revision,
                "conflict",
                problems=[conflict_problem(head)],
                server_revision=head,
            )
        except RecordNotFound:
            return


def _note_resolution(store: Store, change: RecordChange, report: SyncReport) -> None:
    """The office settled the record's conflict: this device's copy leaves `conflict`."""
    head, set_aside = change.data.head_revision, change.data.superseded
    with contextlib.suppress(RecordNotFound):  # a record this device never held
        if store.conflicts.resolved(change.key, head, set_aside):
            report.resolved += 1
