"""Forms and records as the screens use them: drafts as they are typed, finalising, settling a
conflict for this device's version, consent withdrawal, the lists and counts by status group,
the training events, and the office's reviews of this device's records."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from fieldapp.errors import StoreError, StoreLocked
from fieldapp.forms import record_title
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import Checked
from fieldapp.store import Page, Record, RecordSummary, Review, Status
from fieldapp.ui.services.device import Device

__all__ = [
    "STATUS_GROUPS",
    "TRAINING_FORM",
    "VICTIM_FORM",
    "ListedRecord",
    "RecordQuery",
    "Records",
    "RecordsPage",
    "StatusGroup",
    "fold",
]

TRAINING_FORM = "training_attendance"
VICTIM_FORM = "victim_screening"

_DRAFT_STEPS = "draft_steps"  # setting: {record id: the step its draft was left on}
_REMEMBERED = 200  # drafts whose step is remembered (the oldest is forgotten first)

StatusGroup = Literal["draft", "waiting", "sent", "rejected", "conflict"]
# What the app calls a status group (a tab, a home counter) -> the store statuses in it.
STATUS_GROUPS: dict[StatusGroup, tuple[Status, ...]] = {
    "draft": ("draft",),
    "waiting": ("final", "queued"),
    "sent": ("sent",),
    "rejected": ("rejected",),
    "conflict": ("conflict",),
}


def fold(text: str) -> str:
    """Text as a search compares it: case and accents (diacritics) do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class RecordQuery:
    """What the records list asks for: a status group, and optionally words of the title or
    case code, a form, and the days (the device's own, both included) the record was last
    changed on."""

    group: StatusGroup = "draft"
    text: str = ""
    form_id: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def window(self) -> tuple[str | None, str | None]:
        """The store's bounds on `updated_at` (UTC ISO, the second one excluded)."""

        def start(day: date) -> str:
            local = datetime.combine(day, time()).astimezone()
            return local.astimezone(UTC).isoformat(timespec="microseconds")

        return (
            None if self.since is None else start(self.since),
            None if self.until is None else start(self.until + timedelta(days=1)),
        )


@dataclass(frozen=True)
class ListedRecord:
    """A line of the records list: what the store lists in clear, and the record's title
    (case code, instance name or event title), decrypted; None when it has none, its
    details were erased or the device is locked."""

    summary: RecordSummary
    title: str | None


@dataclass(frozen=True)
class RecordsPage:
    items: list[ListedRecord]
    next_after: str | None  # pass back as `after` for the next page; None on the last


