"""Referrals between organisations as the screens show them: the record being referred (an
organisation and one of its services picked from the directory, a note), the referrals this
device sent with their status, and, for a case manager or admin, the referrals to the
organisation with accept, decline (a coded reason) and delivered. Everything goes through the
`Referrals` service (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import flet as ft

from fieldapp.ui.services import (
    VICTIM_FORM,
    DeclineReason,
    DirectoryEntry,
    IncomingReferral,
    Referral,
    ReferralFailed,
    Services,
)
from fieldapp.ui.state.form import FormSession

__all__ = ["ReferralsView", "referable"]


def referable(form: FormSession) -> bool:
    """Whether the open record may be referred from here: a victim record the server holds
    whose survivor consented to be referred (the server checks it again)."""
    return (
        form.spec.id == VICTIM_FORM
        and form.on_server
        and not form.consent_withdrawn
        and form.values.get("consent_refer") == "yes"
    )


@ft.observable
@dataclass
class ReferralsView:
    """One visit of the referrals screen; `error` is what went wrong, in a sentence."""

    services: Services
    record_id: str | None = None  # the record being referred, if the screen came from one
    directory: list[DirectoryEntry] = field(default_factory=list)
    to_org: str | None = None
    service: str | None = None
    note: str = ""
    outgoing: list[Referral] = field(default_factory=list)
    incoming: list[IncomingReferral] = field(default_factory=list)
    receives: bool = False
    reasons: dict[str, DeclineReason] = field(default_factory=dict)  # referral id → reason
    sent: bool = False  # the record's referral went
    error: str | None = None

    def open(self, record_id: str | None) -> None:
        """Start a visit: the directory (offline: the device's copy) and both lists."""
        referrals = self.services.referrals
        self.record_id, self.to_org, self.service, self.note = record_id, None, None, ""
        self.sent, self.error, self.reasons = False, None, {}
        self.receives = referrals.receives
        self.directory = referrals.directory() if record_id is not None else []
        self.reload()

    def reload(self) -> None:
        referrals = self.services.referrals
        try:
            self.outgoing = referrals.outgoing()
            self.incoming = referrals.incoming() if self.receives else []
        except ReferralFailed as exc:
            self.error = str(exc)

    @property
    def services_offered(self) -> list[tuple[str, str]]:
        """The chosen organisation's services, (code, label)."""
        entry = next((e for e in self.directory if e.org_id == self.to_org), None)
        return [] if entry is None else [(s.service, s.label) for s in entry.services]

    def choose_org(self, org_id: str | None) -> None:
        self.to_org = org_id or None
        codes = [code for code, _ in self.services_offered]
        self.service = codes[0] if len(codes) == 1 else None

    def choose_service(self, service: str | None) -> None:
        self.service = service or None

    def set_note(self, note: str) -> None:
        self.note = note

    def send(self) -> None:
        if self.record_id is None or self.to_org is None or self.service is None:
            return
        try:
            self.services.referrals.refer(self.record_id, self.to_org, self.service, self.note)
        except ReferralFailed as exc:
            self.error = str(exc)
            return
        self.sent, self.error = True, None
        self.reload()

    def choose_reason(self, referral_id: str, reason: DeclineReason) -> None:
        self.reasons = {**self.reasons, referral_id: reason}

    def answer(self, referral_id: str, action: str) -> None:
        """`accept`, `decline` (with the chosen reason) or `delivered`."""
        try:
            self.services.referrals.answer(referral_id, action, self.reasons.get(referral_id))
        except ReferralFailed as exc:
            self.error = str(exc)
            return
        self.error = None
        self.reload()
