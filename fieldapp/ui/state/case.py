"""A survivor's case on the screen: opened from a victim screening, its timeline of services
(newest first, a shelter stay with its length), the survivor's referrals with their status as
last reported, "Add service" and "Close case", each a small
form judged when it is saved (the store checks it all, and names each field at fault).

Everything shown is decrypted in memory while the device is unlocked; locking the app drops
this session (`AppState.lock`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import flet as ft

from fieldapp.forms.spec import FieldSpec, FormSpec, answer_nodes
from fieldapp.i18n import Words, message
from fieldapp.ui.formats import format_day, localised_words
from fieldapp.ui.services import CaseReferral, Record, Services, ValidationFailed

__all__ = ["CaseMode", "CaseSession", "ServiceRow"]

CaseMode = Literal["timeline", "add", "close"]
_DATES = ("start_date", "end_date")


@dataclass(frozen=True)
class ServiceRow:
    """One service on the timeline, in words."""

    record_id: str
    service: str
    dates: str
    stay: str  # a shelter stay's length ("42 days"), else ""
    provider: str
    outcome: str
    notes: str


@ft.observable
@dataclass
class CaseSession:
    """The case of one screening record (none yet: the screen offers to open one)."""

    services: Services
    screening_id: str
    lang: str
    case_id: str | None = None
    status: str = ""
    worker: str = ""
    closure: str = ""
    rows: list[ServiceRow] = field(default_factory=list)
    referrals: list[CaseReferral] = field(default_factory=list)  # newest first
    mode: CaseMode = "timeline"
    answers: dict[str, str] = field(default_factory=dict)  # the small form being typed
    errors: dict[str, str] = field(default_factory=dict)  # its problems, by field name
    notice: str = ""  # what the last action did, in words
    case_spec: FormSpec = field(init=False)
    service_spec: FormSpec = field(init=False)

    def __post_init__(self) -> None:
        self.case_spec, self.service_spec = self.services.cases.forms()
        cases = self.services.cases.of_screening(self.screening_id)
        if cases:
            self._show(cases[0].id)

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    def label(self, name: str) -> str:
        """A field's label in the person's language (the case's or the service's)."""
        for spec in (self.service_spec, self.case_spec):
            node = _node(spec, name)
            if node is not None:
                return spec.label(node.label, self.lang) or name
        return name

    def choices(self, name: str) -> list[tuple[str, str]]:
        """(value, words) of a choice field of the service or the case form."""
        for spec in (self.service_spec, self.case_spec):
            node = _node(spec, name)
            if node is not None and node.choices:
                return [
                    (c.value, spec.label(c.label, self.lang)) for c in spec.choices[node.choices]
                ]
        return []

    # -- the small forms ----------------------------------------------------------------------
    def put(self, name: str, value: str) -> None:
        self.answers = {**self.answers, name: value}
        if name in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != name}

    def start(self, mode: CaseMode) -> None:
        """Show the timeline, the "Add service" form or the "Close case" form."""
        self.services.device.touch()
        self.mode = mode
        self.answers = {"outcome": "completed"} if mode == "add" else {}
        self.errors = {}
        self.notice = ""

    def open_case(self) -> bool:
        """Open the screening's case, assigned to the social worker typed."""
        worker = self.answers.get("assigned_worker", "").strip()
        if not worker:
            self.errors = {"assigned_worker": self._required("assigned_worker")}
            return False
        _ = self.words
        return self._saved(
            lambda: self.services.cases.open(self.screening_id, worker, self.lang),
            _("Case opened."),
        )

    def save_service(self) -> bool:
        """Record the service typed on the timeline; False with each problem by its field."""
        if self.case_id is None:
            return False
        errors: dict[str, str] = {}
        days: dict[str, date | None] = {}
        for name in _DATES:
            typed = self.answers.get(name, "").strip()
            try:
                days[name] = date.fromisoformat(typed) if typed else None
            except ValueError:
                days[name] = None
                errors[name] = message("type_date", self.lang, label=self.label(name))
        if not self.answers.get("service_type"):
            errors["service_type"] = self._required("service_type")
        if errors:
            self.errors = errors
            return False
        case_id, _ = self.case_id, self.words
        return self._saved(
            lambda: self.services.cases.add_service(
                case_id,
                service_type=self.answers["service_type"],
                start_date=days["start_date"],
                end_date=days["end_date"],
                provider=self.answers.get("provider", "").strip() or None,
                outcome=self.answers.get("outcome") or "completed",
                notes=self.answers.get("notes", "").strip() or None,
                lang=self.lang,
            ),
            _("Service added to the timeline."),
        )

    def close_case(self) -> bool:
        """Close the case with the reason picked."""
        if self.case_id is None:
            return False
        reason = self.answers.get("closure_reason", "")
        if not reason:
            self.errors = {"closure_reason": self._required("closure_reason")}
            return False
        note = self.answers.get("closure_note", "").strip() or None
        case_id, _ = self.case_id, self.words
        return self._saved(
            lambda: self.services.cases.close(case_id, reason, note, self.lang), _("Case closed.")
        )

    # -- internals ----------------------------------------------------------------------------
    def _saved(self, write: Callable[[], Record], notice: str) -> bool:
        """Write, then show the case on its timeline with `notice`; False with each problem
        by its field if the store refused (nothing written then)."""
        try:
            written = write()
        except ValidationFailed as failed:
            self.errors = {e.field: e.message for e in failed.errors}
            return False
        self._show(self.case_id or written.id)  # a new case is the record written
        self.start("timeline")
        self.notice = notice
        return True

    def _required(self, name: str) -> str:
        return message("required", self.lang, label=self.label(name))

    def _show(self, case_id: str) -> None:
        timeline = self.services.cases.timeline(case_id)
        values = timeline.case.values
        self.case_id = case_id
        self.status = str(values.get("status") or "")
        self.worker = str(values.get("assigned_worker") or "")
        reason = values.get("closure_reason")
        self.closure = self._choice(self.case_spec, "closure_reason", reason) if reason else ""
        self.rows = [self._row(record) for record in timeline.services]
        self.referrals = timeline.referrals

    def _row(self, record: Record) -> ServiceRow:
        values: dict[str, Any] = record.values
        start, end = values.get("start_date"), values.get("end_date")
        dates = format_day(start, self.lang)
        if end:
            dates = f"{dates} – {format_day(end, self.lang)}"
        stay = ""
        if values.get("service_type") == "shelter" and start and end:
            length = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
            _ = self.words
            stay = _.ngettext("{n} day", "{n} days", length, n=length)
        return ServiceRow(
            record_id=record.id,
            service=self._choice(self.service_spec, "service_type", values.get("service_type")),
            dates=dates,
            stay=stay,
            provider=str(values.get("provider") or ""),
            outcome=self._choice(self.service_spec, "outcome", values.get("outcome")),
            notes=str(values.get("notes") or ""),
        )

    def _choice(self, spec: FormSpec, name: str, value: Any) -> str:
        node = _node(spec, name)
        if node is None or not node.choices or value is None:
            return "" if value is None else str(value)
        return spec.choice_label(node.choices, str(value), self.lang)


def _node(spec: FormSpec, name: str) -> FieldSpec | None:
    for node in answer_nodes(spec.children):
        if isinstance(node, FieldSpec) and node.name == name:
            return node
    return None
