"""Conflicts: another version of a record exists on the server. This device may settle its
copy (keep its own version, or a merge of both) on top of the server's head; the office
resolves the conflict for good, and the device learns it by pull.

Kept apart from the records room because a conflict is bookkeeping over two sides: what this
device settled (`conflict_settled_at`, so the server's flag, which stays until the office
decides, does not bring the record back as a conflict) and what the office decided.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from fieldapp.errors import StoreError
from fieldapp.store._core import Core
from fieldapp.store._records import Records
from fieldapp.store._rows import RecordRows
from fieldapp.store._types import Record

__all__ = ["Conflicts"]


class Conflicts:
    def __init__(self, core: Core, rows: RecordRows, records: Records) -> None:
        self._core = core
        self._rows = rows
        self._records = records

    def settle(
        self,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        head: str | None = None,
        lang: str = "en",
    ) -> Record:
        """Settle a conflict from this device: finalise `values` (None: this device's own
        version; else a merge of both versions) on top of the server's head, `head` (the one
        the record's conflict named, if not given), so the next push is accepted as the
        newest revision. The other version stays in the server's history, and the server
        keeps the record flagged until the office resolves it: the record is marked settled
        here, so that flag does not bring it back as a conflict (see `settled`).

        Raises ValidationFailed like `Records.finalise` (the record is then a draft on that
        head).
        """
        with self._core.lock:
            row = self._rows.get(record_id)
            base = head or row["server_revision"]
            if row["status"] != "conflict" or not base:
                raise StoreError(f"record {record_id} is {row['status']}, not in conflict")
            if values is None:
                values = self._rows.values(row)
            self._rows.update(
                record_id, {"base_revision": base, "conflict_settled_at": self._core.now()}
            )
            return self._records.finalise(record_id, values, lang=lang)

    def settled(self, record_id: str, revision: str) -> bool:
        """Whether this device's copy of the record is at `revision` and its user settled the
        record's conflict (`settle`): the server's news that this revision is the head of a
        record still flagged for the office is then no new conflict for it."""
        with self._core.lock:
            row = self._core.db.execute(
                "SELECT conflict_settled_at FROM records WHERE id = ? AND revision = ?",
                [record_id, revision],
            ).fetchone()
        return row is not None and row[0] is not None

    def resolved(
        self, record_id: str, head_revision: str, superseded: Collection[str] = ()
    ) -> bool:
        """The office settled this record's conflict, keeping `head_revision` and setting
        aside `superseded`; True if this device's copy was in conflict, or was sent settled
        here at one of those revisions, and is now `sent`, based on that head.

        If the office kept another version than this device's, the copy stays (the server
        keeps it too, superseded) with a `superseded` problem saying so: an edit made from
        here builds on the office's version. A copy not in conflict (edited meanwhile, never
        flagged, or sent after the office decided) is left alone, its settling done with.
        """
        with self._core.transaction():
            row = self._rows.get(record_id)
            settled = row["conflict_settled_at"] is not None
            if row["status"] != "conflict" and not (
                settled
                and row["status"] == "sent"
                and row["revision"] in {head_revision, *superseded}
            ):
                if settled:
                    self._rows.update(record_id, {"conflict_settled_at": None})
                return False
            kept_mine = row["revision"] == head_revision
            self._rows.update(
                record_id,
                {
                    "status": "sent",
                    "problems": None if kept_mine else json.dumps([_superseded(head_revision)]),
                    "server_revision": None if kept_mine else head_revision,
                    "sent_at": self._core.now(),
                    "base_revision": head_revision,
                    "conflict_settled_at": None,
                },
            )
            return True


def _superseded(head_revision: str) -> dict[str, Any]:
    return {
        "field": "",
        "path": "",
        "code": "superseded",
        "message": "the office kept another version of this record (server version "
        f"{head_revision}); yours stays in the server's history",
    }
