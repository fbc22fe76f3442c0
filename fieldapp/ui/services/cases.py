"""A survivor's case on this device (through `Device.store`): opened from a victim screening,
its services recorded offline, closed with a reason; the timeline read decrypted with this
device's key while it is unlocked."""

from __future__ import annotations

from datetime import date

from fieldapp.forms.spec import FormSpec
from fieldapp.store import CASE_FORM, SERVICE_FORM, CaseReferral, CaseTimeline, Record
from fieldapp.ui.services.device import Device

__all__ = ["CASE_FORM", "CASE_FORMS", "SERVICE_FORM", "CaseReferral", "CaseTimeline", "Cases"]

# Forms the case screen writes: the home screen offers no blank one of them.
CASE_FORMS = (CASE_FORM, SERVICE_FORM)


class Cases:
    def __init__(self, device: Device) -> None:
        self._device = device

    def forms(self) -> tuple[FormSpec, FormSpec]:
        """The case form and the service form (their labels and choice lists)."""
        forms = self._device.store.forms
        return forms.get(CASE_FORM), forms.get(SERVICE_FORM)

    def of_screening(self, screening_id: str) -> list[Record]:
        """The cases opened from a screening, newest first."""
        return self._device.store.cases.cases_of(screening_id)

    def open(self, screening_id: str, assigned_worker: str, lang: str) -> Record:
        """Raises ValidationFailed naming the field (no worker named...)."""
        return self._device.store.cases.open(
            screening_id=screening_id, assigned_worker=assigned_worker, lang=lang
        )

    def timeline(self, case_id: str) -> CaseTimeline:
        """The case, its services and the survivor's referrals as last reported."""
        return self._device.store.cases.timeline(case_id)

    def add_service(
        self,
        case_id: str,
        *,
        service_type: str,
        start_date: date | None,
        end_date: date | None,
        provider: str | None,
        outcome: str,
        notes: str | None,
        lang: str,
    ) -> Record:
        """Raises ValidationFailed naming each field at fault; nothing is saved then."""
        return self._device.store.cases.add_service(
            case_id,
            service_type=service_type,
            start_date=start_date,
            end_date=end_date,
            provider=provider,
            outcome=outcome,
            notes=notes,
            lang=lang,
        )

    def close(self, case_id: str, reason: str, note: str | None, lang: str) -> Record:
        return self._device.store.cases.close(case_id, reason, note, lang=lang)
