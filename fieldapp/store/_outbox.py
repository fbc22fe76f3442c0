"""The outbox: finalised records sealed for the organisation and signed, waiting to be sent,
and what the server said about each (queued, sent with its receipt, rejected, in conflict);
the purge of receipted copies, and the receipts checked again later.

Envelopes are sealed and signed once, when a record is finalised (or as soon as the
organisation's keys are known), and each is kept with its revision and content digest beside
it: sending needs no key, so the outbox drains while the app is locked, and nothing is parsed
again on the way out.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from fieldapp import crypto
from fieldapp.forms.values import join_parts, sealing_dictionary
from fieldapp.store._attachments import Attachments
from fieldapp.store._core import Core, iso
from fieldapp.store._keyring import Keyring
from fieldapp.store._matching import MATCH_KEY_SECRET, match_keys, stored_match_key
from fieldapp.store._migrations import envelope_columns, envelope_sha256
from fieldapp.store._rows import NO_ENVELOPE, RecordRows
from fieldapp.store._settings import Settings
from fieldapp.store._types import OutboxEntry, Outcome
from sync.protocol import SEALED_ATTACHMENTS, AttachmentRef, RecordEnvelope

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

# Set once the server said it takes epoch envelopes (crypto.epochs): until then records are
# sealed each to the organisation, as every server accepts.
_SEALING_EPOCHS = "sealing_epochs"


class Outbox:
    def __init__(
        self,
        core: Core,
        keyring: Keyring,
        settings: Settings,
        rows: RecordRows,
        attachments: Attachments,
    ) -> None:
        self._core = core
        self._keyring = keyring
        self._settings = settings
        self._rows = rows
        self._attachments = attachments
        self._epoch: crypto.SealingEpoch | None = None  # its secret lives in memory only

    # -- sealing -----------------------------------------------------------------------------
    def recipients(self) -> list[crypto.RecipientKey]:
        """Whom finalised records are sealed to (the organisation's keys)."""
        with self._core.lock:
            rows = self._core.db.query("SELECT recipient FROM recipients ORDER BY key_id")
            return [crypto.RecipientKey.model_validate_json(row["recipient"]) for row in rows]

    def set_recipients(self, recipients: list[crypto.RecipientKey]) -> int:
        """Whom finalised records are sealed to; seals any record that was waiting for them.
        Returns how many were sealed."""
        with self._core.transaction():
            self._core.db.execute("DELETE FROM recipients")
            for recipient in recipients:
                self._core.db.execute(
                    "INSERT INTO recipients (key_id, recipient, added_at) VALUES (?, ?, ?)",
                    [recipient.key_id, recipient.model_dump_json(), self._core.now()],
                )
            return self._seal_waiting()

    # -- sealing epochs ---------------------------------------------------------------------
    @property
    def seals_in_epochs(self) -> bool:
        """Whether records are sealed in epochs (the server said it takes them)."""
        return self._settings.get(_SEALING_EPOCHS) == "1"

    def set_seals_in_epochs(self, enabled: bool) -> None:
        """Seal the next records in epochs (or each to the organisation, for an older server)."""
        if enabled != self.seals_in_epochs:
            self._settings.set(_SEALING_EPOCHS, "1" if enabled else "0")

    def epoch_headers(self, epoch_ids: Iterable[str]) -> dict[str, bytes]:
        """The headers of these sealing epochs, by id (unknown ones left out). Works while
        locked (headers are public)."""
        wanted = sorted(set(epoch_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._core.lock:
            rows = self._core.db.execute(
                f"SELECT epoch_id, header FROM sealing_epochs WHERE epoch_id IN ({marks})",  # noqa: S608
                wanted,
            ).fetchall()
        return {epoch_id: bytes(header) for epoch_id, header in rows}

    def _sealing_epoch(self, recipients: list[crypto.RecipientKey]) -> crypto.SealingEpoch:
        """The current epoch, or a new one when it is spent or there is none yet; its header
        is written in the caller's transaction each time (a rolled-back one would lose it)."""
        if self._epoch is None or self._epoch.spent(recipients):
            dictionary = sealing_dictionary(self._rows.usable_forms())
            self._epoch = crypto.SealingEpoch(recipients, dictionary)
        self._core.db.execute(
            "INSERT OR IGNORE INTO sealing_epochs (epoch_id, header, started_at) VALUES (?, ?, ?)",
            [self._epoch.epoch_id, self._epoch.header, self._core.now()],
        )
        return self._epoch

    # -- the match key ------------------------------------------------------------------------
    @property
    def has_match_key(self) -> bool:
        """Whether enrolment brought the organisation's match key (works while locked)."""
        return self._keyring.has_secret(MATCH_KEY_SECRET)

    def set_match_key(self, key: bytes | None) -> int:
        """Keep the organisation's match key (encrypted under the data key), or forget it.
        Records finalised and not yet sent are sealed and signed again, with their match
        digests. Returns how many."""
        with self._core.transaction():
            if key == stored_match_key(self._keyring):
                return 0
            if key is None:
                self._keyring.forget_secret(MATCH_KEY_SECRET)
            else:
                self._keyring.set_secret(MATCH_KEY_SECRET, key.hex())
            return self._seal_again(
                "status = 'final' AND sealed IS NOT NULL AND deleted = 0 AND fields IS NOT NULL"
            )

    def _seal_waiting(self) -> int:
        """Seal and sign finalised records that were finalised before any recipient was known."""
        return self._seal_again("status = 'final' AND sealed IS NULL")

    def _seal_again(self, where: str) -> int:
        """Seal and sign the records matching `where` (a fixed clause), if recipients are
        known; how many (the caller holds the transaction)."""
        recipients = self.recipients()
        if not recipients:
            return 0
        ids = [
            row[0]
            for row in self._core.db.execute(
                f"SELECT id FROM records WHERE {where}"  # noqa: S608 (fixed clauses only)
            ).fetchall()
        ]
        for record_id in ids:
            row = self._rows.get(record_id)
            self.seal(row, self._rows.fields(row), recipients)
        return len(ids)

    def seal(
        self,
        row: Mapping[str, Any],
        secret: Mapping[str, Any],
        recipients: list[crypto.RecipientKey],
    ) -> None:
        """Seal the sensitive part of the record's current revision for the organisation and
        put its signed envelope in the outbox, with the match digests of the people it names
        when the device has the match key, and the manifest of the attachments its answers
        name, whose content keys go in the sealed part (the caller holds the transaction).
        The record's other attachments (photos taken again) are erased."""
        key = stored_match_key(self._keyring)
        match: list[dict[str, str]] = []
        attachments: list[AttachmentRef] = []
        if not row["deleted"]:
            spec = self._rows.form(row)
            values = join_parts(spec, json.loads(row["stats"]), secret)
            attachments = self._attachments.answered(row["id"], values)
            if key is not None:
                match = match_keys(key, spec, values)
        self._attachments.keep_only(row["id"], attachments)
        content = dict(secret)
        if attachments:
            content[SEALED_ATTACHMENTS] = {
                attachment_id: opener.model_dump(mode="json")
                for attachment_id, opener in self._attachments.sealed_keys(attachments).items()
            }
        plaintext = crypto.canonical_json(content)
        aad = crypto.record_aad(row["id"], row["revision"], "sealed")
        if self.seals_in_epochs:
            sealed = self._sealing_epoch(recipients).seal(plaintext, aad)
        else:
            sealed = crypto.seal(plaintext, recipients, aad)
        self.sign(row, sealed, match=match, attachments=attachments)

    def sign(
        self,
        row: Mapping[str, Any],
        sealed: bytes | None,
        *,
        consent_withdrawn: bool = False,
        match: list[dict[str, str]] | None = None,
        attachments: list[AttachmentRef] | None = None,
    ) -> None:
        """Sign the envelope of the record's current revision and put it in the outbox, with
        its revision and content digest beside it (the caller holds the transaction)."""
        envelope = RecordEnvelope(
            id=uuid.UUID(row["id"]),
            form_id=row["form_id"],
            form_version=row["form_version"],
            revision=row["revision"],
            base_revision=row["base_revision"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            device_id=row["device_id"],
            stats=json.loads(row["stats"]),
            sealed=sealed,
            deleted=bool(row["deleted"]),
            consent_withdrawn=consent_withdrawn,
            match=match or [],
            attachments=attachments or [],
            signature=b"",
        )
        envelope.signature = self._keyring.sign(envelope.signing_bytes())
        stored = envelope.model_dump_json()
        self._rows.update(
            row["id"],
            {
                "sealed": stored,
                "envelope_revision": envelope.revision,
                "envelope_digest": envelope.content_digest,
                "envelope_sha256": envelope_sha256(stored),
            },
        )

    # -- sending -----------------------------------------------------------------------------
    def waiting(self) -> tuple[int, int]:
        """How many records wait to be sent (finalised or in flight) and the bytes of their
        signed envelopes. Works while locked (nothing is decrypted)."""
        with self._core.lock:
            count, size = self._core.db.execute(
                "SELECT count(*), coalesce(sum(length(CAST(sealed AS BLOB))), 0) FROM records"
                " WHERE status IN ('final', 'queued')"
            ).fetchone()
        return int(count), int(size)

    def pending(self, *, after: str = "", limit: int = 500) -> list[OutboxEntry]:
        """Records waiting to be sent, by id after `after`: each signed envelope with what its
        receipt must name (None for an envelope damaged on this device: its sha256 is not the
        one kept when it was signed). Works while locked (nothing is decrypted)."""
        with self._core.lock:  # never another thread's uncommitted rows
            rows = self._core.db.execute(
                "SELECT id, envelope_revision, envelope_digest, envelope_sha256,"
                " CAST(sealed AS BLOB) FROM records INDEXED BY records_outbox"
                " WHERE status IN ('final', 'queued')"
                " AND sealed IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
                [after, limit],
            ).fetchall()
        entries = []
        for record_id, revision, digest, sha256, envelope in rows:  # the UTF-8 JSON as is
            if envelope_sha256(envelope) != sha256:
                revision = digest = None
            entries.append(OutboxEntry(record_id, revision, digest, envelope))
        return entries

    def mark_queued(self, revisions: Mapping[str, str]) -> set[str]:
        """Mark records (id -> the revision about to leave) queued: a push without an answer
        leaves them so. Returns the ids marked; a record edited since it was read from the
        outbox is left alone (its old envelope must not go: the caller drops it)."""
        ids = list(revisions)
        if not ids:
            return set()
        with self._core.transaction():  # one statement for the batch, one to read what it did
            self._core.db.conn.executemany(
                "UPDATE records SET status = 'queued' WHERE id = ? AND revision = ?"
                " AND status IN ('final', 'queued')",
                revisions.items(),
            )
            rows = self._core.db.execute(
                "SELECT id, revision FROM records WHERE status = 'queued'"  # noqa: S608
                f" AND id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {record_id for record_id, revision in rows if revisions[record_id] == revision}

    def still_current(self, revisions: Mapping[str, str]) -> set[str]:
        """The ids among `revisions` (record id -> revision) whose record is still at that
        revision: the sync client asks just before a batch leaves, so an envelope replaced
        meanwhile (an edit, a consent withdrawal) is not sent."""
        ids = list(revisions)
        with self._core.lock:
            rows = self._core.db.execute(
                f"SELECT id, revision FROM records WHERE id IN ({','.join('?' * len(ids))})",  # noqa: S608
                ids,
            ).fetchall()
        return {row[0] for row in rows if revisions[row[0]] == row[1]}

    # -- the server's answers ------------------------------------------------------------------
    def record_outcome(
        self,
        record_id: str,
        revision: str,
        status: Literal["sent", "rejected", "conflict"],
        *,
        problems: list[dict[str, Any]] | None = None,
        receipt: str | None = None,
        server_revision: str | None = None,
        received_at: datetime | None = None,
    ) -> bool:
        """Write back what the server said about one revision; True if the record took it.

        If the record was edited while that revision was in flight, the edit stands (and is
        already based on the revision in flight, see `base_of`).
        """
        with self._core.transaction():
            row = self._rows.get(record_id)
            if row["revision"] != revision:
                return False  # edited meanwhile: the edit is already based on that revision
            self._rows.update(
                record_id,
                {
                    "status": status,
                    "problems": json.dumps(problems) if problems else None,
                    "receipt": receipt or row["receipt"],
                    "received_at": row["received_at"] if received_at is None else iso(received_at),
                    "server_revision": server_revision,
                    "sent_at": self._core.now() if status == "sent" else None,
                    "base_revision": revision if status == "sent" else row["base_revision"],
                },
            )
            return True

    def record_outcomes(self, outcomes: Iterable[Outcome]) -> int:
        """`record_outcome` for a whole batch in one statement and one durable commit (all or
        none); returns how many records took theirs. A record edited while its revision was
        in flight keeps the edit; a record no longer on the device is skipped."""
        sent_at = self._core.now()
        rows = [
            (
                o.status,
                json.dumps(o.problems) if o.problems else None,
                o.receipt or None,
                None if o.received_at is None else iso(o.received_at),
                o.server_revision,
                sent_at if o.status == "sent" else None,
                o.status,
                o.record_id,
                o.revision,
            )
            for o in outcomes
        ]
        with self._core.transaction():
            cursor = self._core.db.conn.executemany(
                "UPDATE records SET status = ?, problems = ?, receipt = coalesce(?, receipt),"
                " received_at = coalesce(?, received_at), server_revision = ?, sent_at = ?,"
                " base_revision = CASE WHEN ? = 'sent' THEN revision ELSE base_revision END"
                " WHERE id = ? AND revision = ?",
                rows,
            )
            return cursor.rowcount

    def purge_sent(self, *, older_than: timedelta) -> int:
        """Erase the local copy of records the server has receipted, taken by the server more
        than `older_than` ago (zero: every receipted record): the sensitive ciphertext and the
        sealed envelope go; the clear statistics and the receipt stay, so the record still
        counts and can be proven sent.

        How long ago is the server's time: the receipt's `received_at` against
        `Settings.server_time()`, never this device's own clock (a clock set to 2076 would
        keep every record here). Only records with a receipt and not edited since are purged,
        and only once the server holds every chunk of their attachments, which go with them:
        nothing unsent is lost.
        """
        server_now = self._settings.server_time()
        cutoff = iso(server_now - older_than) if older_than > timedelta(0) else None
        erased = ", ".join(f"{column} = NULL" for column in NO_ENVELOPE)
        with self._core.transaction():
            cursor = self._core.db.execute(
                f"UPDATE records SET fields = NULL, {erased}, purged_at = ?"  # noqa: S608
                " WHERE status = 'sent' AND receipt IS NOT NULL AND purged_at IS NULL"
                " AND received_at IS NOT NULL AND (? IS NULL OR received_at <= ?)"
                " AND NOT EXISTS (SELECT 1 FROM attachments a JOIN attachment_chunks c"
                " ON c.attachment_id = a.id WHERE a.record_id = records.id"
                " AND c.sent_at IS NULL)",
                [self._core.now(), cutoff, cutoff],
            )
            purged = cursor.rowcount
            self._attachments.erase_purged()
        if purged:
            self._core.checkpoint()
        return purged

    # -- receipts the server must still honour ---------------------------------------------
    def receipts_to_check(
        self, *, since: datetime | None, after: str = "", limit: int = 500
    ) -> list[tuple[str, str]]:
        """(record id, revision) of receipted revisions that are still each record's own
        (sent, or stored as a conflict), taken by the server at `since` or later (None: any
        time), not already found lost; by id, after `after`. Works while locked."""
        with self._core.lock:
            rows = self._core.db.execute(
                "SELECT id, revision FROM records WHERE status IN ('sent', 'conflict')"
                " AND receipt IS NOT NULL AND receipt_lost_at IS NULL AND received_at >= ?"
                " AND id > ? ORDER BY id LIMIT ?",
                ["" if since is None else iso(since), after, limit],
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def requeue_missing(self, revisions: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """The server no longer holds these receipted revisions (record id -> revision). A
        record still at that revision goes back to the outbox with its signed envelope, as
        if never sent (based where the envelope says), to be pushed again; one whose envelope
        is gone (purged after the receipt) cannot be: it is marked lost, with a problem that
        says so. One commit; returns (ids requeued, ids lost)."""
        requeued: list[str] = []
        lost: list[str] = []
        with self._core.transaction():
            for record_id, revision in sorted(revisions.items()):
                row = next(
                    self._core.db.query(
                        "SELECT * FROM records WHERE id = ? AND revision = ?"
                        " AND status IN ('sent', 'conflict') AND receipt_lost_at IS NULL",
                        [record_id, revision],
                    ),
                    None,
                )
                if row is None:
                    continue  # edited or answered since: nothing to do
                if row["sealed"] is not None:
                    changes = {
                        "status": "final",
                        "base_revision": json.loads(row["sealed"]).get("base_revision"),
                        "server_revision": None,
                        "problems": None,
                        "received_at": None,
                        "conflict_settled_at": None,
                    }
                    if row["envelope_sha256"] is None:  # receipted before they were kept
                        changes.update(envelope_columns(row["sealed"]) or {})
                    requeued.append(record_id)
                else:
                    changes = {
                        "receipt_lost_at": self._core.now(),
                        "problems": json.dumps([_lost_on_server(row["received_at"])]),
                    }
                    lost.append(record_id)
                self._rows.update(record_id, changes)
        for record_id in requeued:
            log.warning("the server lost receipted record %s: queued to be sent again", record_id)
        return requeued, lost


def _lost_on_server(received_at: str | None) -> dict[str, Any]:
    return {
        "field": "",
        "path": "",
        "code": "lost_on_server",
        "message": f"the server confirmed this record ({received_at or 'at an unknown time'})"
        " but no longer holds it, and this device removed its copy after that receipt, so it"
        " cannot be sent again: tell the office (the receipt kept here proves it was sent)",
    }
