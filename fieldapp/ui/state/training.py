"""Training events: the list of events (this device's and those the organisation shares), one
event open as its hub (details, participants, daily check-in, summary), and what it adds up to.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import flet as ft

from fieldapp.ui.services import (
    PERSON_FIELDS,
    ParticipantMatch,
    Services,
    match_participants,
)
from fieldapp.ui.services.team import fold
from fieldapp.ui.state.form import FormSession

__all__ = [
    "CHECKIN",
    "IDENTITY_FIELDS",
    "SUMMARY",
    "EventRow",
    "EventSummary",
    "EventSummaryRow",
    "TrainingSession",
    "event_rows",
    "event_summary",
    "same_person",
]

# Which tab of an event shows: one of the form's steps by name ("" for the first), or these.
CHECKIN = "checkin"
SUMMARY = "summary"


IDENTITY_FIELDS = PERSON_FIELDS  # who a returning person is: see there why nothing else
MAX_DAYS = 10  # the form's own limit (end date at most 9 days after the start)


def _name(person: Mapping[str, Any]) -> str:
    return " ".join(fold(str(person.get("full_name") or "")).split())


def _org(person: Mapping[str, Any]) -> str:
    return " ".join(fold(str(person.get("organisation") or "")).split())


def _phone(person: Mapping[str, Any]) -> str:
    return "".join(c for c in str(person.get("phone") or "") if c.isdigit())


def same_person(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """The same person, as far as a register can tell: the same name (case, accents and
    spacing ignored) and the same organisation or the same phone number. Where neither
    detail is known on both sides, the name alone decides (a warning, never a refusal:
    two people may share a name); a detail known on both sides that differs, with none
    that matches, tells two namesakes apart."""
    name = _name(one)
    if not name or name != _name(other):
        return False
    compared = [(f(one), f(other)) for f in (_org, _phone)]
    if any(a and a == b for a, b in compared):
        return True
    return not any(a and b for a, b in compared)


@dataclass(frozen=True)
class Removed:
    """A participant just removed, kept in memory until undone or dismissed."""

    repeat: str
    index: int
    instance: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.instance.get("full_name") or f"#{self.index + 1}")


@dataclass(frozen=True)
class EventSummaryRow:
    value: str
    count: int


@dataclass(frozen=True)
class EventSummary:
    participants: int
    by_sex: list[EventSummaryRow]
    by_profession: list[EventSummaryRow]
    present_by_day: list[int]  # day 1 first
    average_pre: float | None
    average_post: float | None


def event_summary(values: Mapping[str, Any], days: int) -> EventSummary:
    """Counts a trainer reports: by sex, by profession, present per day, mean scores."""
    people = [p for p in values.get("participants") or [] if isinstance(p, Mapping)]
    sexes = Counter(str(p.get("sex") or "") for p in people)
    jobs = Counter(str(p.get("profession") or "") for p in people)
    present = [
        sum(1 for p in people if f"day{day}" in (p.get("attendance") or []))
        for day in range(1, days + 1)
    ]

    def mean(name: str) -> float | None:
        scores = [p[name] for p in people if isinstance(p.get(name), int | float)]
        return round(sum(scores) / len(scores), 1) if scores else None

    def rows(counts: Counter[str]) -> list[EventSummaryRow]:
        return [EventSummaryRow(k, n) for k, n in sorted(counts.items(), key=lambda i: -i[1])]

    return EventSummary(
        participants=len(people),
        by_sex=rows(sexes),
        by_profession=rows(jobs),
        present_by_day=present,
        average_pre=mean("pre_score"),
        average_post=mean("post_score"),
    )


@ft.observable
@dataclass
class TrainingSession(FormSession):
    """A training event being registered: the form's own steps as tabs, then the daily
    check-in and the summary."""

    tab: str = ""  # "" shows the first step
    removed: Removed | None = None  # the last participant removed, for "Undo"
    duplicate_match: str | None = None  # a roster match refused as already registered
    _people: list[ParticipantMatch] | None = None  # earlier events' people, decrypted once
    _orgs: list[str] = field(default_factory=list)  # organisations they named

    @property
    def event_days(self) -> int:
        days = self.clean.get("event_days")
        return max(1, min(MAX_DAYS, int(days))) if isinstance(days, int | float) else 1

    @property
    def dates_known(self) -> bool:
        """Both dates given and valid: the days of the event exist."""
        return isinstance(self.clean.get("event_days"), int | float)

    def show_tab(self, name: str) -> None:
        if self.editing is not None and not [
            k for k in self.instances(self.editing[0])[self.editing[1]] if not k.startswith("_")
        ]:
            self.close_instance()  # a blank entry left by "Save & next" is dropped
        self.editing = None
        self.tab = name

    def toggle_attendance(self, index: int, day: int) -> None:
        self.toggle_choice("attendance", f"day{day}", repeat="participants", index=index)

    # -- the event's days --------------------------------------------------------------------
    def set_length(self, days: int) -> None:
        """The event lasts `days` days from its start date: its end date."""
        try:
            start = date.fromisoformat(str(self.values.get("start_date") or ""))
        except ValueError:
            return
        self.set_value("end_date", (start + timedelta(days=days - 1)).isoformat())

    def everyone_present(self, day: int) -> bool:
        people = self.instances("participants")
        return bool(people) and all(f"day{day}" in (p.get("attendance") or []) for p in people)

    def everyone_every_day(self) -> bool:
        return all(self.everyone_present(d) for d in range(1, self.event_days + 1))

    def toggle_day(self, day: int) -> None:
        """Everyone present on `day`; or, where everyone already is, nobody."""
        self._mark(range(day, day + 1), present=not self.everyone_present(day))

    def toggle_all_days(self) -> None:
        """Everyone present on every day of the event (then untick who was absent); or, where
        everyone already is, nobody on any day."""
        self._mark(range(1, self.event_days + 1), present=not self.everyone_every_day())

    def _mark(self, days: range, *, present: bool) -> None:
        choices = [f"day{d}" for d in days]
        people = []
        for person in self.instances("participants"):
            kept = [d for d in person.get("attendance") or [] if d not in choices]
            if present:
                kept += choices
            people.append({**person, "attendance": kept} if kept else _without(person))
        if people:
            self.values = {**self.values, "participants": people}
            self._autosave()

    # -- participants --------------------------------------------------------------------------
    def add_participant(self) -> None:
        self.removed = None
        self.duplicate_match = None
        self.add_instance("participants")

    def remove_participant(self, index: int) -> None:
        """Remove an entry, keeping it in memory so that "Undo" puts it back where it was."""
        instance = self.instances("participants")[index]
        self.remove_instance("participants", index)
        self.removed = Removed("participants", index, dict(instance))

    def undo_remove(self) -> None:
        if self.removed is None:
            return
        removed, self.removed = self.removed, None
        people = self.instances(removed.repeat)
        people.insert(min(removed.index, len(people)), removed.instance)
        self.values = {**self.values, removed.repeat: people}
        self._autosave()

    def dismiss_removed(self) -> None:
        self.removed = None

    def duplicates(self, index: int) -> list[int]:
        """The other entries of this event that are the same person as entry `index`."""
        people = self.instances("participants")
        if index >= len(people):
            return []
        return [i for i, p in enumerate(people) if i != index and same_person(p, people[index])]

    def registered(self, person: Mapping[str, Any]) -> int | None:
        """The entry of this event that is `person` (as an earlier event recorded them)."""
        for i, p in enumerate(self.instances("participants")):
            if same_person(person, p):
                return i
        return None

    def _earlier_people(self) -> list[ParticipantMatch]:
        if self._people is None:
            self._people = self.services.team.participants(exclude_record=self.record_id)
            orgs = Counter(
                " ".join(str(p.details.get("organisation") or "").split()) for p in self._people
            )
            orgs.pop("", None)
            self._orgs = [o for o, _n in orgs.most_common()]
        return self._people

    def returning(self, index: int) -> list[ParticipantMatch]:
        """People of earlier events (this device's and the team's) whose name holds what is
        typed in entry `index`'s name, while who they are is still to be given."""
        people = self.instances("participants")
        if index >= len(people):
            return []
        person = people[index]
        typed = str(person.get("full_name") or "")
        if len(typed.strip()) < 2 or person.get("sex") or person.get("profession"):
            return []
        return match_participants(self._earlier_people(), typed, limit=3)

    def use_returning(self, index: int, match_id: str) -> None:
        """Entry `index` is this returning person: who they are is copied, nothing else."""
        match = next((m for m in self._earlier_people() if m.id == match_id), None)
        if match is None:
            return
        people = [dict(p) for p in self.instances("participants")]
        people[index] = {
            **{k: v for k, v in people[index].items() if k not in IDENTITY_FIELDS},
            **identity(match.details),
        }
        self.values = {**self.values, "participants": people}
        self._autosave()

    def organisations(self, index: int) -> list[str]:
        """Organisations to pick for entry `index` instead of typing: those of this event's
        other entries, then of earlier events, most named first; narrowed by what is typed."""
        people = self.instances("participants")
        if index >= len(people):
            return []
        here = Counter(
            " ".join(str(p.get("organisation") or "").split())
            for i, p in enumerate(people)
            if i != index
        )
        here.pop("", None)
        typed = fold(str(people[index].get("organisation") or "")).split()
        seen: set[str] = set()
        out: list[str] = []
        self._earlier_people()
        for org in [o for o, _n in here.most_common()] + self._orgs:
            folded = fold(org)
            if folded in seen or (typed and not all(w in folded for w in typed)):
                continue
            seen.add(folded)
            if typed and folded == " ".join(typed):
                return []  # already chosen
            out.append(org)
        return out[:4]

    def add_from_team(self, match_id: str, *, anyway: bool = False) -> bool:
        """A person found by the team search joins this event with who they are (see
        `IDENTITY_FIELDS`), and opens to be completed; one already registered here is not
        added twice unless the trainer says so ("Add anyway")."""
        match = next((m for m in self.team_matches if m.id == match_id), None)
        if match is None:
            return False
        if not anyway and self.registered(match.details) is not None:
            self.duplicate_match = match_id
            return False
        people = [*self.instances("participants"), {"_id": str(uuid.uuid4())}]
        people[-1].update(identity(match.details))
        self.values = {**self.values, "participants": people}
        self.team_query = ""
        self.team_matches = []
        self._team_people = None
        self.duplicate_match = None
        self.removed = None
        self.editing = ("participants", len(people) - 1)
        self.message_key = "participant_added"
        self._autosave()
        return True

    def summary(self) -> EventSummary:
        return event_summary(self.clean, self.event_days)


