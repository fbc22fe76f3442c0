"""Cases: a survivor's case and the timeline of services recorded on it, offline.

A case is a record of the built-in form `case`, a service a record of `service_entry`; both
are finalised, sealed and synced like any other record. The link from a service to its case
(`case_id`), the dates, the provider and the notes are sensitive: sealed for the
organisation, encrypted here under the device's data key, never in clear. What stays in
clear is coarse: the service type, the month, the outcome, the length of a shelter stay as a
band; on the case its status, the services received (so the office counts survivors, not
entries) and the time from identification to the first service as a band. Adding a service
updates its case in the same transaction.

The survivor's referrals to other organisations show on the case's timeline: a case is
referred through its source screening (where the consent to refer is recorded), and the
device keeps what the server last said of each referral it sent (ids, the receiver's name,
the service and its status: what the server holds in clear anyway, nothing sealed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from fieldapp.errors import StoreError
from fieldapp.forms.spec import answer_nodes
from fieldapp.forms.validate import FieldError
from fieldapp.i18n import message
from fieldapp.store._consent import Consent
from fieldapp.store._core import Core
from fieldapp.store._forms import Forms
from fieldapp.store._records import Records
from fieldapp.store._settings import Settings
from fieldapp.store._types import Record, ValidationFailed

__all__ = ["CASE_FORM", "SERVICE_FORM", "CaseReferral", "CaseTimeline", "Cases"]

CASE_FORM = "case"
SERVICE_FORM = "service_entry"
SCREENING_FORM = "victim_screening"
_REFERRALS_SETTING = "referrals_sent"


@dataclass(frozen=True)
class CaseReferral:
    """A referral this device sent, as the server last reported it: the record referred,
    the receiving organisation, the service code and the status (sent, accepted, declined
    with a reason, delivered, withdrawn)."""

    referral_id: str
    record_id: str
    to_org: str
    to_org_name: str
    service: str
    status: str
    sent_at: str
    updated_at: str
    reason: str | None = None


@dataclass(frozen=True)
class CaseTimeline:
    """A case and its services, newest first (by start date, then when recorded), and the
    survivor's referrals, newest first."""

    case: Record
    services: list[Record]
    referrals: list[CaseReferral] = field(default_factory=list)


