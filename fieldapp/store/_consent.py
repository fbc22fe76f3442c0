"""Consent withdrawn (security check 19): when the person a record is about withdraws their
consent, the record's sensitive part is erased from this device at once, and from the server
by the next sync; when the server says it was withdrawn elsewhere, it is erased here too.

Its own room because an erasure reaches every other one: the record's encrypted fields, its
outgoing envelope (whatever it sealed) and the roster entries shared from it go in one commit,
with secure_delete and a WAL checkpoint, so no old page keeps them. The clear statistics stay,
so the record still counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fieldapp.store._attachments import Attachments
from fieldapp.store._core import Core
from fieldapp.store._keyring import Keyring
from fieldapp.store._outbox import Outbox
from fieldapp.store._records import Records
from fieldapp.store._roster import Roster
from fieldapp.store._rows import NO_ENVELOPE, RecordRows, base_of
from fieldapp.store._types import Record

__all__ = ["Consent"]

log = logging.getLogger(__name__)


class Consent:
    def __init__(
        self,
        core: Core,
        keyring: Keyring,
        rows: RecordRows,
        records: Records,
        outbox: Outbox,
        roster: Roster,
        attachments: Attachments,
    ) -> None:
        self._core = core
        self._keyring = keyring
        self._rows = rows
        self._records = records
        self._outbox = outbox
        self._roster = roster
        self._attachments = attachments

    def withdraw(self, record_id: str) -> Record:
        """The person withdrew their consent: erase the record's sensitive part from this
        device now, and from the server by the next sync.

        A draft that never reached the server stays here, erased, with nothing to send.
        Anything else gets a new signed revision without a sealed part, marked
        `consent_withdrawn`, in the outbox: the server erases the sealed part of every
        revision it holds when it takes it. Works whatever the status; the record can no
        longer be edited; withdrawing again changes nothing. The store must be unlocked (the
        revision is signed).
        """
        with self._core.lock:
            self._keyring.require_key()
            row = self._rows.get(record_id)
            if row["consent_withdrawn_at"] is not None:
                return self._records.get(record_id)
            reached_server = row["status"] != "draft" or row["base_revision"] is not None
            changes: dict[str, Any] = {}
            if reached_server:
                base = base_of(row)
                changes = {
                    "status": "final",
                    "base_revision": base,
                    "server_revision": None,
                    "revision": self._rows.revision({**row, "base_revision": base}, None),
                }
            self._erase_sensitive_part(row, changes, announce=reached_server)
            log.info("consent withdrawn: record %s erased", record_id)
            return self._records.get(record_id)

    def erase_withdrawn(self, record_id: str, revision: str) -> bool:
        """The server says consent was withdrawn for this record (from another copy of it, or
        by the office) at its revision `revision`: erase the sensitive part here too, whatever
        the status, a pending edit included; the record becomes `sent` at that revision. True
        if anything was erased; a record withdrawn here already is left alone. Works while
        locked (nothing is decrypted or signed). Raises RecordNotFound."""
        with self._core.lock:
            row = self._rows.get(record_id)
            if row["consent_withdrawn_at"] is not None:
                return False
            changes = {
                "status": "sent",
                "revision": revision,
                "base_revision": revision,
                "server_revision": None,
                "sent_at": self._core.now(),
            }
            self._erase_sensitive_part(row, changes, announce=False)
            log.info("consent withdrawn elsewhere: record %s erased", record_id)
            return True

    def _erase_sensitive_part(
        self, row: Mapping[str, Any], changes: Mapping[str, Any], *, announce: bool
    ) -> None:
        """The record's encrypted fields, outgoing envelope, attachments and roster entries go
        in one commit, with `changes` to its status; `announce` signs a withdrawal into the outbox.
        The WAL is checkpointed after, so no old page keeps them."""
        now = self._core.now()
        erased = {
            **row,
            "fields": None,
            **NO_ENVELOPE,
            "problems": None,
            "updated_at": now,
            "consent_withdrawn_at": now,
            "conflict_settled_at": None,  # the server sets every other version aside
            **changes,
        }
        with self._core.transaction():
            self._rows.update(row["id"], erased)
            self._roster.withdraw(row["id"])
            self._attachments.erase_record(row["id"])
            # The office's comment on it goes too (it may speak of the person).
            self._core.db.execute("DELETE FROM reviews WHERE record_id = ?", [row["id"]])
            if announce:
                self._outbox.sign(erased, None, consent_withdrawn=True)
        self._core.checkpoint()