def identity(details: Mapping[str, Any]) -> dict[str, Any]:
    """Who a person is (`IDENTITY_FIELDS`), from what an earlier event recorded."""
    return {k: details[k] for k in IDENTITY_FIELDS if details.get(k) not in (None, "", [])}


def _without(person: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k != "attendance"}


@dataclass(frozen=True)
class EventRow:
    """One line of the events list: an event on this device, or one the office shares."""

    record_id: str
    title: str
    start_date: str
    participants: int
    status: Literal["draft", "final", "queued", "sent", "rejected", "conflict", "shared"]
    shared_key: str | None = None


def event_rows(services: Services) -> list[EventRow]:
    """This device's events, then the shared ones not already being registered here
    (decrypted: the store must be unlocked)."""
    rows = []
    for record in services.records.events():
        values = record.values
        rows.append(
            EventRow(
                record_id=record.id,
                title=str(values.get("title") or "—"),
                start_date=str(values.get("start_date") or ""),
                participants=len(values.get("participants") or []),
                status=record.status,
            )
        )
    started = {(row.title, row.start_date) for row in rows}
    for key, data in sorted(services.records.shared_events().items()):
        title = str(data.get("title") or key)
        start_date = str(data.get("start_date") or "")
        if (title, start_date) not in started:
            rows.append(EventRow("", title, start_date, 0, "shared", shared_key=key))
    return rows
