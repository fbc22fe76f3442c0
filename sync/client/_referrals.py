"""Referrals between organisations, on the device: the directory (fetched, kept in the store
for offline use), a referral built from a record of this device and sealed to the receiving
organisation's keys, the lists both sides see, the receiver's answers, and opening an
incoming referral with the receiving organisation's key.

Only the referral form's fields (`REFERRAL_FIELDS`, and the social worker's note) are sealed;
the record's other answers never leave the device in a referral. The server checks the
consent and the directory again, and cannot open what it keeps.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from fieldapp import crypto
from fieldapp.errors import StoreError
from fieldapp.store import CaseReferral, Store
from sync.client._errors import NoConsentToRefer, NotInDirectory, ReferralRefused
from sync.client._exchange import Exchange, answer, refusal
from sync.client._office import StoreClient
from sync.protocol import (
    DeclineReason,
    Directory,
    DirectoryEntry,
    DirectoryService,
    DirectoryServices,
    ErrorBody,
    Referral,
    ReferralDecline,
    ReferralDirection,
    ReferralRequest,
    ReferralsPage,
)

__all__ = [
    "CONSENT_FIELD",
    "REFERRAL_FIELDS",
    "ReferralContents",
    "ReferralsClient",
    "cached_directory",
    "open_referral",
    "referral_aad",
    "referral_contents",
    "refresh_sent_referrals",
]

# What the referral form shares of a victim screening: who the person is, how to speak with
# them and what they need. Never the case code, the notes, where and how they were found or
# what was done to them: the receiver asks the survivor what it needs to know.
REFERRAL_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "age_band",
    "nationality",
    "languages",
    "languages_other",
    "immediate_needs",
)
CONSENT_FIELD = "consent_refer"
MAX_NOTE = 2000
_DIRECTORY_SETTING = "referral_directory"
_WAITING = frozenset({"sent", "accepted"})  # a status the receiver has still to change
_REFUSALS: dict[str, type[ReferralRefused]] = {
    "no_consent_to_refer": NoConsentToRefer,
    "not_in_directory": NotInDirectory,
}


class ReferralContents(BaseModel):
    """What a referral's sealed part holds: the referral form's answers and a note."""

    form_id: str
    fields: dict[str, Any]
    note: str | None = None


def referral_aad(referral_id: str, to_org: str, service: str) -> bytes:
    """Binds a sealed part to its referral: it opens under no other id, receiver or service."""
    return json.dumps(["fieldapp/referral/v1", referral_id, to_org, service]).encode()


def referral_contents(values: dict[str, Any], form_id: str, note: str | None) -> bytes:
    """The plaintext to seal: the referral form's fields of `values` that are answered."""
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"note: at most {MAX_NOTE} characters")
    shared = {name: values[name] for name in REFERRAL_FIELDS if values.get(name) not in (None, "")}
    return (
        ReferralContents(form_id=form_id, fields=shared, note=note or None)
        .model_dump_json(exclude_none=True)
        .encode()
    )


def open_referral(
    key: crypto.OrgKeyPair | crypto.CaseFileKey, referral: Referral
) -> ReferralContents | None:
    """An incoming referral's contents, opened with the receiving organisation's key (its
    key pair, or a case manager's session); None once the survivor's consent was withdrawn
    (the server erased them). IntegrityError if it is not sealed to this key."""
    if referral.sealed is None:
        return None
    aad = referral_aad(str(referral.id), referral.to_org, referral.service)
    opener = key.open_envelope if isinstance(key, crypto.CaseFileKey) else key.open
    try:
        return ReferralContents.model_validate_json(opener(referral.sealed, aad))
    except ValidationError:
        raise crypto.IntegrityError("the referral's sealed part holds no referral") from None


def cached_directory(store: Store) -> Directory:
    """The directory as the last fetch left it (empty before one): works offline."""
    text = store.settings.get(_DIRECTORY_SETTING)
    if text is None:
        return Directory(organisations=[])
    try:
        return Directory.model_validate_json(text)
    except ValidationError:
        return Directory(organisations=[])


def _entry(directory: Directory, to_org: str, service: str) -> DirectoryEntry:
    for entry in directory.organisations:
        if entry.org_id == to_org and any(s.service == service for s in entry.services):
            return entry
    raise NotInDirectory(
        "not_in_directory", f"to_org, service: {service!r} of {to_org!r} is not in the directory"
    )


