"""Training events: the list of events (this device's and those the organisation shares), one
event open as its hub (details, participants, daily check-in, summary), and what it adds up to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import flet as ft

from fieldapp.ui.services import Services
from fieldapp.ui.state.form import FormSession

__all__ = [
    "CHECKIN",
    "SUMMARY",
    "EventRow",
    "EventSummary",
    "EventSummaryRow",
    "TrainingSession",
    "event_rows",
    "event_summary",
]

# Which tab of an event shows: one of the form's steps by name ("" for the first), or these.
CHECKIN = "checkin"
SUMMARY = "summary"


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

    @property
    def event_days(self) -> int:
        days = self.clean.get("event_days")
        return max(1, min(10, int(days))) if isinstance(days, int | float) else 1

    def show_tab(self, name: str) -> None:
        self.editing = None
        self.tab = name

    def toggle_attendance(self, index: int, day: int) -> None:
        self.toggle_choice("attendance", f"day{day}", repeat="participants", index=index)

    def summary(self) -> EventSummary:
        return event_summary(self.clean, self.event_days)


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