class Cases:
    def __init__(
        self, core: Core, forms: Forms, records: Records, consent: Consent, settings: Settings
    ) -> None:
        self._core = core
        self._settings = settings
        self._forms = forms
        self._records = records
        self._consent = consent
        # (record id, updated_at) -> its link (a case's screening, a service's case): ids only
        self._links: dict[tuple[str, str], Any] = {}

    def open(
        self,
        *,
        assigned_worker: str,
        screening_id: str | None = None,
        identified_on: date | None = None,
        lang: str = "en",
    ) -> Record:
        """Open a case from a victim screening record (identified the day it was created) or,
        without one, from a hotline call on `identified_on`. Raises ValidationFailed naming
        the field, StoreError if the screening is not one."""
        if screening_id is not None:
            screening = self._records.get(screening_id)
            if screening.form_id != SCREENING_FORM:
                raise StoreError(f"record {screening_id} is a {screening.form_id}, not a screening")
            identified_on = identified_on or date.fromisoformat(screening.created_at[:10])
        values: dict[str, Any] = {
            "source": "screening" if screening_id else "hotline",
            "source_record_id": screening_id,
            "identified_on": identified_on.isoformat() if identified_on else None,
            "identified_month": _month(identified_on),
            "assigned_worker": assigned_worker,
            "status": "open",
        }
        return self._records.create_final(CASE_FORM, values, lang=lang)

    def add_service(
        self,
        case_id: str,
        *,
        service_type: str,
        start_date: date | None,
        end_date: date | None = None,
        provider: str | None = None,
        outcome: str = "completed",
        notes: str | None = None,
        lang: str = "en",
    ) -> Record:
        """Record a service on the case's timeline; the case becomes active and counts the
        service. All or nothing: a ValidationFailed names each field at fault."""
        case = self._case(case_id)
        if case.values.get("status") == "closed":
            raise StoreError(f"case {case_id} is closed: no service can be added to it")
        identified = case.values.get("identified_on")
        if start_date is not None and identified and start_date.isoformat() < identified:
            raise ValidationFailed([self._before_identification(lang)])
        values = {
            "case_id": case_id,
            "service_type": service_type,
            "provider": provider,
            "start_date": start_date.isoformat() if start_date else None,
            "end_date": end_date.isoformat() if end_date else None,
            "service_month": _month(start_date),
            "outcome": outcome,
            "notes": notes,
        }
        with self._core.transaction():
            entry = self._records.create_final(SERVICE_FORM, values, lang=lang)
            received = list(case.values.get("services_received") or [])
            first = case.values.get("first_service_on")
            start = values["start_date"]
            self._records.finalise(
                case_id,
                {
                    **case.values,
                    "status": "active",
                    "services_received": sorted({*received, service_type}),
                    "first_service_on": min(first, start) if first else start,
                },
                lang=lang,
            )
        return entry

    def close(self, case_id: str, reason: str, note: str | None = None, lang: str = "en") -> Record:
        """Close the case with a reason (one of the form's `closure_reasons`). A refused one
        (ValidationFailed) leaves the case as it was, not a draft."""
        case = self._case(case_id)
        values = {**case.values, "status": "closed", "closure_reason": reason, "closure_note": note}
        with self._core.transaction():
            return self._records.finalise(case_id, values, lang=lang)

    def timeline(self, case_id: str) -> CaseTimeline:
        """The case and its services, decrypted with this device's key (it must be
        unlocked)."""
        case = self._case(case_id)
        services = [self._records.get(i) for i in self._linked(SERVICE_FORM, "case_id", case_id)]
        services.sort(key=lambda r: (r.values.get("start_date") or "", r.created_at), reverse=True)
        screening = case.values.get("source_record_id")
        referrals = [r for r in self.referrals_sent() if screening and r.record_id == screening]
        return CaseTimeline(case=case, services=services, referrals=referrals)

    def referable(self, record_id: str) -> Record:
        """The record a referral of `record_id` shares: a case's source screening (the
        survivor's consent to be referred is recorded there), any other record itself.
        StoreError for a case opened from a hotline call (no screening to refer)."""
        record = self._records.get(record_id)
        if record.form_id != CASE_FORM:
            return record
        screening = record.values.get("source_record_id")
        if not screening:
            raise StoreError(
                f"source_record_id: case {record_id} has no screening recording the consent"
                " to refer"
            )
        return self._records.get(screening)

    def remember_referrals(self, sent: Iterable[CaseReferral], *, every: bool = False) -> None:
        """Keep what the server said of referrals sent (`every`: the whole list, replacing
        what was kept; else these ones, updated or added)."""
        kept = {} if every else {r.referral_id: r for r in self.referrals_sent()}
        kept.update((r.referral_id, r) for r in sent)
        self._settings.set(_REFERRALS_SETTING, json.dumps([asdict(r) for r in kept.values()]))

    def referrals_sent(self) -> list[CaseReferral]:
        """The referrals this device sent, as last reported, newest first."""
        text = self._settings.get(_REFERRALS_SETTING)
        found = [CaseReferral(**row) for row in json.loads(text)] if text else []
        return sorted(found, key=lambda r: (r.sent_at, r.referral_id), reverse=True)

    def cases_of(self, screening_id: str) -> list[Record]:
        """The cases opened from a screening record, newest first."""
        found = [
            self._records.get(i) for i in self._linked(CASE_FORM, "source_record_id", screening_id)
        ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    def withdraw_consent(self, record_id: str) -> Record:
        """The person withdrew their consent: the record is erased (`consent.withdraw`) and,
        for a screening, every case opened from it and every service on those, the services
        first, the screening last (so that withdrawing again finishes an interrupted one)."""
        record = self._records.get(record_id)
        if record.form_id == SCREENING_FORM and not record.consent_withdrawn:
            for case in self.cases_of(record_id):
                for service in self.timeline(case.id).services:
                    self._consent.withdraw(service.id)
                self._consent.withdraw(case.id)
        return self._consent.withdraw(record_id)

    def _before_identification(self, lang: str) -> FieldError:
        spec = self._forms.get(SERVICE_FORM)
        field = next(n for n in answer_nodes(spec.children) if n.name == "start_date")
        label = spec.label(field.label, lang) or field.name
        return FieldError(
            path="start_date",
            field="start_date",
            label=label,
            code="constraint",
            message=message("before_identification", lang, label=label),
        )

    def _case(self, case_id: str) -> Record:
        case = self._records.get(case_id)
        if case.form_id != CASE_FORM:
            raise StoreError(f"record {case_id} is a {case.form_id}, not a case")
        return case

    def _linked(self, form_id: str, field: str, target: str) -> list[str]:
        """The records of `form_id` whose sealed `field` is `target`. Each record's link is
        decrypted once per version (kept in memory, by id and the time it was last saved):
        a timeline does not open every service on the device each time it is drawn."""
        with self._core.lock:
            versions = list(
                self._core.db.execute(
                    "SELECT id, updated_at FROM records WHERE form_id = ?", [form_id]
                )
            )
        unknown = [i for i, saved in versions if (i, saved) not in self._links]
        parts: Mapping[str, dict[str, Any]] = self._records.sensitive_parts(unknown)
        saved_at = dict(versions)
        for record_id, values in parts.items():
            self._links[(record_id, saved_at[record_id])] = values.get(field)
        return [i for i, saved in versions if self._links.get((i, saved)) == target]


def _month(day: date | None) -> str | None:
    return day.replace(day=1).isoformat() if day else None