class Records:
    """The device's forms and records (through `Device.store`)."""

    def __init__(self, device: Device) -> None:
        self._device = device

    def forms(self) -> list[FormSpec]:
        return self._device.store.forms.usable()

    def form(self, form_id: str, version: str | None = None) -> FormSpec:
        return self._device.store.forms.get(form_id, version)

    # -- one record -------------------------------------------------------------------------
    def new_draft(self, form_id: str, values: Mapping[str, Any] | None = None) -> Record:
        return self._device.store.records.new_draft(form_id, values)

    def save_draft(self, record_id: str, values: Mapping[str, Any] | Checked) -> Record:
        """Autosave: `values` as typed, or as the UI's own check of them already cleaned
        them (not checked twice). Raises StorageFull when the device is full: the draft
        stays as last saved."""
        return self._device.store.records.save_draft(record_id, values)

    def finalise(self, record_id: str, values: Mapping[str, Any], lang: str) -> Record:
        """Raises fieldapp.store.ValidationFailed with every error (the draft is saved), or
        StorageFull when the device is full (the record stays as it was)."""
        record = self._device.store.records.finalise(record_id, values, lang=lang)
        self.forget_step(record_id)
        return record

    def get(self, record_id: str) -> Record:
        return self._device.store.records.get(record_id)

    def discard_draft(self, record_id: str) -> None:
        self._device.store.records.discard_draft(record_id)
        self.forget_step(record_id)

    # -- where a draft was left ---------------------------------------------------------------
    def remember_step(self, record_id: str, step: str) -> None:
        """The step a draft shows now (its name: "" for the review), to reopen it there. In
        clear among the settings: a step's name says nothing about the person."""
        steps = self._steps()
        steps.pop(record_id, None)
        steps[record_id] = step
        while len(steps) > _REMEMBERED:
            steps.pop(next(iter(steps)))
        self._device.store.settings.set(_DRAFT_STEPS, json.dumps(steps))

    def remembered_step(self, record_id: str) -> str | None:
        return self._steps().get(record_id)

    def forget_step(self, record_id: str) -> None:
        steps = self._steps()
        if steps.pop(record_id, None) is not None:
            self._device.store.settings.set(_DRAFT_STEPS, json.dumps(steps))

    def _steps(self) -> dict[str, str]:
        try:
            steps = json.loads(self._device.store.settings.get(_DRAFT_STEPS) or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in steps.items()} if isinstance(steps, dict) else {}

    def settle_conflict(
        self,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        head: str | None = None,
        lang: str,
    ) -> Record:
        """A conflict settled here: this device's version (`values` None) or a merge of both
        goes out again on top of the server's newest one, `head` (the one the conflict named
        if not given). Raises fieldapp.store.ValidationFailed, leaving a draft, if it no
        longer passes; StoreError if the record is no longer in conflict. The server keeps
        the record flagged until the office has checked the other version."""
        return self._device.store.conflicts.settle(record_id, values, head=head, lang=lang)

    def review(self, record_id: str) -> Review | None:
        """The office's latest review of the record (state, comment, when), None if it has
        not reviewed it: `needs_action` when it was sent back to be fixed and sent again."""
        return self._device.store.reviews.get(record_id)

    def sent_back(self) -> list[Review]:
        """The records the office sent back (has issues), oldest review first."""
        return self._device.store.reviews.waiting()

    def sent_back_notes(self) -> dict[str, str]:
        """The records the office sent back and this device has not sent again yet, with the
        office's comment: reviewed "has issues" at the revision the device holds (sent, or
        being fixed in a draft based on it). Once the fix is finalised it is no longer listed."""
        notes: dict[str, str] = {}
        for review in self.sent_back():
            try:
                record = self._device.store.records.get(review.record_id)
            except StoreError:
                continue  # erased (consent withdrawn) or purged
            held = record.revision if record.status == "sent" else record.base_revision
            if record.status in ("sent", "draft") and held == review.revision:
                notes[record.id] = review.comment or ""
        return notes

    def withdraw_consent(self, record_id: str) -> Record:
        """The person withdrew their consent: the record's personal details are erased from
        this device now and from the server at the next sync; its statistics still count. A
        screening's withdrawal reaches its cases and their services."""
        return self._device.store.cases.withdraw_consent(record_id)

    # -- lists and counts -------------------------------------------------------------------
    def counts(self) -> dict[StatusGroup, int]:
        """Records per status group (works while locked: nothing is decrypted)."""
        store = self._device.store if self._device.is_set_up else None
        by_status = store.records.status_counts() if store is not None else {}
        return {
            group: sum(by_status.get(s, 0) for s in statuses)
            for group, statuses in STATUS_GROUPS.items()
        }

    def list_records(
        self,
        group: StatusGroup,
        *,
        after: str | None = None,
        limit: int = 20,
        form_id: str | None = None,
    ) -> Page:
        """A page of a status group, newest first; `after` is the previous page's cursor.

        A group of several statuses pages through them one after the other; the cursor says
        which one it is in (`<index>:<store cursor>`).
        """
        records = self._device.store.records
        statuses = STATUS_GROUPS[group]
        index, _, inner = (after or "0:").partition(":")
        position = int(index)
        items: list[RecordSummary] = []
        cursor: str | None = inner or None
        while position < len(statuses) and len(items) < limit:
            page = records.page(
                status=statuses[position], form_id=form_id, after=cursor, limit=limit - len(items)
            )
            items.extend(page.items)
            if page.next_after is not None:
                return Page(items=items, next_after=f"{position}:{page.next_after}")
            position, cursor = position + 1, None
        more = position < len(statuses) and any(
            records.count(status=s, form_id=form_id) for s in statuses[position:]
        )
        return Page(items=items, next_after=f"{position}:" if more else None)

    def search(
        self, query: RecordQuery, *, after: str | None = None, limit: int = 20
    ) -> RecordsPage:
        """A page of the records `query` asks for, newest first, each with its title;
        `after` is the previous page's cursor (`<status index>:<last record seen>`).

        The form, status and days are the store's filters (nothing decrypted); words are
        looked for in the candidates' titles, decrypted a page at a time, in memory only.
        """
        items: list[ListedRecord] = []
        for position, listed in self._candidates(query, after):
            if _matches(query.text, listed.title):
                items.append(listed)
            if len(items) == limit:
                cursor = f"{position}:{listed.summary.updated_at}|{listed.summary.id}"
                more = any(
                    _matches(query.text, c.title) for _, c in self._candidates(query, cursor)
                )
                return RecordsPage(items=items, next_after=cursor if more else None)
        return RecordsPage(items=items, next_after=None)

    def count_matching(self, query: RecordQuery) -> int:
        """How many records `query` finds (its words decrypt every candidate's title)."""
        if not query.text.strip():
            since, until = query.window
            records = self._device.store.records
            return sum(
                records.count(status=s, form_id=query.form_id, since=since, until=until)
                for s in STATUS_GROUPS[query.group]
            )
        return sum(1 for _, c in self._candidates(query, None) if _matches(query.text, c.title))

    def _candidates(
        self, query: RecordQuery, after: str | None
    ) -> Iterator[tuple[int, ListedRecord]]:
        """Every record of the query's group, form and days after the cursor, newest first
        within each status of the group, titled, with the index of its status."""
        records = self._device.store.records
        statuses = STATUS_GROUPS[query.group]
        since, until = query.window
        index, _, inner = (after or "0:").partition(":")
        position, cursor = int(index), inner or None
        while position < len(statuses):
            page = records.page(
                status=statuses[position],
                form_id=query.form_id,
                since=since,
                until=until,
                after=cursor,
                limit=50,
            )
            for listed in self._titled(page.items):
                yield position, listed
            if page.next_after is None:
                position, cursor = position + 1, None
            else:
                cursor = page.next_after

    def _titled(self, summaries: list[RecordSummary]) -> list[ListedRecord]:
        """The summaries with their titles (None for a record whose details were erased,
        or all of them while the device is locked)."""
        readable = [s.id for s in summaries if not s.consent_withdrawn]
        try:
            secret = self._device.store.records.sensitive_parts(readable)
        except StoreLocked:
            secret = {}
        return [
            ListedRecord(
                summary=s,
                title=record_title(
                    self.form(s.form_id, s.form_version), {**s.stats, **secret[s.id]}
                )
                if s.id in secret
                else None,
            )
            for s in summaries
        ]

    def count(self, group: StatusGroup, form_id: str | None = None) -> int:
        records = self._device.store.records
        return sum(records.count(status=s, form_id=form_id) for s in STATUS_GROUPS[group])

    # -- training events --------------------------------------------------------------------
    def events(self) -> list[Record]:
        """Every training event on this device (decrypted: the store must be unlocked)."""
        records = self._device.store.records
        ids: list[str] = []
        after: str | None = None
        while True:
            page = records.page(form_id=TRAINING_FORM, after=after, limit=200)
            ids.extend(item.id for item in page.items)
            if page.next_after is None:
                break
            after = page.next_after
        return [records.get(record_id) for record_id in ids]

    def shared_events(self) -> dict[str, dict[str, Any]]:
        """Training events the organisation shares with the team (pulled at each sync)."""
        return self._device.store.roster.shared("event")


def _matches(text: str, title: str | None) -> bool:
    """Every word of `text` is in `title` (case and accents aside); no words match all."""
    words = fold(text).split()
    if not words:
        return True
    found = fold(title or "")
    return all(word in found for word in words)
