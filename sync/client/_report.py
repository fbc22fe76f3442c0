"""What one sync did (`SyncReport`), and the progress callback a push reports to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.protocol import AttachmentsStored

__all__ = [
    "CLOCK_SKEW_WARNING",
    "AttachmentProgressCallback",
    "ProgressCallback",
    "SyncReport",
]

# Beyond this the device's clock is called wrong: it dates records (form start and end,
# created and updated), so a wrong one misleads the office; what the device decides by time
# (purging) uses the server's clock. Ten minutes is far past network delays and drift.
CLOCK_SKEW_WARNING = timedelta(minutes=10)

ProgressCallback = Callable[[int, int, int], None]
"""on_progress(records done, records total, bytes sent): called after every batch."""


AttachmentProgressCallback = Callable[[str, AttachmentsStored], None]
"""on_attachments(record id, progress): called before a record's chunks and after each."""


@dataclass
class SyncReport:
    """What one sync did: per-outcome counts, bytes on the wire, pulled changes, errors.

    `unconfirmed` counts records the server answered without a valid receipt: they stay
    queued and go again next time. `resolved` counts this device's records whose conflict the
    office settled. `team_entries` counts participants the team now has from this device.
    `erased` counts records erased here because their consent was withdrawn elsewhere.
    `requeued` counts receipted revisions the server no longer held, queued to be sent again;
    `lost` those it cannot be (their copy here was purged): each is also in `errors`.
    `skipped_changes` counts pulled changes this device has no use for, among them changes of
    a kind this version does not know (a newer server's): skipped, never fatal.
    `clock_offset` is the server's clock minus this device's, measured from the server's
    answers (None if none carried a date): see `clock_warning`.
    `errors` are sentences for people, never stack traces.
    """

    started_at: datetime
    finished_at: datetime | None = None
    accepted: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0
    unconfirmed: int = 0
    resolved: int = 0
    team_entries: int = 0
    erased: int = 0
    reviews: int = 0  # reviews of this device's records by the office, kept
    requeued: int = 0
    lost: int = 0
    pulled: int = 0
    forms_added: int = 0
    # Records whose attachments this sync sent chunks of (or found complete), and how far.
    attachments: dict[str, AttachmentsStored] = field(default_factory=dict)
    chunks_sent: int = 0  # attachment chunks PUT (a chunk cut in flight and sent again: twice)
    form_files: int = 0  # files attached to forms, fetched (each once: by SHA-256)
    skipped_changes: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    requests: int = 0
    clock_offset: timedelta | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Records the server now holds as this device sent them (accepted or duplicate)."""
        return self.accepted + self.duplicate

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def clock_skewed(self) -> bool:
        """This device's clock is more than CLOCK_SKEW_WARNING away from the server's."""
        return self.clock_offset is not None and abs(self.clock_offset) > CLOCK_SKEW_WARNING

    @property
    def clock_warning(self) -> str | None:
        """A sentence telling the person to set the device's clock, when it is skewed."""
        if self.clock_offset is None or not self.clock_skewed:
            return None
        side = "behind" if self.clock_offset > timedelta(0) else "ahead of"
        return (
            f"this device's clock is {_duration(abs(self.clock_offset))} {side} the server's:"
            " set its date and time (records are dated by it; the server's time decides"
            " what is purged)"
        )


def _duration(span: timedelta) -> str:
    """A span in the largest unit that keeps it over 2 (minutes, hours or days)."""
    for unit, seconds in (("days", 86_400), ("hours", 3_600)):
        if span.total_seconds() >= 2 * seconds:
            return f"about {span.total_seconds() / seconds:.0f} {unit}"
    return f"about {span.total_seconds() / 60:.0f} minutes"
