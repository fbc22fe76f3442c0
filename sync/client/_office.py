"""The office's client: an enrolled coordinator's, case manager's or admin's device asking
the server for the organisation's records (statistical fields only, newest first, page
after page), reviewing them, telling people from rows (possible duplicate records merged or
dismissed, participants confirmed as one person), and a case manager's or admin's fetching a
record's sealed part to open with the organisation's key, with the device's own token, never
the server's database."""

from __future__ import annotations

import hashlib
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from fieldapp.store import Store
from sync.client._backoff import RetryPolicy
from sync.client._errors import NotEnrolled, ServerRefused
from sync.client._exchange import ExchangeOwner, answer, refusal
from sync.client._state import SECRET_TOKEN, STATE_ROLE, STATE_SERVER_URL
from sync.protocol import (
    MAX_OFFICE_PAGE,
    MAX_PAIR_ID,
    REVIEW_REQUEST,
    DeviceRevoked,
    DuplicatesPage,
    MatchDecisionResult,
    MergeRequest,
    OfficeDevice,
    OfficeDevices,
    OfficeRecord,
    OfficeRecordsPage,
    PeopleReport,
    ReviewDecision,
    ReviewResult,
    ReviewState,
    SealedRecordView,
)

__all__ = ["DEFAULT_SILENT_DAYS", "OfficeClient", "StoreClient", "is_silent"]

DEFAULT_SILENT_DAYS = 14


def is_silent(device: OfficeDevice, days: int, now: datetime) -> bool:
    """A device still enrolled that has not synced (or, never having synced, enrolled) for
    more than `days` days before `now`: the office should find out why."""
    if device.revoked_at is not None:
        return False
    last = device.last_sync_at or device.enrolled_at
    return now - last > timedelta(days=days)


