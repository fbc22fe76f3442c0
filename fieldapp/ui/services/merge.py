"""Merging a record in conflict: what differs from the other version, as far as this device
may see it (the statistics the server keeps in clear and the participants the team roster
shares; the other version's sealed part is the organisation's), and the merged version sent."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fieldapp.forms.merge import MergeProposal, Side, apply, propose
from fieldapp.store import Record
from fieldapp.ui.services.errors import MergeUnavailable
from fieldapp.ui.services.records import Records
from fieldapp.ui.services.sync import Sync
from fieldapp.ui.services.team import Team
from sync.client import RecordVersions, ServerUnreachable, SyncError
from sync.protocol import RecordEnvelope

__all__ = ["MergeOffer", "Merging"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeOffer:
    """A merge to choose from: the differences between this device's version of a record in
    conflict and the other one, to be sent on top of the server's head (`head_revision`)."""

    record_id: str
    head_revision: str
    proposal: MergeProposal


class Merging:
    """Compare and merge, which needs the server to fetch the other version."""

    def __init__(self, records: Records, team: Team, sync: Sync) -> None:
        self._records = records
        self._team = team
        self._sync = sync

    def offer(self, record_id: str) -> MergeOffer:
        """What differs between this device's version of a record in conflict and the other
        one. Raises MergeUnavailable saying why it cannot be had."""
        record = self._records.get(record_id)
        if record.status != "conflict":
            raise MergeUnavailable("merge_nothing")
        client = self._sync.client()
        if client is None:
            raise MergeUnavailable("not_enrolled")
        if not client.probe(timeout=5.0):
            raise MergeUnavailable("merge_offline")
        try:
            versions = client.record_versions(record_id)
        except ServerUnreachable:
            raise MergeUnavailable("merge_offline") from None
        except SyncError as exc:
            log.warning("the server's versions of record %s were refused: %s", record_id, exc)
            raise MergeUnavailable("merge_unavailable") from None
        if versions.form_id != record.form_id:
            log.warning("the server holds record %s under another form", record_id)
            raise MergeUnavailable("merge_unavailable")
        theirs = _other_version(versions, record.revision)
        if theirs is None or not versions.in_conflict:  # the office resolved it meanwhile
            raise MergeUnavailable("merge_nothing")
        proposal = propose(
            self._records.form(record.form_id, record.form_version),
            record.values,
            theirs.stats,
            roster=self._team.shared_details(record_id),
            their_sealed=theirs.sealed is not None,
        )
        return MergeOffer(record.id, versions.head.revision, proposal)

    def send(self, offer: MergeOffer, choices: Mapping[str, Side], lang: str) -> Record:
        """The merged version, finalised on top of the server's head as `offer` found it and
        sent at the next sync as the newest one (raises fieldapp.store.ValidationFailed,
        leaving a draft, if it does not pass; StoreError if the record is no longer in
        conflict). The server keeps the record flagged until the office has checked the
        other version's sealed part."""
        merged = apply(offer.proposal, choices)
        return self._records.settle_conflict(
            offer.record_id, merged, head=offer.head_revision, lang=lang
        )


def _other_version(versions: RecordVersions, mine: str) -> RecordEnvelope | None:
    """The version to compare with this device's (`mine`): the server's head, or when the
    head is this device's own, the latest sibling in conflict with it (None if none is)."""
    if versions.head.revision != mine:
        return versions.head
    others = [sibling for sibling in versions.siblings if sibling.revision != mine]
    return others[-1] if others else None
