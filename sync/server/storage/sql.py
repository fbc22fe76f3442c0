"""`SqlStorage`: the `Storage` both backends share, each method one transaction running one
query module's function (organisations, devices, forms, shared, records, changes, audit).

A backend (sqlite.py, postgres.py) supplies the transactions, its migrations, which
exceptions are transient between concurrent writers, and what to scrub after an erasure.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from sync.protocol import (
    AttachmentsStored,
    ChangesPage,
    RecordChangeData,
    RecordEnvelope,
    ReviewState,
    Role,
    RosterStatus,
)
from sync.protocol.hub import (
    HubConsent,
    HubMember,
    HubRelease,
    HubReleaseUpload,
    HubSealedContribution,
)
from sync.server.storage import (
    attachments,
    audit,
    changes,
    devices,
    epochs,
    forms,
    hub,
    matching,
    migrations,
    office,
    organisations,
    records,
    referrals,
    relayed,
    server_key,
    shared,
)
from sync.server.storage.base import Storage
from sync.server.storage.errors import StorageUnwritable
from sync.server.storage.migrations import Migration
from sync.server.storage.models import (
    AuditEntry,
    Device,
    DeviceContact,
    DirectoryListing,
    DuplicateRow,
    EnrolCode,
    FormVersion,
    MatchDecisionStored,
    OfficeFilter,
    OfficePage,
    Organisation,
    PendingEnrolment,
    PeopleCount,
    PushResult,
    RecordHead,
    ReferralRow,
    ReviewStored,
    RosterWrite,
    SealedRecord,
    SharedKind,
    StatsRow,
    StoredRecord,
)
from sync.server.storage.tx import Tx, json_text

__all__ = ["SqlStorage"]

_WRITE_ATTEMPTS = 5
_T = TypeVar("_T")


class SqlStorage(Storage):
    """Everything but connections, transactions and locking."""

    migrations: ClassVar[Sequence[Migration]]
    transient_errors: ClassVar[tuple[type[Exception], ...]]
    # Why the last write failed for want of storage; None once one succeeds (`_write`).
    _write_failure: str | None = None

    # -- backend hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _write_transaction(self) -> AbstractContextManager[Tx]:
        """A read-write transaction, committed on normal exit, rolled back on an exception."""

    @abc.abstractmethod
    def _cannot_write(self, error: Exception) -> str | None:
        """If `error` says the database cannot store anything now (full, read-only, failing
        disk), why, in words fit for anyone (see `write_problem`); else None."""

    @abc.abstractmethod
    def _storage_problem(self) -> str | None:
        """What a cheap look, without writing, finds in the way of writing (a full or
        read-only disk or database), or None."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Tx]:
        """A transaction for consistent reads."""

    # -- whether the database can write ---------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        """A read-write transaction (`_write_transaction`) that notes whether the database
        could write: a failure for want of storage is raised as StorageUnwritable and kept
        for `write_problem` until a write succeeds."""
        try:
            with self._write_transaction() as tx:
                yield tx
        except Exception as exc:
            reason = self._cannot_write(exc)
            if reason is None:
                raise
            self._write_failure = reason
            raise StorageUnwritable(f"the server cannot store anything now: {reason}") from exc
        self._write_failure = None

    def write_problem(self) -> str | None:
        problem = self._storage_problem()
        if problem is not None or self._write_failure is None:
            return problem
        try:  # after a write failed for want of storage: is that over? (a no-op update)
            with self._write() as tx:
                tx.run("UPDATE change_counter SET value = value WHERE id = 1")
        except StorageUnwritable:
            return self._write_failure
        return None

    def _after_erasure(self) -> None:
        """Called once a transaction that erased sealed bytes has committed: a backend that
        keeps old page images of its own (SQLite's write-ahead log) drops them here."""

    def _write_retrying(self, work: Callable[[Tx], _T]) -> _T:
        """`work` in a write transaction, run again on a transient failure between concurrent
        writers (PostgreSQL serialisation failures and deadlocks)."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._write() as tx:
                    return work(tx)
            except self.transient_errors:
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- lifecycle and server key ----------------------------------------------------------

    def migrate(self) -> None:
        with self._write() as tx:
            migrations.apply(tx, self.migrations)

    def applied_migrations(self) -> list[int]:
        with self._read() as tx:
            return migrations.applied(tx)

    def ensure_server_key(self, key_id: str, blob: bytes, now: datetime) -> tuple[str, bytes]:
        with self._write() as tx:
            return server_key.ensure(tx, key_id, blob, now)

    # -- organisations ---------------------------------------------------------------------

    def create_organisation(
        self, name: str, now: datetime, *, org_id: str | None = None
    ) -> Organisation:
        with self._write() as tx:
            return organisations.create(tx, name, now, org_id)

    def get_organisation(self, org_id: str) -> Organisation:
        with self._read() as tx:
            return organisations.by_id(tx, org_id)

    def organisation_by_name(self, name: str) -> Organisation:
        with self._read() as tx:
            return organisations.by_name(tx, name)

    def list_organisations(self) -> list[Organisation]:
        with self._read() as tx:
            return organisations.list_all(tx)

    def set_recipients(self, org_id: str, recipients: list[dict[str, Any]]) -> Organisation:
        with self._write() as tx:
            return organisations.set_recipients(tx, org_id, recipients)

    # -- enrolment and devices -------------------------------------------------------------

    def create_enrol_code(
        self,
        org_id: str,
        code_hash: str,
        role: Role,
        region: str | None,
        expires_at: datetime,
        now: datetime,
        wrapped_team_key: bytes | None = None,
        wrapped_match_key: bytes | None = None,
        *,
        relay_id: str | None = None,
        proof_key: str | None = None,
    ) -> EnrolCode:
        with self._write() as tx:
            return devices.create_code(
                tx, org_id, code_hash, role, region, expires_at, now, wrapped_team_key,
                wrapped_match_key, relay_id, proof_key,
            )  # fmt: skip

    def relay_codes(self, relay_id: str, now: datetime) -> list[EnrolCode]:
        with self._read() as tx:
            return devices.codes_for_relay(tx, relay_id, now)

    def get_enrol_code(self, code_hash: str) -> EnrolCode:
        with self._read() as tx:
            return devices.code_by_hash(tx, code_hash)

    def redeem_enrol_code(
        self,
        code_hash: str,
        device_id: str,
        public_key: bytes,
        label: str,
        token_hash: str,
        now: datetime,
        *,
        pending_proof: str | None = None,
        enrolled_via: str | None = None,
    ) -> Device:
        with self._write() as tx:
            return devices.redeem(
                tx, code_hash, device_id, public_key, label, token_hash, now, pending_proof,
                enrolled_via,
            )  # fmt: skip

    def pending_enrolments(self, limit: int) -> list[PendingEnrolment]:
        with self._read() as tx:
            return devices.pending(tx, limit)

    def settle_pending_enrolment(self, device_id: str) -> None:
        with self._write() as tx:
            devices.settle_pending(tx, device_id)

    def device_by_token(self, token_hash: str) -> Device | None:
        with self._read() as tx:
            return devices.by_token(tx, token_hash)

    def get_device(self, device_id: str) -> Device:
        with self._read() as tx:
            return devices.by_id(tx, device_id)

    def list_devices(self, org_id: str) -> list[Device]:
        with self._read() as tx:
            return devices.list_for(tx, org_id)

    def note_device_contact(
        self,
        device_id: str,
        now: datetime,
        *,
        synced: bool,
        waiting: int | None = None,
        app_version: str | None = None,
    ) -> None:
        with self._write() as tx:
            devices.note_contact(
                tx, device_id, now, synced=synced, waiting=waiting, app_version=app_version
            )

    def revoke_device(self, device_id: str, now: datetime) -> Device:
        with self._write() as tx:
            return devices.revoke(tx, device_id, now)

    # -- forms -----------------------------------------------------------------------------

    def publish_form(
        self,
        org_id: str | None,
        form_id: str,
        version: str,
        spec: dict[str, Any],
        now: datetime,
        files: Mapping[str, bytes] | None = None,
    ) -> FormVersion:
        with self._write() as tx:
            return forms.publish(tx, org_id, form_id, version, spec, now, files)

    def get_form_file(self, org_id: str, sha256: str) -> bytes:
        with self._read() as tx:
            return forms.get_file(tx, org_id, sha256)

    def put_epoch_headers(self, org_id: str, headers: Sequence[bytes]) -> None:
        if headers:
            self._write_retrying(lambda tx: epochs.put(tx, org_id, headers))

    def epoch_headers(self, org_id: str, epoch_ids: Iterable[str]) -> dict[str, bytes]:
        with self._read() as tx:
            return epochs.get(tx, org_id, epoch_ids)

    def get_form(self, org_id: str, form_id: str, version: str) -> FormVersion:
        with self._read() as tx:
            return forms.get(tx, org_id, form_id, version)

    def published_form_seq(self, org_id: str, form_id: str, version: str) -> int | None:
        with self._read() as tx:
            return forms.published_seq(tx, org_id, form_id, version)

    def list_form_versions(self, org_id: str, form_id: str | None = None) -> list[FormVersion]:
        with self._read() as tx:
            return forms.list_versions(tx, org_id, form_id)

    # -- shared items and rosters ----------------------------------------------------------

    def put_shared(
        self,
        org_id: str,
        kind: SharedKind,
        key: str,
        data: dict[str, Any],
        region: str | None,
        now: datetime,
    ) -> int:
        with self._write() as tx:
            return shared.put(tx, org_id, kind, key, data, region, now)

    def delete_shared(self, org_id: str, kind: SharedKind, key: str, now: datetime) -> int:
        with self._write() as tx:
            return shared.delete(tx, org_id, kind, key)

    def put_roster(
        self,
        device: Device,
        entries: Sequence[tuple[str, bytes | None]],
        now: datetime,
        writers: Sequence[Device | None] | None = None,
    ) -> list[RosterStatus]:
        return self._write_retrying(lambda tx: shared.put_roster(tx, device, entries, now, writers))

    def roster_writes_after(self, org_id: str, cursor: int, limit: int) -> list[RosterWrite]:
        with self._read() as tx:
            return shared.roster_writes_after(tx, org_id, cursor, limit)

    # -- records ---------------------------------------------------------------------------

    def push_records(
        self,
        device: Device,
        envelopes: list[RecordEnvelope],
        now: datetime,
        content_digests: Sequence[str] | None = None,
        hops: Sequence[Sequence[dict[str, str]]] | None = None,
        contact: DeviceContact | None = None,
        stats_texts: Sequence[str] | None = None,
    ) -> list[PushResult]:
        if hops is not None and len(hops) != len(envelopes):
            raise ValueError("one list of hops per envelope")
        if content_digests is None:
            content_digests = [env.content_digest for env in envelopes]
        elif len(content_digests) != len(envelopes):
            raise ValueError("one content digest per envelope")
        digests = content_digests
        if stats_texts is None:
            stats_texts = [json_text(env.stats) for env in envelopes]
        elif len(stats_texts) != len(envelopes):
            raise ValueError("one stats text per envelope")
        texts = stats_texts

        def store(tx: Tx) -> tuple[list[PushResult], bool]:
            if contact is not None:
                devices.note_contact(
                    tx,
                    device.id,
                    now,
                    synced=False,
                    waiting=contact.waiting,
                    app_version=contact.app_version,
                )
            return records.push(tx, device, envelopes, digests, texts, now, hops)

        results, erased = self._write_retrying(store)
        if erased:
            self._after_erasure()
        return results

    def revisions_after(self, org_id: str, cursor: int, limit: int) -> list[StoredRecord]:
        with self._read() as tx:
            return relayed.after(tx, org_id, cursor, limit)

    def pass_record_change_down(
        self,
        org_id: str,
        upstream_seq: int,
        record_id: UUID,
        deleted: bool,
        data: RecordChangeData,
        now: datetime,
        actor: str,
    ) -> bool:
        passed, erased = self._write_retrying(
            lambda tx: relayed.record_change_down(
                tx, org_id, upstream_seq, str(record_id), deleted, data, now, actor
            )
        )
        if erased:
            self._after_erasure()
        return passed

    def relayed_revisions(self, org_id: str | None, limit: int) -> list[StoredRecord]:
        with self._read() as tx:
            return relayed.newest(tx, org_id, limit)

    def get_record(self, org_id: str, record_id: UUID) -> RecordHead:
        with self._read() as tx:
            return records.head(tx, org_id, record_id)

    def resolve_conflict(
        self,
        org_id: str,
        record_id: UUID,
        keep_revision: str,
        now: datetime,
        *,
        actor: str,
        by: Device | None,
    ) -> RecordHead:
        return self._write_retrying(
            lambda tx: records.resolve(tx, org_id, str(record_id), keep_revision, now, actor, by)
        )

    def list_revisions(self, org_id: str, record_id: UUID) -> list[StoredRecord]:
        with self._read() as tx:
            return records.revisions(tx, org_id, record_id)

    def held_revisions(
        self, viewer: Device, revisions: Sequence[tuple[UUID, str]]
    ) -> set[tuple[UUID, str]]:
        with self._read() as tx:
            return records.held(tx, viewer, revisions)

    # -- the office ------------------------------------------------------------------------

    def office_records(
        self, viewer: Device, query: OfficeFilter, after: int | None, limit: int
    ) -> OfficePage:
        with self._read() as tx:
            return office.list_records(tx, viewer, query, after, limit)

    def review_record(
        self,
        viewer: Device,
        record_id: UUID,
        state: ReviewState,
        comment: str | None,
        now: datetime,
    ) -> ReviewStored:
        return self._write_retrying(
            lambda tx: office.review(tx, viewer, record_id, state, comment, now)
        )

    def office_sealed(self, viewer: Device, record_id: UUID, *, history: bool) -> SealedRecord:
        with self._read() as tx:
            return records.office_sealed(tx, viewer, record_id, history=history)

    # -- people, not rows ------------------------------------------------------------------

    def office_duplicates(self, viewer: Device, limit: int) -> list[DuplicateRow]:
        with self._read() as tx:
            return matching.duplicates(tx, viewer, limit)

    def decide_duplicate(
        self, viewer: Device, pair: str, decision: str, keep: UUID | None, now: datetime
    ) -> MatchDecisionStored:
        return self._write_retrying(
            lambda tx: matching.decide_duplicate(tx, viewer, pair, decision, keep, now)
        )

    def office_people(self, viewer: Device, form_id: str) -> PeopleCount:
        with self._read() as tx:
            return matching.people(tx, viewer, form_id)

    def decide_people(
        self, viewer: Device, pair: str, decision: str, now: datetime
    ) -> MatchDecisionStored:
        return self._write_retrying(
            lambda tx: matching.decide_people(tx, viewer, pair, decision, now)
        )

    # -- attachments -----------------------------------------------------------------------

    def missing_chunks(self, org_id: str, digests: Sequence[str]) -> list[str]:
        with self._read() as tx:
            return attachments.missing(tx, org_id, digests)

    def store_chunk(self, device: Device, digest: str, data: bytes, now: datetime) -> bool:
        return self._write_retrying(
            lambda tx: attachments.store_chunk(tx, device, digest, data, now)
        )

    def chunks_to_forward(self, org_id: str, up_to_seq: int, limit: int) -> list[tuple[str, bytes]]:
        with self._read() as tx:
            return attachments.to_forward(tx, org_id, up_to_seq, limit)

    def mark_chunks_forwarded(self, org_id: str, digests: Sequence[str], now: datetime) -> None:
        with self._write() as tx:
            attachments.mark_forwarded(tx, org_id, digests, now)

    def read_chunk(self, viewer: Device, digest: str) -> bytes:
        with self._read() as tx:
            return attachments.read_chunk(tx, viewer, digest)

    def attachment_progress(
        self, org_id: str, record_ids: Sequence[UUID]
    ) -> dict[UUID, AttachmentsStored]:
        with self._read() as tx:
            found = attachments.progress(tx, org_id, [str(r) for r in record_ids])
        return {UUID(record_id): progress for record_id, progress in found.items()}

    def records_waiting_for_attachments(self) -> dict[str, int]:
        with self._read() as tx:
            return attachments.waiting_records(tx)

    # -- referrals between organisations ---------------------------------------------------

    def put_directory_services(
        self, org_id: str, services: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        self._write_retrying(lambda tx: referrals.put_services(tx, org_id, services, now))

    def directory(self) -> list[DirectoryListing]:
        with self._read() as tx:
            return referrals.directory(tx)

    def send_referral(
        self,
        sender: Device,
        referral_id: str,
        record_id: str,
        to_org: str,
        service: str,
        sealed: bytes,
        now: datetime,
    ) -> tuple[ReferralRow, bool]:
        return self._write_retrying(
            lambda tx: referrals.create(
                tx, sender, referral_id, record_id, to_org, service, sealed, now
            )
        )

    def list_referrals(self, viewer: Device, direction: str) -> list[ReferralRow]:
        with self._read() as tx:
            return referrals.listing(tx, viewer, direction)

    def answer_referral(
        self, receiver: Device, referral_id: str, status: str, reason: str | None, now: datetime
    ) -> ReferralRow:
        return self._write_retrying(
            lambda tx: referrals.answer(tx, receiver, referral_id, status, reason, now)
        )

    # -- change log, audit and stats -------------------------------------------------------

    def changes_since(self, viewer: Device, cursor: int, limit: int) -> ChangesPage:
        with self._read() as tx:
            return changes.since(tx, viewer, cursor, limit)

    def changes_since_json(self, viewer: Device, cursor: int, limit: int) -> bytes:
        with self._read() as tx:
            return changes.since_json(tx, viewer, cursor, limit)

    def append_audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        now: datetime,
        *,
        org_id: str | None = None,
        device_id: str | None = None,
        record_id: str | None = None,
    ) -> None:
        with self._write() as tx:
            audit.append(tx, now, actor, action, outcome, org_id, device_id, record_id)

    def list_audit(
        self, org_id: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        with self._read() as tx:
            return audit.entries(tx, org_id, after_id, limit)

    def stats(self) -> list[StatsRow]:
        with self._read() as tx:
            return audit.stats(tx)

    # -- the data collaborative's hub ------------------------------------------------------

    def hub_admit(self, org_key: bytes, name: str, now: datetime) -> HubMember:
        with self._write() as tx:
            return hub.admit(tx, org_key, name, now)

    def hub_member(self, org_key: bytes) -> HubMember:
        with self._read() as tx:
            return hub.member(tx, org_key)

    def hub_members(self) -> list[HubMember]:
        with self._read() as tx:
            return hub.members(tx)

    def hub_record_consent(self, consent: HubConsent) -> HubMember:
        return self._write_retrying(lambda tx: hub.record_consent(tx, consent))

    def hub_put_contribution(
        self, org_key: bytes, period: str, sealed: bytes, now: datetime
    ) -> None:
        self._write_retrying(lambda tx: hub.put_contribution(tx, org_key, period, sealed, now))

    def hub_contributions(self, period: str) -> list[HubSealedContribution]:
        with self._read() as tx:
            return hub.contributions(tx, period)

    def hub_put_release(self, upload: HubReleaseUpload, now: datetime) -> HubRelease:
        with self._write() as tx:
            return hub.put_release(tx, upload, now)

    def hub_releases(self, period: str | None, *, sealed: bool = False) -> list[HubRelease]:
        with self._read() as tx:
            return hub.releases(tx, period, sealed=sealed)