class ReferralsClient(StoreClient):
    """The referral requests of the store's enrolled device (a social worker's or the
    office's)."""

    def _answer(self, response: httpx.Response, what: str) -> Referral:
        if response.status_code != 200:
            try:
                code = ErrorBody.model_validate_json(response.content).error
            except ValidationError:
                code = "refused"
            raise _REFUSALS.get(code, ReferralRefused)(code, refusal(response))
        return answer(response, Referral, what)

    def directory(self) -> Directory:
        """The server's directory, kept in the store for when the device is offline."""
        response = self._exchange.request("GET", "/v1/directory", token=self._token)
        directory = answer(response, Directory, "directory")
        self._store.settings.set(_DIRECTORY_SETTING, directory.model_dump_json())
        return directory

    def set_services(self, services: dict[str, str]) -> Directory:
        """An admin's organisation's services, code to label (empty: leave the directory)."""
        body = DirectoryServices(
            services=[DirectoryService(service=c, label=lab) for c, lab in services.items()]
        )
        response = self._exchange.request(
            "PUT",
            "/v1/directory/services",
            token=self._token,
            content=body.model_dump_json().encode(),
        )
        directory = answer(response, Directory, "directory")
        self._store.settings.set(_DIRECTORY_SETTING, directory.model_dump_json())
        return directory

    def refer(self, record_id: str, to_org: str, service: str, note: str | None = None) -> Referral:
        """Refer this device's record to `to_org`'s `service`, from the cached directory (a
        case: its source screening, which records the consent). NoConsentToRefer without the
        survivor's recorded consent, NotInDirectory for an organisation or service not
        listed: nothing is sent then."""
        try:
            record = self._store.cases.referable(record_id)
        except StoreError as exc:
            raise NoConsentToRefer("no_consent_to_refer", str(exc)) from exc
        if record.consent_withdrawn or record.values.get(CONSENT_FIELD) != "yes":
            raise NoConsentToRefer(
                "no_consent_to_refer",
                f"{CONSENT_FIELD}: the survivor's consent to be referred is not recorded",
            )
        entry = _entry(cached_directory(self._store), to_org, service)
        referral_id = str(uuid.uuid4())
        recipients = [crypto.RecipientKey.model_validate(key) for key in entry.recipients]
        sealed = crypto.seal(
            referral_contents(record.values, record.form_id, note),
            recipients,
            referral_aad(referral_id, to_org, service),
        )
        request = ReferralRequest(
            id=uuid.UUID(referral_id),
            record_id=uuid.UUID(record.id),
            to_org=to_org,
            service=service,
            sealed=sealed,
        )
        return self.send(request)

    def send(self, request: ReferralRequest) -> Referral:
        """Send a referral built and sealed already (sending it again is harmless)."""
        content = request.model_dump_json().encode()
        response = self._exchange.request(
            "POST", "/v1/referrals", token=self._token, content=content
        )
        sent = self._answer(response, "referral")
        self._store.cases.remember_referrals(_kept([sent]))
        return sent

    def referrals(self, direction: ReferralDirection = "outgoing") -> list[Referral]:
        """The referrals this organisation sent or received; the outgoing ones are kept on
        the device (their status shows on the survivor's case offline)."""
        return _listed(self._store, self._exchange, self._token, direction)

    def accept(self, referral_id: str) -> Referral:
        return self._post(referral_id, "accept", None)

    def decline(self, referral_id: str, reason: DeclineReason) -> Referral:
        return self._post(referral_id, "decline", ReferralDecline(reason=reason))

    def delivered(self, referral_id: str) -> Referral:
        return self._post(referral_id, "delivered", None)

    def _post(self, referral_id: str, action: str, body: ReferralDecline | None) -> Referral:
        content = None if body is None else body.model_dump_json().encode()
        response = self._exchange.request(
            "POST", f"/v1/referrals/{uuid.UUID(referral_id)}:{action}", token=self._token,
            content=content,
        )  # fmt: skip
        return self._answer(response, "referral")


def refresh_sent_referrals(store: Store, exchange: Exchange, token: str) -> None:
    """A sync's last step: the status of the referrals this device sent, while one still
    waits for an answer or its service (a device that never referred asks nothing)."""
    if any(r.status in _WAITING for r in store.cases.referrals_sent()):
        _listed(store, exchange, token, "outgoing")


def _listed(
    store: Store, exchange: Exchange, token: str, direction: ReferralDirection
) -> list[Referral]:
    response = exchange.request(
        "GET", "/v1/referrals", token=token, params={"direction": direction}
    )
    listed = answer(response, ReferralsPage, "list of referrals").referrals
    if direction == "outgoing":
        store.cases.remember_referrals(_kept(listed), every=True)
    return listed


def _kept(referrals: list[Referral]) -> list[CaseReferral]:
    """What the device keeps of referrals it sent: the server's clear metadata only."""
    return [
        CaseReferral(
            referral_id=str(r.id),
            record_id=str(r.record_id),
            to_org=r.to_org,
            to_org_name=r.to_org_name,
            service=r.service,
            status=r.status,
            sent_at=r.sent_at.isoformat(),
            updated_at=r.updated_at.isoformat(),
            reason=r.reason,
        )
        for r in referrals
        if r.record_id is not None
    ]
