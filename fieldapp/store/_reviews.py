"""Reviews: the office's verdict on this device's records (ODK Central's states: received,
has_issues, edited, approved, rejected), as the server's `review` changes bring it, one row
per record, the latest by change seq winning.

The comment is kept as sent: a short note for the collector (at most 500 characters, the
server's limit), not case content; it goes with the store's wipe and with the record's
consent erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fieldapp.store._core import Core, iso

__all__ = ["Review", "Reviews"]


@dataclass(frozen=True)
class Review:
    record_id: str
    revision: str
    state: str
    comment: str | None
    reviewed_at: datetime

    @property
    def needs_action(self) -> bool:
        """The collector is asked to fix the record and send it again."""
        return self.state == "has_issues"


class Reviews:
    def __init__(self, core: Core) -> None:
        self._core = core

    def keep(
        self,
        record_id: str,
        revision: str,
        state: str,
        comment: str | None,
        reviewed_at: datetime,
        seq: int,
    ) -> None:
        """Keep the review unless a later one (by change seq) is kept already; a change
        applied twice (a page pulled again) changes nothing."""
        with self._core.lock:
            self._core.db.execute(
                "INSERT INTO reviews (record_id, revision, state, comment, reviewed_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET"
                " revision = excluded.revision, state = excluded.state,"
                " comment = excluded.comment, reviewed_at = excluded.reviewed_at,"
                " seq = excluded.seq WHERE excluded.seq > reviews.seq",
                [record_id, revision, state, comment, iso(reviewed_at), seq],
            )

    def get(self, record_id: str) -> Review | None:
        """The latest review of the record, or None (never reviewed)."""
        with self._core.lock:
            row = self._core.db.execute(
                "SELECT record_id, revision, state, comment, reviewed_at FROM reviews"
                " WHERE record_id = ?",
                [record_id],
            ).fetchone()
        if row is None:
            return None
        return Review(row[0], row[1], row[2], row[3], datetime.fromisoformat(row[4]))

    def waiting(self) -> list[Review]:
        """Records the office sent back (has_issues), oldest review first."""
        with self._core.lock:
            rows = self._core.db.execute(
                "SELECT record_id, revision, state, comment, reviewed_at FROM reviews"
                " WHERE state = 'has_issues' ORDER BY reviewed_at, record_id"
            ).fetchall()
        return [Review(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4])) for r in rows]

    def forget(self, record_id: str) -> None:
        with self._core.lock:
            self._core.db.execute("DELETE FROM reviews WHERE record_id = ?", [record_id])