class StoreClient(ExchangeOwner):
    """A client of the server the store enrolled with, speaking with the device's own token.
    Read the token while the store is unlocked (construction does it): NotEnrolled if it has
    none."""

    def __init__(
        self,
        store: Store,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        url = base_url or store.settings.get(STATE_SERVER_URL)
        token = store.keyring.secret(SECRET_TOKEN)
        if url is None or token is None:
            raise NotEnrolled("this device is not enrolled with a server yet")
        self._store = store
        self._token = token
        self.role = store.settings.get(STATE_ROLE)
        self._open_exchange(
            url,
            transport=transport,
            retry=retry,
            sleep=sleep,
            rng=rng,
            timeout=timeout,
            clock=store.settings.wall_clock,
        )


class OfficeClient(StoreClient):
    """The office's requests to the server the store enrolled with. The server refuses
    (ServerRefused, 403) a device whose role is not an office role."""

    def page(
        self,
        *,
        form: str | None = None,
        region: str | None = None,
        device: str | None = None,
        status: ReviewState | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 500,
    ) -> OfficeRecordsPage:
        """One page of the organisation's records (see `GET /v1/office/records`)."""
        params: dict[str, Any] = {"limit": min(max(limit, 1), MAX_OFFICE_PAGE)}
        for name, value in (
            ("form", form),
            ("region", region),
            ("device", device),
            ("status", status),
            ("cursor", cursor),
        ):
            if value is not None:
                params[name] = value
        for name, moment in (("received_from", received_from), ("received_to", received_to)):
            if moment is not None:
                params[name] = moment.isoformat()
        response = self._exchange.request(
            "GET", "/v1/office/records", token=self._token, params=params
        )
        return answer(response, OfficeRecordsPage, "list of records")

    def records(self, *, page_size: int = 500, **query: Any) -> Iterator[OfficeRecord]:
        """Every record matching `query` (the filters of `page`), newest first, one page in
        memory at a time."""
        cursor: str | None = None
        while True:
            page = self.page(cursor=cursor, limit=page_size, **query)
            yield from page.records
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor:
                raise ServerRefused("the server gave the same page twice: stopped")
            cursor = page.next_cursor

    def review(
        self, record_id: str, state: ReviewDecision, comment: str | None = None
    ) -> ReviewResult:
        """Review a record's head; ValueError for a bad record id or a missing comment."""
        asked = uuid.UUID(record_id)
        body = REVIEW_REQUEST.validate_python({"state": state, "comment": comment})
        response = self._exchange.request(
            "POST",
            f"/v1/office/records/{asked}:review",
            token=self._token,
            content=body.model_dump_json(exclude_none=True).encode("utf-8"),
        )
        return answer(response, ReviewResult, "review")

    def devices(self) -> OfficeDevices:
        """The organisation's devices (see `GET /v1/office/devices`)."""
        response = self._exchange.request("GET", "/v1/office/devices", token=self._token)
        return answer(response, OfficeDevices, "list of devices")

    def revoke(self, device_id: str) -> DeviceRevoked:
        """Revoke a device (see `POST /v1/office/devices/{device_id}:revoke`)."""
        if not device_id or len(device_id) > 64 or "/" in device_id:
            raise ValueError(f"device id: not a device id: {device_id!r}")
        response = self._exchange.request(
            "POST", f"/v1/office/devices/{device_id}:revoke", token=self._token
        )
        return answer(response, DeviceRevoked, "revocation")

    def sealed_record(self, record_id: str, *, history: bool = False) -> SealedRecordView:
        """A record's head revision with its sealed part (every revision with `history`), for
        a case manager or admin to open (`fieldapp.crypto.CaseFileKey`); the server refuses
        other roles (ServerRefused, 403) and audits the opening. ValueError for a bad id."""
        asked = uuid.UUID(record_id)
        response = self._exchange.request(
            "GET",
            f"/v1/office/records/{asked}/sealed",
            token=self._token,
            params={"history": "true"} if history else None,
        )
        return answer(response, SealedRecordView, "sealed record")

    def chunk(self, digest: str) -> bytes:
        """An attachment chunk's ciphertext (`GET /v1/attachments/chunks/{sha256}`), checked
        against its name: ServerRefused if the server refuses it (a coordinator, another
        region's record) or sends other bytes."""
        response = self._exchange.request(
            "GET", f"/v1/attachments/chunks/{digest}", token=self._token
        )
        if response.status_code != 200:
            raise ServerRefused(refusal(response))
        if hashlib.sha256(response.content).hexdigest() != digest:
            raise ServerRefused(f"the server sent other bytes for chunk {digest[:12]}...")
        return response.content

    # -- people, not rows ---------------------------------------------------------------------
    def duplicates(self, *, limit: int = 200) -> DuplicatesPage:
        """The open pairs of records that may be one person (case managers and admins)."""
        response = self._exchange.request(
            "GET", "/v1/office/duplicates", token=self._token, params={"limit": limit}
        )
        return answer(response, DuplicatesPage, "list of possible duplicates")

    def merge(self, pair: str, keep: str | None = None) -> MatchDecisionResult:
        """The pair is one person: `keep` (a record id of the pair; else the one received
        first) stays, the other is marked its duplicate. ValueError for a bad record id."""
        body = MergeRequest(keep=None if keep is None else uuid.UUID(keep))
        return self._decide(f"/v1/office/duplicates/{_pair(pair)}:merge", body)

    def dismiss(self, pair: str) -> MatchDecisionResult:
        """Not the same person."""
        return self._decide(f"/v1/office/duplicates/{_pair(pair)}:dismiss", None)

    def people(self, form: str) -> PeopleReport:
        """The form's attendances, the people they are, and same-name pairs to confirm."""
        response = self._exchange.request(
            "GET", "/v1/office/people", token=self._token, params={"form": form}
        )
        return answer(response, PeopleReport, "people count")

    def confirm_person(self, pair: str) -> MatchDecisionResult:
        return self._decide(f"/v1/office/people/{_pair(pair)}:confirm", None)

    def reject_person(self, pair: str) -> MatchDecisionResult:
        return self._decide(f"/v1/office/people/{_pair(pair)}:reject", None)

    def _decide(self, path: str, body: MergeRequest | None) -> MatchDecisionResult:
        content = None if body is None else body.model_dump_json(exclude_none=True).encode()
        response = self._exchange.request("POST", path, token=self._token, content=content)
        return answer(response, MatchDecisionResult, "decision")


def _pair(pair: str) -> str:
    """A pair id as the server gives it (record ids joined by ~); ValueError otherwise."""
    if not pair or len(pair) > MAX_PAIR_ID or set(pair) - _PAIR_CHARACTERS or "~" not in pair:
        raise ValueError(f"{pair!r} is not a pair this server listed")
    return pair


_PAIR_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~")
