"""Records: drafts saved as they are typed, finalised records, edits, and the lists and counts
the screens show.

Sensitive values exist on disk only as AES-256-GCM ciphertext under the data key; statistical
fields and metadata stay in clear so that records can be listed and counted without the
passphrase. A save encrypts once and returns the record it wrote (a keystroke's autosave never
reads the row back). Finalising hands the new revision to the outbox, which seals and signs
it, and to the roster, which queues its participants: both sit below this room, so the
dependency runs one way.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from fieldapp.errors import StoreError
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import Checked, check
from fieldapp.forms.values import join_parts, split_by_sensitivity, stamp_metadata
from fieldapp.store._attachments import Attachments
from fieldapp.store._core import Core
from fieldapp.store._forms import Forms
from fieldapp.store._outbox import Outbox
from fieldapp.store._roster import Roster
from fieldapp.store._rows import NO_ENVELOPE, RecordRows, base_of
from fieldapp.store._types import Page, Record, RecordSummary, Status, ValidationFailed

__all__ = ["Records"]

log = logging.getLogger(__name__)


class Records:
    def __init__(
        self,
        core: Core,
        forms: Forms,
        rows: RecordRows,
        outbox: Outbox,
        roster: Roster,
        attachments: Attachments,
    ) -> None:
        self._core = core
        self._forms = forms
        self._rows = rows
        self._outbox = outbox
        self._roster = roster
        self._attachments = attachments

    # -- writing ------------------------------------------------------------------------------
    def new_draft(self, form_id: str, values: Mapping[str, Any] | None = None) -> Record:
        """Start a record; it is saved (encrypted) at once, so nothing typed is ever lost."""
        with self._core.lock:
            spec = self._forms.get(form_id)
            opened = stamp_metadata(
                spec, values or {}, "open", self._core.wall_clock(), device_id=self._core.device_id
            )
            checked = check(spec, opened, partial=True)
            row = self._new_row(spec, "draft")
            with self._core.transaction():
                return self._write(row, spec, checked.values, insert=True)

    def save_draft(self, record_id: str, values: Mapping[str, Any] | Checked) -> Record:
        """Autosave: store whatever is typed (even invalid) as an encrypted draft.

        `values` as typed, or the caller's `check` of them against the record's form (the UI
        judges each keystroke once, and its clean values are saved as they are: a draft is
        checked again, fully, when it is finalised). Any record can be reopened: a sent one
        becomes an edit based on what the server has; one still in flight keeps its base
        until the server's answer arrives.
        """
        with self._core.lock:
            row = self._rows.editable(record_id)
            spec = self._rows.form(row)
            checked = values if isinstance(values, Checked) else check(spec, values, partial=True)
            edit = {
                **row,
                "status": "draft",
                "updated_at": self._core.now(),
                "base_revision": base_of(row),
            }
            with self._core.transaction():
                return self._write(edit, spec, checked.values)

    def finalise(
        self,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Record:
        """Validate fully, then save as final: sealed for the organisation and in the outbox.

        Raises ValidationFailed with every error; the draft is saved first either way.
        """
        with self._core.lock:
            row = self._rows.editable(record_id)
            if values is None:
                values = self._rows.values(row)
            spec = self._rows.form(row)
            values = stamp_metadata(spec, values, "finalise", self._core.wall_clock())
            checked = check(spec, values, lang=lang, today=today)
            if not checked.ok:
                self.save_draft(record_id, values)
                raise ValidationFailed(checked.errors)
            final = {
                **row,
                "status": "final",
                "updated_at": self._core.now(),
                "problems": None,
                "base_revision": base_of(row),
            }
            with self._core.transaction():
                return self._write(final, spec, checked.values)

    def check_final(
        self,
        form_id: str,
        values: Mapping[str, Any],
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Checked:
        """What `create_final` would make of `values` (metadata stamped, every rule checked),
        saving nothing: an import checks all its rows before it saves any."""
        spec = self._forms.get(form_id)
        moment = self._core.wall_clock()
        values = stamp_metadata(
            spec,
            stamp_metadata(spec, values, "open", moment, device_id=self._core.device_id),
            "finalise",
            moment,
        )
        return check(spec, values, lang=lang, today=today)

    def create_final(
        self,
        form_id: str,
        values: Mapping[str, Any],
        *,
        lang: str = "en",
        today: date | None = None,
    ) -> Record:
        """A finalised record in one step (imports): all or nothing, never a half-saved row.
        Raises ValidationFailed with every problem."""
        with self._core.lock:
            checked = self.check_final(form_id, values, lang=lang, today=today)
            if not checked.ok:
                raise ValidationFailed(checked.errors)
            row = self._new_row(self._forms.get(form_id), "final")
            with self._core.transaction():
                return self._write(row, self._forms.get(form_id), checked.values, insert=True)

    def discard_draft(self, record_id: str) -> None:
        """Delete a draft that was never finalised (nothing about it left the device)."""
        with self._core.lock:
            row = self._rows.get(record_id)
            if row["status"] != "draft" or row["base_revision"] is not None:
                raise StoreError(f"record {record_id} is {row['status']}: only new drafts go")
            with self._core.transaction():
                self._core.db.execute("DELETE FROM records WHERE id = ?", [record_id])
                self._attachments.erase_record(record_id)

    # -- reading ------------------------------------------------------------------------------
    def get(self, record_id: str) -> Record:
        with self._core.lock:
            row = self._rows.get(record_id)
            return self._rows.record(row, self._rows.values(row))

    def page(
        self,
        *,
        form_id: str | None = None,
        status: Status | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page:
        """Newest first, a page at a time (keyset paging on an index: page 200 is as fast as 1).

        Works while locked: nothing here is decrypted.
        """
        where, params = _filters(form_id, status, since, until)
        if after:
            updated_at, _, last_id = after.partition("|")
            where.append("(updated_at, id) < (?, ?)")
            params += [updated_at, last_id]
        columns = (
            "id, form_id, form_version, status, created_at, updated_at, stats, problems,"
            " consent_withdrawn_at"
        )
        sql = f"SELECT {columns} FROM records {_where(where)} ORDER BY updated_at DESC, id DESC LIMIT ?"  # noqa: S608, E501
        with self._core.lock:
            rows = list(self._core.db.query(sql, [*params, limit + 1]))
        items = [
            RecordSummary(
                id=r["id"],
                form_id=r["form_id"],
                form_version=r["form_version"],
                status=r["status"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                stats=json.loads(r["stats"]),
                problem_count=len(json.loads(r["problems"] or "[]")),
                consent_withdrawn=r["consent_withdrawn_at"] is not None,
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        next_after = f"{items[-1].updated_at}|{items[-1].id}" if more and items else None
        return Page(items=items, next_after=next_after)

    def count(
        self,
        *,
        form_id: str | None = None,
        status: Status | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> int:
        where, params = _filters(form_id, status, since, until)
        with self._core.lock:
            found = self._core.db.execute(
                f"SELECT count(*) FROM records {_where(where)}",  # noqa: S608
                params,
            ).fetchone()
        return int(found[0])

    def sensitive_parts(self, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The decrypted sensitive answers of each record named (`{}` once erased), in one
        query: what a list needs to show or search titles. The store must be unlocked."""
        if not record_ids:
            return {}
        marks = ", ".join("?" for _ in record_ids)
        sql = f"SELECT id, revision, fields FROM records WHERE id IN ({marks})"  # noqa: S608
        with self._core.lock:
            rows = list(self._core.db.query(sql, list(record_ids)))
            return {row["id"]: self._rows.fields(row) for row in rows}

    def status_counts(self) -> dict[str, int]:
        with self._core.lock:
            rows = self._core.db.query("SELECT status, count(*) AS n FROM records GROUP BY status")
            return {row["status"]: row["n"] for row in rows}

    def ids(self) -> list[str]:
        """Every record id on this device, in order."""
        with self._core.lock:
            return [row[0] for row in self._core.db.execute("SELECT id FROM records ORDER BY id")]

    # -- internals ------------------------------------------------------------------------------
    def _new_row(self, spec: FormSpec, status: Status) -> dict[str, Any]:
        now = self._core.now()
        return {
            "id": str(uuid.uuid4()),
            "form_id": spec.id,
            "form_version": spec.version,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "device_id": self._core.device_id,
            "base_revision": None,
            "deleted": 0,
        }

    def _write(
        self,
        row: Mapping[str, Any],
        spec: FormSpec,
        values: Mapping[str, Any],
        *,
        insert: bool = False,
    ) -> Record:
        """Encrypt and store a revision of the record (the caller holds the transaction); a
        final one goes to the outbox and shares its participants. Returns the record written,
        from memory."""
        stats, secret = split_by_sensitivity(spec, values)
        new = {
            **row,
            "revision": self._rows.revision(row, values),
            "stats": json.dumps(stats, sort_keys=True),
            **NO_ENVELOPE,
        }
        new["fields"] = self._rows.encrypt_fields(new, secret)
        new.setdefault("problems", None)
        if insert:
            self._rows.insert(new)
        else:
            self._rows.update(new["id"], new)
        log.debug(
            "saved record %s form=%s status=%s revision=%s",
            new["id"], new["form_id"], new["status"], new["revision"],
        )  # fmt: skip
        if new["status"] == "final":
            recipients = self._outbox.recipients()
            if recipients:
                self._outbox.seal(new, secret, recipients)
            team = self._roster.team_key() if spec.roster_repeats() else None
            if team is not None:
                self._roster.queue(new, values, team)
        return self._rows.record(new, join_parts(spec, stats, secret))


def _filters(
    form_id: str | None, status: str | None, since: str | None, until: str | None
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("form_id = ?", form_id),
        ("status = ?", status),
        ("updated_at >= ?", since),
        ("updated_at < ?", until),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    return where, params


def _where(clauses: list[str]) -> str:
    """Join fixed clauses from `_filters`; values are always bound parameters."""
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""
