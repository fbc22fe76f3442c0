"""The sync server's storage interface: one abstract `Storage`, two backends (SQLite, PostgreSQL).

The app (sync/server/routes/) and the admin CLI talk only to this interface; the contract suite
(tests/server/storage/, one file per entity) runs the same tests against both backends. What
it hands back is in models.py, what it raises in errors.py; `SqlStorage` (sql.py) implements
it over one query module per entity, on a backend's connections (sqlite.py, postgres.py).

Division of labour with the app:
- The app authenticates (hashes the bearer token, calls `device_by_token`), verifies
  signatures, checks that the form version exists (`get_form`) and validates `stats` against
  the form's statistical fields. Only envelopes that passed those checks reach
  `push_records`, which applies the push rule (`sync.server.push_rules.decide_push`:
  duplicate / revision_reused / record_id_taken / not_record_owner / consent_withdrawn /
  accepted / conflict) to each inside one transaction.
- Storage keeps no secrets: only sha256 hashes of bearer tokens and enrolment codes, public
  keys, sealed (HPKE) bytes it cannot open, and the clear statistical fields.
- `push_records` writes one audit entry per record in the same transaction; every other
  state change is audited by the caller with `append_audit` (it knows who the actor is).

Who may write a record (the one rule, `sync.server.auth.may_write`, checked here inside the
writing transaction on every path that stores anything for a record id):
- A record belongs to the device that signed its first stored revision (its owner; stored
  on its head, for good), and its region is that device's region.
- Its owner may write it, and so may the office (`admin`, `case_manager`) of its
  organisation: an office device enrolled with a region only for records of that region,
  one without a region for every region. Nobody else: not a team mate, not a coordinator,
  not a trainer, whatever revision they base their push on.
- This covers every revision, accepted or in conflict, a consent withdrawal (which erases
  every copy) and the settlement of a conflict (the office only). Another organisation's
  record id stays `record_id_taken`, as if unknown.
- A team roster entry belongs to the device that first stored it; nobody else of its region
  may replace or withdraw it (the endpoint admits no office role).
- A refused attempt writes nothing but its audit entry (`refused:not_record_owner`).

Visibility of the change log (`changes_since`), decided here once for both backends:
- A device sees changes of its own organisation plus global ones (forms published for every
  organisation); never another organisation's.
- Roles in `ORG_WIDE_ROLES` (admin, coordinator, case_manager) see every region of their
  organisation, and every `record` change of it.
- `roster` changes (participants sealed with a region's team key) reach only devices of the
  same region (region None: the devices without one), whatever their role: no other device
  holds the key that opens them.
- Other roles (collector, trainer) see `form`, `reference`, `event` and `revocation` changes
  that are organisation-wide (region None) or of their own region, and `record` changes only
  for records they took part in: the revision's author or pusher, and, for a conflict, the
  device whose revision is the head it conflicts with; a conflict's resolution and a consent
  withdrawal reach every device that wrote or pushed a revision of the record (each holds a
  copy to erase). A device with no region sees only organisation-wide items.
- `record` changes carry metadata only (revisions, form, flags), never stats or sealed bytes.
- `review` changes (the office's review of a record, or a new revision moving it on) go by
  the same audience as `record` changes: every device that wrote or pushed a revision of it.

Seq numbers come from a single counter row, updated inside the writing transaction once all
its decisions are made and held locked until commit, so changes become visible in seq order:
a reader that has seen seq N never later finds a change with a seq below N.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
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

__all__ = ["Storage"]


class Storage(abc.ABC):
    """The server's durable state. Thread-safe: the app calls it from a threadpool.

    Every method that writes takes `now` (aware UTC datetime) so tests can move time; every
    datetime returned is aware UTC.
    """

    # -- lifecycle -------------------------------------------------------------------------

    @abc.abstractmethod
    def migrate(self) -> None:
        """Apply missing schema migrations (recorded in `schema_migrations`); idempotent and
        safe to run concurrently from several server processes."""

    @abc.abstractmethod
    def applied_migrations(self) -> list[int]:
        """Versions recorded in `schema_migrations`, ascending."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection; the object is unusable afterwards."""

    @abc.abstractmethod
    def write_problem(self) -> str | None:
        """Why the database cannot store anything now, or None: cheap enough for every
        health check, and worded for anyone to read (no paths, no detail of the data)."""

    # -- server key ------------------------------------------------------------------------

    @abc.abstractmethod
    def ensure_server_key(self, key_id: str, blob: bytes, now: datetime) -> tuple[str, bytes]:
        """Store the server's (wrapped) signing key unless one exists; return the stored one.

        Kept in the database, not the data dir, so several server processes behind a load
        balancer sign receipts with the same key: the first to start wins, the rest adopt it.
        """

    # -- organisations ---------------------------------------------------------------------

    @abc.abstractmethod
    def create_organisation(
        self, name: str, now: datetime, *, org_id: str | None = None
    ) -> Organisation:
        """Create an organisation with a fresh id. Raises AlreadyExists if the name is taken."""

    @abc.abstractmethod
    def get_organisation(self, org_id: str) -> Organisation:
        """Raises NotFound."""

    @abc.abstractmethod
    def organisation_by_name(self, name: str) -> Organisation:
        """Raises NotFound."""

    @abc.abstractmethod
    def list_organisations(self) -> list[Organisation]:
        """All organisations, by name."""

    @abc.abstractmethod
    def set_recipients(self, org_id: str, recipients: list[dict[str, Any]]) -> Organisation:
        """Replace the organisation's recipient keys (RecipientKey dumps). Raises NotFound."""

    # -- enrolment and devices -------------------------------------------------------------

    @abc.abstractmethod
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
        """Store a one-time code by its sha256 hash (and the team and match keys wrapped by the
        code, which the server cannot open; the relay it is for, and at the centre its proof
        key). Raises NotFound (org), AlreadyExists."""

    @abc.abstractmethod
    def relay_codes(self, relay_id: str, now: datetime) -> list[EnrolCode]:
        """The codes issued for this relay, neither used nor expired: what it checks while
        its upstream is away."""

    @abc.abstractmethod
    def get_enrol_code(self, code_hash: str) -> EnrolCode:
        """The code with this hash, redeemed or not. Raises NotFound."""

    @abc.abstractmethod
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
        """Atomically use the code and create the device with the code's org, role, region;
        with `pending_proof` (at a relay whose upstream is away), also note the enrolment to
        pass up (see `pending_enrolments`); `enrolled_via`: the relay that passed it up.

        Idempotent while the code is valid: the same device_id with the same public key may
        redeem it again (the first answer may have been lost in transit); the device's token
        hash is then replaced by `token_hash`, since the earlier token never arrived.
        Raises CodeInvalid (unknown hash), CodeExpired (now >= expires_at), CodeUsed (redeemed
        by another device or key, or the device was revoked since), AlreadyExists (device_id
        already enrolled through another code).
        """

    @abc.abstractmethod
    def pending_enrolments(self, limit: int) -> list[PendingEnrolment]:
        """At a relay: the enrolments it made offline and has still to pass up, oldest first."""

    @abc.abstractmethod
    def settle_pending_enrolment(self, device_id: str) -> None:
        """The upstream took or refused this device's enrolment: no longer pending."""

    @abc.abstractmethod
    def device_by_token(self, token_hash: str) -> Device | None:
        """The non-revoked device holding this token hash, else None."""

    @abc.abstractmethod
    def get_device(self, device_id: str) -> Device:
        """Any device, revoked or not. Raises NotFound."""

    @abc.abstractmethod
    def list_devices(self, org_id: str) -> list[Device]:
        """The organisation's devices, revoked ones included, by enrolment time."""

    @abc.abstractmethod
    def note_device_contact(
        self,
        device_id: str,
        now: datetime,
        *,
        synced: bool,
        waiting: int | None = None,
        app_version: str | None = None,
    ) -> None:
        """The device was heard from at `now` (`synced`: it pulled, the last step of a sync);
        `waiting` and `app_version`, as its request said them, replace the last ones said
        (None: not said, the last ones are kept)."""

    @abc.abstractmethod
    def revoke_device(self, device_id: str, now: datetime) -> Device:
        """Revoke the device (its token stops working) and append an organisation-wide
        `revocation` change (key: device id). Idempotent. Raises NotFound."""

    # -- forms -----------------------------------------------------------------------------

    @abc.abstractmethod
    def publish_form(
        self,
        org_id: str | None,
        form_id: str,
        version: str,
        spec: dict[str, Any],
        now: datetime,
        files: Mapping[str, bytes] | None = None,
    ) -> FormVersion:
        """Publish a form version for one organisation (or every one, org_id None) and append
        a `form` change (key "<form_id>@<version>", data {form_id, version, spec}).

        `files`: the content of the files the spec's `attachments` name, by SHA-256; one
        already stored in the scope need not be given (content-addressed, stored once). A
        file missing, over the size limit or not matching its digest raises FormFileInvalid
        and nothing is published.

        Publishing the identical spec again returns the stored version and appends nothing;
        a different spec under the same (scope, form_id, version) raises AlreadyExists. An
        organisation's own form shadows a global one with the same id and version.
        """

    @abc.abstractmethod
    def get_form_file(self, org_id: str, sha256: str) -> bytes:
        """A file attached to a form version the organisation sees, by SHA-256. NotFound."""

    @abc.abstractmethod
    def put_epoch_headers(self, org_id: str, headers: Sequence[bytes]) -> None:
        """Keep sealing epoch headers under their sha256 (fieldapp.crypto.epochs): each is
        public (its secret is sealed to the organisation) and written once."""

    @abc.abstractmethod
    def epoch_headers(self, org_id: str, epoch_ids: Iterable[str]) -> dict[str, bytes]:
        """The organisation's epoch headers among `epoch_ids`, by id (unknown ones left out)."""

    @abc.abstractmethod
    def get_form(self, org_id: str, form_id: str, version: str) -> FormVersion:
        """The version visible to the organisation (its own first, else global). NotFound."""

    @abc.abstractmethod
    def published_form_seq(self, org_id: str, form_id: str, version: str) -> int | None:
        """The `seq` of the version `get_form` would return (None if none): seqs are unique
        and published versions immutable, so it names that spec for good (cache key)."""

    @abc.abstractmethod
    def list_form_versions(self, org_id: str, form_id: str | None = None) -> list[FormVersion]:
        """Versions visible to the organisation, by form id then publication order."""

    # -- reference data and training events shared with a team ----------------------------

    @abc.abstractmethod
    def put_shared(
        self,
        org_id: str,
        kind: SharedKind,
        key: str,
        data: dict[str, Any],
        region: str | None,
        now: datetime,
    ) -> int:
        """Create or replace a reference list or training event (with its roster); appends a
        change of that kind and returns its seq. Moving an item to another region also
        appends a tombstone for the old region so devices there drop it. NotFound (org)."""

    @abc.abstractmethod
    def delete_shared(self, org_id: str, kind: SharedKind, key: str, now: datetime) -> int:
        """Delete the item, appending a tombstone change; returns its seq. Raises NotFound."""

    @abc.abstractmethod
    def put_roster(
        self,
        device: Device,
        entries: Sequence[tuple[str, bytes | None]],
        now: datetime,
        writers: Sequence[Device | None] | None = None,
    ) -> list[RosterStatus]:
        """Store a device's team roster entries (key, sealed bytes; None withdraws) as shared
        items of kind `roster` in the device's organisation and region, in ONE transaction
        (a relay passes `writers`: per entry the device whose entry it is, which the rules
        below apply to; None: refused);
        one status per entry, in order (a key named twice: the later entry sees the earlier):
        - stored: new or changed; a `roster` change (data {"sealed": base64}) is appended;
        - unchanged: the same bytes are stored already, or a withdrawn key is absent: nothing
          written (a repeated push is harmless);
        - withdrawn: deleted, with a tombstone change;
        - refused: the key belongs to an entry of another region, or to another device's
          entry (`auth.may_write`: an entry is its first writer's; one stored before
          migration 5, whose writer is unknown, becomes the next writer's): nothing written.
        A withdrawn key is free again.
        """

    @abc.abstractmethod
    def roster_writes_after(self, org_id: str, cursor: int, limit: int) -> list[RosterWrite]:
        """The roster changes with seq > cursor that a device wrote, ascending, at most
        `limit`: what a relay forwards (those it pulled are written by itself)."""

    # -- records ---------------------------------------------------------------------------

    @abc.abstractmethod
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
        """Store a batch in ONE transaction; one result per envelope, in order.

        `contact`: the pushing device was heard from (as `note_device_contact`, not synced),
        noted in the same transaction.

        `content_digests` are the envelopes' `content_digest`s when the caller has computed
        them already (from the signing bytes it verified), in the same order; `stats_texts`
        likewise their stats as canonical JSON text (`canonical_json(env.stats)`). `hops` (from a
        relay): for each envelope, the relays it came through (`RelayHop` JSON), stored with
        the revision it becomes (a duplicate keeps the hops it was first stored with).

        Per envelope (earlier envelopes of the batch count as stored):
        - (id, revision) stored with the same content digest: `duplicate`, nothing written,
          the stored receipt data again (forever: no time limit).
        - (id, revision) stored with another digest: `rejected`, code `revision_reused`.
        - the record id belongs to another organisation: `rejected`, code `record_id_taken`.
        - a stored record `device` may not write (`auth.may_write`: neither its owner nor
          the office of its region): `rejected`, code `not_record_owner`, whatever the
          envelope is (an edit, a stale one, a withdrawal); nothing written but the audit
          entry `refused:not_record_owner`.
        - the record's consent was withdrawn and this is not a withdrawal: `rejected`, code
          `consent_withdrawn` (nothing sealed is ever stored for it again).
        - a withdrawal (`consent_withdrawn`): `accepted` whatever its base, it becomes the
          head; in the same transaction the sealed part of EVERY stored revision of the record
          is set to NULL, conflicting siblings become `superseded`, the conflict flag is
          cleared, the record is marked withdrawn, an audit entry (`withdraw_consent`) is
          appended, and the `record` change (data.consent_withdrawn True) reaches every
          device that wrote or pushed a revision of it. Its stats stay: the record counts.
        - no revision of the record yet, or base_revision is the head: `accepted`, it
          becomes the head (a tombstone if `deleted`); a `record` change is appended.
        - otherwise (stale or unknown base): `conflict`, stored as a sibling, the head is
          kept, the record is flagged for review, and a `record` change (data.conflict True,
          data.siblings) reaches both the pusher and the head's author.
        The caller has checked signature, form version and stats. A new record belongs to the
        envelope's signer, in the pushing device's region. Retries internally on transient
        conflicts between concurrent batches.
        """

    @abc.abstractmethod
    def revisions_after(self, org_id: str, cursor: int, limit: int) -> list[StoredRecord]:
        """The organisation's stored revisions with seq > cursor, by seq, at most `limit`
        (what a relay forwards upstream); ValueError if `limit` is below 1."""

    @abc.abstractmethod
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
        """At a relay, in ONE transaction: the upstream's `record` change with seq
        `upstream_seq` (a conflict flag, a resolution, a consent withdrawal) of a record held
        here, appended unchanged to this change log for every device that wrote or pushed a
        revision of it here; a consent withdrawal also erases the sealed part of every stored
        revision here, audited as `withdraw_consent erased:upstream` by `actor`. False
        (nothing written) for a record not held here, or a change passed down before."""

    @abc.abstractmethod
    def relayed_revisions(self, org_id: str | None, limit: int) -> list[StoredRecord]:
        """The revisions that came through relays (of `org_id`, or of every organisation),
        newest first, at most `limit`, each with its `hops`."""

    @abc.abstractmethod
    def get_record(self, org_id: str, record_id: UUID) -> RecordHead:
        """Raises NotFound (also for another organisation's record)."""

    @abc.abstractmethod
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
        """Settle a record's conflict (the office's decision) in ONE transaction.

        `by` is the office device asking, None for the server's own admin CLI (which acts as
        an organisation-wide admin): a device that is not of an office role, or whose
        region is not the record's (`auth.may_write`), gets NotRecordOwner, nothing written
        (the caller audits the refusal).

        `keep_revision` (the head or one of its conflicting siblings) becomes the head; the
        other candidates become `superseded` (kept, never deleted); the conflict flag is
        cleared; an audit entry names `actor`; and a `record` change (data.conflict False,
        data.resolved True, data.head_revision, data.superseded) reaches every device that
        wrote or pushed a revision of the record. Resolving again with the head of a record
        not in conflict changes nothing (audited as `unchanged`). Raises NotFound (no such
        record in the organisation, or no such revision of it), NotRecordOwner, NotResolvable
        (a superseded revision or an older ancestor).
        """

    @abc.abstractmethod
    def list_revisions(self, org_id: str, record_id: UUID) -> list[StoredRecord]:
        """Every stored revision of the record, by seq. Raises NotFound."""

    @abc.abstractmethod
    def held_revisions(
        self, viewer: Device, revisions: Sequence[tuple[UUID, str]]
    ) -> set[tuple[UUID, str]]:
        """Which of these (record id, revision) are stored, among those `viewer` may read as
        `GET /v1/records/{id}` lets it (`auth.can_read_record`): records it wrote or pushed
        a revision of, and for the office roles their organisation's records (their region's
        only, for a device enrolled with one). Any other pair is left out,
        exactly like a revision never stored (the answer must not tell them apart)."""

    # -- the office ------------------------------------------------------------------------

    @abc.abstractmethod
    def office_records(
        self, viewer: Device, query: OfficeFilter, after: int | None, limit: int
    ) -> OfficePage:
        """The heads of the viewer's organisation's records (of its region only, when the
        viewer is enrolled with one) matching `query`, newest received first (by the seq of
        their head revision), those below `after` (a `next_after` this method gave), at
        most `limit`; each with its head revision's statistics, never sealed bytes. A record
        that gets a new revision moves to the top. The caller checks the viewer's role."""

    @abc.abstractmethod
    def review_record(
        self,
        viewer: Device,
        record_id: UUID,
        state: ReviewState,
        comment: str | None,
        now: datetime,
    ) -> ReviewStored:
        """Review the record's head in ONE transaction: its state set, the review kept (with
        its comment, in clear: a note for the collector), and a `review` change appended for
        every device that wrote or pushed a revision. A new accepted revision later moves
        `has_issues` back to `received` and `approved`/`rejected` to `edited`, with a
        `review` change too (`push_records`). Raises NotFound for a record of another
        organisation, or of another region than a regional viewer's. The caller checks the
        role and audits."""

    @abc.abstractmethod
    def office_sealed(self, viewer: Device, record_id: UUID, *, history: bool) -> SealedRecord:
        """The record's head revision as stored, sealed part included (every stored revision
        by seq, with `history`), for an office device holding the organisation's key. Raises
        NotFound for a record of another organisation, or of another region than a regional
        viewer's, as for one that does not exist. The caller checks the role (only case
        managers and admins) and audits the opening."""

    # -- people, not rows (sync.server.storage.matching) ------------------------------------

    @abc.abstractmethod
    def office_duplicates(self, viewer: Device, limit: int) -> list[DuplicateRow]:
        """Open candidate duplicate pairs: two heads of one form (not deleted, both of the
        viewer's region when it has one) whose devices sent a common victim match digest
        (`RecordEnvelope.match`, subject ""), with no decision yet; most shared keys first,
        at most `limit`. The caller checks the role and audits."""

    @abc.abstractmethod
    def decide_duplicate(
        self, viewer: Device, pair: str, decision: str, keep: UUID | None, now: datetime
    ) -> MatchDecisionStored:
        """`merged` (the record `keep`, else the one received first, stays; the other's head
        is marked its `duplicate_of`, nothing deleted) or `dismissed` (undoes a merge of the
        pair) in ONE transaction, the decision kept. NotFound for a pair that is not a
        candidate the viewer may see; ValueError for a `keep` outside the pair."""

    @abc.abstractmethod
    def office_people(self, viewer: Device, form_id: str) -> PeopleCount:
        """The participant instances of the form's heads in the viewer's scope (not deleted,
        not merged away) and the people they are: one person for the same name digest with
        the same organisation or phone digest, or a confirmed pair; same-name pairs with no
        decision listed to confirm."""

    @abc.abstractmethod
    def decide_people(
        self, viewer: Device, pair: str, decision: str, now: datetime
    ) -> MatchDecisionStored:
        """`confirmed` or `rejected` for a same-name pair of attendances; NotFound for a pair
        that shares no name digest in the viewer's scope."""

    # -- attachments (sync.server.storage.attachments) --------------------------------------

    @abc.abstractmethod
    def missing_chunks(self, org_id: str, digests: Sequence[str]) -> list[str]:
        """Of `digests`, in their order and without repeats, those the organisation lacks."""

    @abc.abstractmethod
    def store_chunk(self, device: Device, digest: str, data: bytes, now: datetime) -> bool:
        """Store a ciphertext chunk whose sha256 the caller checked is `digest`; True if it was
        new (a chunk sent twice is stored once). NotFound unless a record of the device's
        organisation, its consent not withdrawn, names it in a manifest."""

    @abc.abstractmethod
    def chunks_to_forward(self, org_id: str, up_to_seq: int, limit: int) -> list[tuple[str, bytes]]:
        """At a relay: the chunks (digest, ciphertext) it has not passed upstream yet that a
        revision of seq up to `up_to_seq` names (the upstream holds it), at most `limit`."""

    @abc.abstractmethod
    def mark_chunks_forwarded(self, org_id: str, digests: Sequence[str], now: datetime) -> None:
        """At a relay: these chunks went upstream (or were refused there): not sent again."""

    @abc.abstractmethod
    def read_chunk(self, viewer: Device, digest: str) -> bytes:
        """A chunk for the office roles of its record's region (or of none) and the devices
        that wrote or pushed a revision naming it; NotFound for anyone else, or not stored."""

    @abc.abstractmethod
    def attachment_progress(
        self, org_id: str, record_ids: Sequence[UUID]
    ) -> dict[UUID, AttachmentsStored]:
        """Chunks stored and needed by each record's head revision (only records whose head
        has attachments); complete when every one is stored."""

    @abc.abstractmethod
    def records_waiting_for_attachments(self) -> dict[str, int]:
        """Per organisation id, the records whose head still waits for chunks."""

    # -- referrals between organisations (sync.server.storage.referrals) ------------------

    @abc.abstractmethod
    def put_directory_services(
        self, org_id: str, services: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        """Replace the organisation's services `(code, label)` in the referral directory."""

    @abc.abstractmethod
    def directory(self) -> list[DirectoryListing]:
        """Every organisation with a service in the directory, with its public keys."""

    @abc.abstractmethod
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
        """Store a referral in ONE transaction (True), or find the same one sent before
        (False). ReferralRefused (nothing written) without the survivor's consent to refer,
        for a record the sender may not write, a receiver or service not in the directory,
        a sealed part not sealed to the receiver's keys, or an id taken by another."""

    @abc.abstractmethod
    def list_referrals(self, viewer: Device, direction: str) -> list[ReferralRow]:
        """`outgoing` (the organisation's for its office, a device's own otherwise) or
        `incoming` (to the viewer's organisation, for its office only), newest first."""

    @abc.abstractmethod
    def answer_referral(
        self, receiver: Device, referral_id: str, status: str, reason: str | None, now: datetime
    ) -> ReferralRow:
        """The receiving organisation's answer (accepted, declined with a reason, delivered
        after accepted). NotFound unless the referral is to the receiver's organisation;
        ReferralRefused for an answer its state does not allow (withdrawn, or out of order)."""

    # -- change log ------------------------------------------------------------------------

    @abc.abstractmethod
    def changes_since(self, viewer: Device, cursor: int, limit: int) -> ChangesPage:
        """Changes visible to `viewer` (see module docstring) with seq > cursor, ascending,
        at most `limit`. next_cursor is the last returned seq (or `cursor` when none)."""

    @abc.abstractmethod
    def changes_since_json(self, viewer: Device, cursor: int, limit: int) -> bytes:
        """`changes_since` as its page's JSON, built from the stored change text without a
        model per change (what `GET /v1/changes` answers)."""

    # -- audit and stats -------------------------------------------------------------------

    @abc.abstractmethod
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
        """Append to the audit log (append-only: the database refuses UPDATE and DELETE)."""

    @abc.abstractmethod
    def list_audit(
        self, org_id: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        """Audit entries with id > after_id (of one organisation, or all), ascending."""

    @abc.abstractmethod
    def stats(self) -> list[StatsRow]:
        """Record counts by organisation, form and status (for `fieldapp admin stats`)."""

    # -- the data collaborative's hub (see storage/hub.py) ----------------------------------

    @abc.abstractmethod
    def hub_admit(self, org_key: bytes, name: str, now: datetime) -> HubMember:
        """Admit a member by its key, not sharing yet; AlreadyExists."""

    @abc.abstractmethod
    def hub_member(self, org_key: bytes) -> HubMember:
        """NotFound for a key not admitted."""

    @abc.abstractmethod
    def hub_members(self) -> list[HubMember]: ...

    @abc.abstractmethod
    def hub_record_consent(self, consent: HubConsent) -> HubMember:
        """Keep a verified consent statement; a withdrawal drops the member's contributions
        and marks the releases that counted it. AlreadyExists for an older statement."""

    @abc.abstractmethod
    def hub_put_contribution(
        self, org_key: bytes, period: str, sealed: bytes, now: datetime
    ) -> None:
        """Store or replace a sharing member's sealed counts; NotSharing otherwise."""

    @abc.abstractmethod
    def hub_contributions(self, period: str) -> list[HubSealedContribution]: ...

    @abc.abstractmethod
    def hub_put_release(self, upload: HubReleaseUpload, now: datetime) -> HubRelease:
        """Store the next version of a period's release; AlreadyExists otherwise."""

    @abc.abstractmethod
    def hub_releases(self, period: str | None, *, sealed: bool = False) -> list[HubRelease]:
        """Releases by period and version; their sealed true counts only with `sealed`."""
