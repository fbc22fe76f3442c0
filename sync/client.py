"""The offline-first sync client: enrol a device, push its outbox, pull the server's changes.

An interruption at any byte costs nothing but a retry: a record is marked `queued` before it
leaves, and only a receipt signed by the server's key (obtained at enrolment) turns it `sent`;
a push whose answer never arrives is simply pushed again, and the server answers `duplicate`
for it, forever. Outcomes are written to the store batch by batch, and the pull cursor moves
only once a page of changes is stored, so a sync killed at any point resumes where it stopped.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import gzip
import hmac
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from fieldapp import crypto
from fieldapp.errors import FieldappError, RecordNotFound, StoreError, StoreLocked
from fieldapp.forms.spec import FormSpec
from fieldapp.store import OutboxEntry, Outcome, Store, TeamKey
from sync._backoff import RetryPolicy, jitter_source, server_delay
from sync.protocol import (
    MAX_BATCH_RECORDS,
    MAX_RECEIPT_CHECK,
    MAX_ROSTER_ENTRIES,
    PROTOCOL_VERSION,
    ROSTER_ROLES,
    Change,
    ChangesPage,
    EnrolmentCode,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    EventChange,
    FormChange,
    Health,
    PushResponse,
    Receipt,
    ReceiptCheck,
    ReceiptCheckResponse,
    RecordChange,
    RecordEnvelope,
    RecordOutcome,
    RecordView,
    ReferenceChange,
    RevisionRef,
    RevocationChange,
    RosterChange,
    RosterEntry,
    RosterPush,
    RosterPushResponse,
    check_server_url,
    parse_fingerprint,
)

__all__ = [
    "CLOCK_SKEW_WARNING",
    "DEFAULT_MAX_BATCH_BYTES",
    "RECEIPT_CHECK_INTERVAL",
    "RECEIPT_RECHECK_MARGIN",
    "EnrolRefused",
    "EnrolResult",
    "EnrolmentNotTrusted",
    "NotEnrolled",
    "ProgressCallback",
    "RecordVersions",
    "RetryPolicy",
    "ServerRefused",
    "ServerUnreachable",
    "SyncClient",
    "SyncError",
    "SyncReport",
    "enrol",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH_BYTES = 256 * 1024
# Beyond this the device's clock is called wrong: it dates records (form start and end,
# created and updated), so a wrong one misleads the office; what the device decides by time
# (purging) uses the server's clock. Ten minutes is far past network delays and drift.
CLOCK_SKEW_WARNING = timedelta(minutes=10)
# How often a device asks the server to confirm the receipts it holds, and how far back:
# receipts the server took since this long before the previous check, so a server restored
# from a backup up to a month old is caught even by a device that was away meanwhile.
RECEIPT_CHECK_INTERVAL = timedelta(days=1)
RECEIPT_RECHECK_MARGIN = timedelta(days=30)
DEFAULT_PULL_PAGE = 1000
_OUTBOX_PAGE = 500
_GZIP_LEVEL = 6
_BATCH_RECEIPTS = {"receipts": "batch"}  # one signature per batch (older servers ignore it)
_ENVELOPE_BATCH_HEAD = b'{"protocol":%d,"records":[' % PROTOCOL_VERSION

# Keys of the store's clear sync bookkeeping (Settings.get) and secrets (Keyring.secret).
STATE_SERVER_URL = "server_url"
STATE_SERVER_PUBLIC_KEY = "server_public_key"
STATE_SERVER_KEY_ID = "server_key_id"
STATE_ORGANISATION = "organisation_id"
STATE_ROLE = "role"
STATE_REGION = "region"
STATE_CURSOR = "cursor"
STATE_LAST_SYNC = "last_sync_at"
STATE_RECEIPTS_CHECKED = "receipts_checked_at"  # the server's time of the last receipt check
SECRET_TOKEN = "token"  # noqa: S105 (the name under which the store keeps it)

ProgressCallback = Callable[[int, int, int], None]
"""on_progress(records done, records total, bytes sent): called after every batch."""


class SyncError(FieldappError):
    """Syncing cannot go on; the message says why in words a field worker can act on."""


class NotEnrolled(SyncError):
    """The store has no server, token or server key yet: enrol the device first."""


class ServerUnreachable(SyncError):
    """The server did not answer after every retry (offline, or it is down)."""


class ServerRefused(SyncError):
    """The server refused the request (a revoked device, a protocol error); see the message."""


class EnrolRefused(ServerRefused):
    """The enrolment code was refused (unknown, expired, or used by another device)."""


class EnrolmentNotTrusted(SyncError):
    """The keys in the server's enrolment answer are not those the code was issued with:
    someone in between may have swapped them. Nothing was stored."""


@dataclass
class SyncReport:
    """What one sync did: per-outcome counts, bytes on the wire, pulled changes, errors.

    `unconfirmed` counts records the server answered without a valid receipt: they stay
    queued and go again next time. `resolved` counts this device's records whose conflict the
    office settled. `team_entries` counts participants the team now has from this device.
    `erased` counts records erased here because their consent was withdrawn elsewhere.
    `requeued` counts receipted revisions the server no longer held, queued to be sent again;
    `lost` those it cannot be (their copy here was purged): each is also in `errors`.
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
    requeued: int = 0
    lost: int = 0
    pulled: int = 0
    forms_added: int = 0
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


@dataclass(frozen=True)
class EnrolResult:
    device_id: str
    organisation_id: str
    region: str | None
    role: str
    server_key_id: str
    sealed_waiting: int  # records finalised before enrolment, now sealed for the organisation
    team_search: bool  # the code brought the team key: participants are shared with the team
    team_entries: int  # participants of records finalised before, now queued for the team


class _Http:
    """One keep-alive httpx client plus retries, server hints and byte counting."""

    def __init__(
        self,
        base_url: str,
        http: httpx.Client | None,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        rng: random.Random,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.base_url = check_server_url(base_url)
        self._owned = http is None
        self.client = http if http is not None else httpx.Client(timeout=timeout)
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self._not_before = 0.0  # monotonic time before which the server asked us not to call
        self.bytes_sent = 0
        self.bytes_received = 0
        self.requests = 0
        self._clock = clock
        # The server's clock minus this device's, from the last answer's Date header.
        self.clock_offset: timedelta | None = None

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        content: bytes | None = None,
        gzipped: bool = False,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send, retrying network errors, 5xx and 429 with full jitter; any other answer back.

        Retries resend the same bytes: every request of the protocol is idempotent.
        """
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if content is not None:
            headers["Content-Type"] = "application/json"
            if gzipped:
                headers["Content-Encoding"] = "gzip"
        problem = ""
        for attempt in range(self.retry.attempts):
            self._respect_backoff_hint()
            self.requests += 1
            try:
                response = self.client.request(
                    method, self.base_url + path, content=content, headers=headers, params=params
                )
            except httpx.TransportError as exc:
                self.bytes_sent += len(content or b"")
                problem = _describe_transport_error(exc)
                wait = self.retry.delay(attempt, self.rng)
            else:
                self.bytes_sent += len(content or b"")
                self.bytes_received += response.num_bytes_downloaded
                self._note_backoff_hint(response)
                self._note_server_clock(response)
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if _storage_unavailable(response):  # retrying now will not help
                    raise ServerUnreachable(
                        "the server cannot store records right now: they stay on this device"
                        " and go at a later sync"
                    )
                asked = server_delay(response.headers.get("Retry-After")) or 0.0
                if asked > self.retry.max_wait:
                    raise ServerUnreachable(
                        f"the server is busy and asked to wait {asked:.0f} s: "
                        "syncing will try again later"
                    )
                problem = f"the server answered {response.status_code}"
                wait = max(asked, self.retry.delay(attempt, self.rng))
            log.info("sync request %s %s failed (%s); retry %d", method, path, problem, attempt)
            if attempt + 1 < self.retry.attempts:
                self.sleep(wait)
        raise ServerUnreachable(
            f"the server at {self.base_url} could not be reached ({problem}): "
            "records stay on this device and go at the next sync"
        )

    def health(self, timeout: float) -> Health | None:
        """A cheap health check with a short timeout: the server's health, or None if it is
        not reachable right now. A 200 whose body is not a Health (a server older than the
        model, a proxy) counts as ok, as it always did."""
        try:
            response = self.client.get(self.base_url + "/v1/health", timeout=timeout)
        except httpx.TransportError:
            return None
        self._note_backoff_hint(response)
        if response.status_code != 200:
            return None
        try:
            return Health.model_validate_json(response.content)
        except ValidationError:
            return Health()

    def _note_backoff_hint(self, response: httpx.Response) -> None:
        asked = server_delay(response.headers.get("Backoff"))
        if asked:
            self._not_before = max(self._not_before, time.monotonic() + min(asked, 600.0))

    def _note_server_clock(self, response: httpx.Response) -> None:
        """The offset between the server's clock and this device's, from the answer's `Date`
        header (whole seconds, stamped before the answer travelled: right to a second or so,
        plenty to tell a clock set wrong by minutes or years)."""
        dates = response.headers.get_list("date")
        try:
            server_time = email.utils.parsedate_to_datetime(dates[-1]) if dates else None
        except (TypeError, ValueError):
            server_time = None
        if server_time is not None and server_time.tzinfo is not None:
            self.clock_offset = server_time - self._clock()

    def _respect_backoff_hint(self) -> None:
        wait = self._not_before - time.monotonic()
        if wait > self.retry.max_wait:
            raise ServerUnreachable(f"the server asked to pause {wait:.0f} s: try later")
        if wait > 0:
            self.sleep(wait)


_Answer = TypeVar("_Answer", bound=BaseModel)


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "no connection"
    return "the connection broke"


def _storage_unavailable(response: httpx.Response) -> bool:
    """Whether a 503 says the server's storage cannot write (see `GET /v1/health`)."""
    try:
        return ErrorBody.model_validate_json(response.content).error == "storage_unavailable"
    except ValidationError:
        return False


def _refusal(response: httpx.Response) -> str:
    """The server's own explanation of a 4xx, or a plain description."""
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return f"the server refused the request ({response.status_code})"
    return body.message


def _answer(response: httpx.Response, model: type[_Answer], what: str) -> _Answer:
    """The server's 200 answer read as `model`; otherwise ServerRefused says why (`what`
    names the answer in that sentence)."""
    if response.status_code != 200:
        raise ServerRefused(_refusal(response))
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ServerRefused(f"the server's {what} was not understood") from None


def enrol(
    store: Store,
    base_url: str,
    code: str,
    *,
    fingerprint: str | None = None,
    http: httpx.Client | None = None,
    label: str = "",
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 30.0,
) -> EnrolResult:
    """Enrol the (unlocked) store as a device of the server with a one-time code.

    The code ends with a check of the organisation's keys and the server's (and an
    enrolment link carries their whole `fingerprint`, 64 hex digits): an answer whose keys do
    not match is refused with EnrolmentNotTrusted before anything is stored. A code of the
    earlier kind, without that check, is refused (BadEnrolmentCode) before anything is sent.

    Safe to retry after a cut connection: the server accepts the same code again from the
    same device key while the code is valid, and each answer replaces what was stored.
    """
    wire = _Http(
        base_url,
        http,
        retry or RetryPolicy(),
        sleep,
        jitter_source(),
        timeout,
        store.settings.wall_clock,
    )
    try:
        typed = EnrolmentCode.parse(code)
        expected = None if fingerprint is None else parse_fingerprint(fingerprint)
        request = EnrolRequest(
            code=typed.secret_text,
            device_id=store.device_id,
            device_public_key=store.keyring.public_key,
            device_label=label,
        )
        response = wire.request(
            "POST", "/v1/enrol", content=request.model_dump_json().encode("utf-8")
        )
        if response.status_code != 200:
            raise EnrolRefused(_refusal(response))
        try:
            answer = EnrolResponse.model_validate_json(response.content)
            recipients = [crypto.RecipientKey.model_validate(r) for r in answer.recipients]
        except ValidationError:
            raise ServerRefused("the server's enrolment answer was not understood") from None
    finally:
        wire.close()
    _check_keys(typed, expected, recipients, answer)
    if answer.device_id != store.device_id:
        raise ServerRefused("the server enrolled another device id than this one")
    team = _team_key(typed.secret, answer)
    previous = (store.settings.get(STATE_SERVER_URL), store.settings.get(STATE_SERVER_KEY_ID))
    if previous != (wire.base_url, answer.server_key_id) or store.roster.team_key() != team:
        # Another server (its change log starts afresh), or another team (its roster must
        # be pulled from the start).
        store.settings.set(STATE_CURSOR, "0")
    sealed = store.outbox.set_recipients(recipients)
    team_entries = store.roster.set_team_key(team)
    store.keyring.set_secret(SECRET_TOKEN, answer.token)
    store.settings.set(STATE_SERVER_URL, wire.base_url)
    store.settings.set(
        STATE_SERVER_PUBLIC_KEY, base64.b64encode(answer.server_public_key).decode("ascii")
    )
    store.settings.set(STATE_SERVER_KEY_ID, answer.server_key_id)
    store.settings.set(STATE_ORGANISATION, answer.organisation_id)
    store.settings.set(STATE_ROLE, answer.role)
    store.settings.set(STATE_REGION, answer.region or "")
    if wire.clock_offset is not None:
        store.settings.set_clock_offset(wire.clock_offset)
    return EnrolResult(
        device_id=answer.device_id,
        organisation_id=answer.organisation_id,
        region=answer.region,
        role=answer.role,
        server_key_id=answer.server_key_id,
        sealed_waiting=sealed,
        team_search=team is not None,
        team_entries=team_entries,
    )


def _check_keys(
    code: EnrolmentCode,
    expected: bytes | None,
    recipients: list[crypto.RecipientKey],
    answer: EnrolResponse,
) -> None:
    """Refuse the answer unless its keys have the fingerprint the code (and the link, when
    enrolling from one) was issued with."""
    actual = crypto.enrolment_fingerprint(recipients, answer.server_public_key)
    if not code.confirms(actual):
        what = "the code"
    elif expected is not None and not hmac.compare_digest(actual, expected):
        what = "the enrolment link's fingerprint"
    else:
        return
    keys = ", ".join(r.key_id for r in recipients) or "none"
    raise EnrolmentNotTrusted(
        f"the server answered with keys that do not match {what}: organisation keys {keys}"
        f" and receipt key {answer.server_key_id} are not the ones the code was issued with."
        " Nothing was stored on this device. Someone may be intercepting the connection, or"
        " the organisation's keys changed since: tell your coordinator, ask for a new code,"
        " and enrol on another network"
    )


def _team_key(secret: str, answer: EnrolResponse) -> TeamKey | None:
    """The team key the code's secret unwraps, for the organisation and region enrolled into;
    None if the code carried none. A key that does not open with the code is refused before
    anything is stored: the server (or someone in between) altered it."""
    if answer.wrapped_team_key is None:
        return None
    try:
        key = crypto.unwrap_team_key(
            secret, answer.wrapped_team_key, answer.organisation_id, answer.region
        )
    except crypto.CryptoError:
        raise ServerRefused(
            "the team key sent with this enrolment does not open with the code: nothing was "
            "changed on this device; ask the coordinator for a new code"
        ) from None
    return TeamKey(key, answer.organisation_id, answer.region)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """One envelope on its way, with what its receipt must name (parsed once, when read)."""

    record_id: str
    revision: str
    content_digest: str
    body: bytes


@dataclass(frozen=True, slots=True)
class _Batch:
    items: list[_Outgoing]
    gzipped: bytes

    @classmethod
    def of(cls, items: list[_Outgoing]) -> _Batch:
        body = _ENVELOPE_BATCH_HEAD + b",".join(item.body for item in items) + b"]}"
        return cls(items, gzip.compress(body, _GZIP_LEVEL))


_T = TypeVar("_T")
_DONE = object()


class _Ahead(Generic[_T]):
    """Runs an iterator in a worker thread, at most one item ahead of its consumer (the next
    item is produced while the consumer works on the current one, never more).

    Exceptions in the worker reach the consumer; closing stops the worker and waits for it.
    """

    def __init__(self, source: Iterator[_T]) -> None:
        self._source = source
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._slot = threading.Semaphore(1)  # taken while an item is prepared or waiting
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sync-prepare", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._slot.acquire()
                if self._stopping:
                    return
                item = next(self._source, _DONE)
                self._items.put(item)
                if item is _DONE:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._items.put(exc)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[_T]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            self._slot.release()
            yield item

    def close(self) -> None:
        self._stopping = True
        self._slot.release()
        self._thread.join()

    def __enter__(self) -> _Ahead[_T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RecordVersions:
    """The versions of a record the server keeps for review: its `head` and the `siblings`
    in conflict with it, each checked to be a revision of that record (see
    `SyncClient.record_versions`)."""

    record_id: str
    form_id: str
    head: RecordEnvelope
    siblings: list[RecordEnvelope]
    in_conflict: bool


class SyncClient:
    """Pushes the store's outbox and pulls the server's changes; one sync at a time.

    `base_url` defaults to the server the store enrolled with. Read the token while the
    store is unlocked (construction does it when it can): it is kept in memory, so syncing
    goes on after the app locks itself.
    """

    def __init__(
        self,
        store: Store,
        base_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        on_progress: ProgressCallback | None = None,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        pull_page_size: int = DEFAULT_PULL_PAGE,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        receipt_check_interval: timedelta = RECEIPT_CHECK_INTERVAL,
    ) -> None:
        url = base_url or store.settings.get(STATE_SERVER_URL)
        key = store.settings.get(STATE_SERVER_PUBLIC_KEY)
        key_id = store.settings.get(STATE_SERVER_KEY_ID)
        if url is None or key is None or key_id is None:
            raise NotEnrolled("this device is not enrolled with a server yet")
        if max_batch_bytes < 1024:
            raise ValueError("max_batch_bytes must be at least 1 KiB")
        self.store = store
        self.on_progress = on_progress
        self.max_batch_bytes = max_batch_bytes
        self.pull_page_size = pull_page_size
        self.receipt_check_interval = receipt_check_interval
        self._clock = clock or store.settings.wall_clock
        self._http = _Http(
            url, http, retry or RetryPolicy(), sleep, rng or jitter_source(), timeout, self._clock
        )
        self._server_key = base64.b64decode(key)
        self._server_key_id = key_id
        self._token: str | None = None
        self._lock = threading.Lock()
        if not store.keyring.locked:
            self._read_token()

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe(self, timeout: float = 3.0) -> bool:
        """True if the server answers its health check within `timeout` seconds."""
        return self.health(timeout) is not None

    def health(self, timeout: float = 3.0) -> Health | None:
        """The server's health check within `timeout` seconds (None: not reachable); see
        `Health`: `degraded` means it is up but cannot store records now."""
        return self._http.health(timeout)

    @property
    def clock_offset(self) -> timedelta | None:
        """The server's clock minus this device's, as the last sync measured it (None before
        any): beyond CLOCK_SKEW_WARNING either way, tell the person to set the clock."""
        return self.store.settings.clock_offset()

    def pending(self) -> int:
        """Records waiting to be sent (finalised or in flight)."""
        return self.store.records.count(status="final") + self.store.records.count(status="queued")

    def sync(self) -> SyncReport:
        """Push everything waiting, then pull every change; never raises for network trouble.

        Two calls at once run one after the other.
        """
        with self._lock:
            report = SyncReport(started_at=self._clock())
            counters = (self._http.bytes_sent, self._http.bytes_received, self._http.requests)
            self._http.clock_offset = None  # measured afresh by this sync's answers
            try:
                token = self._read_token()
                self._check_receipts(token, report)
                self._push(token, report)
                self._push_roster(token, report)
                self._pull(token, report)
            except SyncError as exc:
                report.errors.append(str(exc))
            finally:
                if self._http.clock_offset is not None:
                    report.clock_offset = self._http.clock_offset
                    self.store.settings.set_clock_offset(self._http.clock_offset)
                report.bytes_sent = self._http.bytes_sent - counters[0]
                report.bytes_received = self._http.bytes_received - counters[1]
                report.requests = self._http.requests - counters[2]
                report.finished_at = self._clock()
            if report.ok:
                self.store.settings.set(STATE_LAST_SYNC, report.finished_at.isoformat())
            return report

    def record_view(self, record_id: str) -> RecordView:
        """The server's view of one of this device's records: every revision it stores, as
        signed (`GET /v1/records/{id}`). The sealed parts are the organisation's: this device
        can only read their statistics. Raises ServerUnreachable, or ServerRefused (not found,
        not allowed, not understood, or about another record); ValueError if `record_id` is
        not a record id (a UUID)."""
        asked = uuid.UUID(record_id)
        response = self._http.request("GET", f"/v1/records/{asked}", token=self._read_token())
        view = _answer(response, RecordView, "view of the record")
        if view.id != asked:
            raise ServerRefused(f"asked for record {record_id}, the server answered another")
        return view

    def record_versions(self, record_id: str) -> RecordVersions:
        """The head and the conflicting siblings of one of this device's records, from
        `record_view`; each must be in the view exactly once, as a revision of this record
        and form, else ServerRefused names it (nothing else in the view is used)."""
        view = self.record_view(record_id)

        def revision(name: str) -> RecordEnvelope:
            found = [env for env in view.revisions if env.revision == name]
            if len(found) != 1:
                raise ServerRefused(
                    f"the server's view of record {record_id} holds revision {name}"
                    f" {len(found)} times instead of once"
                )
            envelope = found[0]
            if envelope.id != view.id or envelope.form_id != view.form_id:
                raise ServerRefused(
                    f"revision {name} in the server's view is not one of record {record_id}"
                )
            return envelope

        if view.head_revision in view.siblings or len(set(view.siblings)) != len(view.siblings):
            raise ServerRefused(f"the server's view of record {record_id} repeats a revision")
        return RecordVersions(
            record_id=str(view.id),
            form_id=view.form_id,
            head=revision(view.head_revision),
            siblings=[revision(name) for name in view.siblings],
            in_conflict=view.in_conflict,
        )

    def _read_token(self) -> str:
        if self._token is None:
            try:
                self._token = self.store.keyring.secret(SECRET_TOKEN)
            except StoreLocked:
                raise SyncError(
                    "unlock the app once so syncing can read this device's credentials"
                ) from None
            if self._token is None:
                raise NotEnrolled("this device has no server token: enrol it first")
        return self._token

    # -- receipts -------------------------------------------------------------------------
    def _check_receipts(self, token: str, report: SyncReport) -> None:
        """Once every `receipt_check_interval` (by the server's time), ask the server whether
        it still holds the revisions it receipted since RECEIPT_RECHECK_MARGIN before the last
        check (all of them the first time); any it left out goes back to the outbox, to leave
        in this same sync, or is reported lost if its copy here was purged.

        A receipt is a promise; this is how a device finds out the server broke it (a crash
        that lost a write, a restore from an older backup) while it can still make up for it.
        """
        now = self.store.settings.server_time()
        checked = self.store.settings.get(STATE_RECEIPTS_CHECKED)
        last = None if checked is None else datetime.fromisoformat(checked)
        if last is not None and now - last < self.receipt_check_interval:
            return
        since = None if last is None else last - RECEIPT_RECHECK_MARGIN
        after = ""
        while page := self.store.outbox.receipts_to_check(
            since=since, after=after, limit=MAX_RECEIPT_CHECK
        ):
            asked = ReceiptCheck(
                revisions=[RevisionRef(id=uuid.UUID(i), revision=rev) for i, rev in page]
            )
            response = self._http.request(
                "POST",
                "/v1/receipts:check",
                token=token,
                content=gzip.compress(asked.model_dump_json().encode("utf-8"), _GZIP_LEVEL),
                gzipped=True,
            )
            if response.status_code == 404:
                log.info("the server cannot confirm receipts (it predates the check)")
                break
            answer = _answer(response, ReceiptCheckResponse, "answer to a receipt check")
            held = {(str(ref.id), ref.revision) for ref in answer.held}
            missing = {i: rev for i, rev in page if (i, rev) not in held}
            if missing:
                requeued, lost = self.store.outbox.requeue_missing(missing)
                report.requeued += len(requeued)
                report.lost += len(lost)
                report.errors += [
                    f"record {record_id}: the server no longer holds it, though it confirmed"
                    " it, and this device removed its copy after that receipt, so it cannot be"
                    " sent again: tell the office (the receipt kept here proves it was sent)"
                    for record_id in lost
                ]
            after = page[-1][0]
        self.store.settings.set(STATE_RECEIPTS_CHECKED, now.isoformat())

    # -- push -----------------------------------------------------------------------------
    def _batches(self, report: SyncReport) -> Iterator[_Batch]:
        """The outbox in batches of at most max_batch_bytes (a bigger record goes alone),
        read a page at a time (the outbox is never loaded whole), each marked queued and
        compressed before it is handed over to be sent."""
        overhead = len(_ENVELOPE_BATCH_HEAD) + len(b"]}")
        batch: list[_Outgoing] = []
        size = overhead
        after = ""
        while page := self.store.outbox.pending(after=after, limit=_OUTBOX_PAGE):
            for entry in page:
                item = _outgoing(entry, report)
                if item is None:
                    continue
                full = len(batch) >= MAX_BATCH_RECORDS
                if batch and (full or size + len(item.body) + 1 > self.max_batch_bytes):
                    yield from self._queued(batch)
                    batch, size = [], overhead
                batch.append(item)
                size += len(item.body) + 1  # and its comma
            after = page[-1].record_id
        if batch:
            yield from self._queued(batch)

    def _queued(self, items: list[_Outgoing]) -> Iterator[_Batch]:
        """Mark the records queued (durably) before they leave, dropping any edited since the
        outbox was read (their new revision goes in a later sync): see `Outbox.mark_queued`."""
        marked = self.store.outbox.mark_queued({item.record_id: item.revision for item in items})
        if leaving := [item for item in items if item.record_id in marked]:
            yield _Batch.of(leaving)

    def _push(self, token: str, report: SyncReport) -> None:
        """Three steps overlap, each at most one batch ahead of the next: preparing a batch,
        the server storing the one before, and writing back the outcomes of the one before
        that. Outcomes are only ever written from the server's answer (the checkpoint)."""
        total = self.pending()
        done = 0
        with (
            _Ahead(self._batches(report)) as batches,
            _Ahead(self._exchanges(token, batches, report)) as answered,
        ):
            for items, response in answered:
                done += self._write_outcomes(items, response, report)
                total = max(total, done)
                if self.on_progress is not None:
                    self.on_progress(done, total, self._http.bytes_sent)

    def _exchanges(
        self, token: str, batches: Iterable[_Batch], report: SyncReport
    ) -> Iterator[tuple[list[_Outgoing], httpx.Response]]:
        for batch in batches:
            if current := self._still_current(batch):
                yield from self._send(token, current, report)

    def _still_current(self, batch: _Batch) -> _Batch | None:
        """The batch without envelopes replaced since it was prepared (an edit, a consent
        withdrawal: a withdrawn record's sealed envelope must not leave), checked just
        before it is sent; None if nothing is left."""
        current = self.store.outbox.still_current(
            {item.record_id: item.revision for item in batch.items}
        )
        if len(current) == len(batch.items):
            return batch
        leaving = [item for item in batch.items if item.record_id in current]
        return _Batch.of(leaving) if leaving else None

    def _send(
        self, token: str, batch: _Batch, report: SyncReport
    ) -> Iterator[tuple[list[_Outgoing], httpx.Response]]:
        """Push one batch (halving it while the server finds it too large): its answers."""
        response = self._http.request(
            "POST",
            "/v1/records:push",
            token=token,
            content=batch.gzipped,
            gzipped=True,
            params=_BATCH_RECEIPTS,
        )
        items = batch.items
        if response.status_code == 413:
            if len(items) == 1:
                report.errors.append(
                    f"record {items[0].record_id} is too large for the server: it stays here"
                )
                return
            half = len(items) // 2
            yield from self._send(token, _Batch.of(items[:half]), report)
            yield from self._send(token, _Batch.of(items[half:]), report)
            return
        if response.status_code != 200:
            raise ServerRefused(_refusal(response))
        yield items, response

    def _write_outcomes(
        self, items: list[_Outgoing], response: httpx.Response, report: SyncReport
    ) -> int:
        """The checkpoint: a batch's outcomes in one durable commit, once the server has
        answered; a record turns `sent` only with a receipt that verifies. Records answered."""
        answer = _answer(response, PushResponse, "answer to a push")
        outcomes = {(str(o.id), o.revision): o for o in answer.outcomes}
        verified: set[tuple[bytes, bytes]] = set()
        updates = []
        for item in items:
            outcome = outcomes.get((item.record_id, item.revision))
            if outcome is not None:
                update = self._outcome(item, outcome, report, verified)
                if update is not None:
                    updates.append(update)
        self.store.outbox.record_outcomes(updates)
        return len(updates)

    def _outcome(
        self,
        item: _Outgoing,
        outcome: RecordOutcome,
        report: SyncReport,
        verified: set[tuple[bytes, bytes]],
    ) -> Outcome | None:
        """What to write back for one record; None (it stays queued) without a valid receipt."""
        if outcome.status == "rejected":
            problems = [error.model_dump() for error in outcome.errors]
            report.rejected += 1
            return Outcome(item.record_id, item.revision, "rejected", problems=problems)
        problem = self._receipt_problem(item, outcome.receipt, verified)
        if problem is not None:
            report.unconfirmed += 1
            report.errors.append(f"record {item.record_id} stays queued: {problem}")
            return None
        assert outcome.receipt is not None
        receipt = outcome.receipt.model_dump_json()
        taken = outcome.receipt.received_at  # the server's clock: purging goes by it
        if outcome.status == "conflict":
            report.conflict += 1
            return Outcome(
                item.record_id,
                item.revision,
                "conflict",
                problems=[_conflict_problem(outcome.current_revision)],
                receipt=receipt,
                server_revision=outcome.current_revision,
                received_at=taken,
            )
        if outcome.status == "accepted":
            report.accepted += 1
        else:
            report.duplicate += 1
        return Outcome(item.record_id, item.revision, "sent", receipt=receipt, received_at=taken)

    def _receipt_problem(
        self, item: _Outgoing, receipt: Receipt | None, verified: set[tuple[bytes, bytes]]
    ) -> str | None:
        """Why this receipt does not prove the server holds exactly this envelope, or None.

        A batch's receipts share one signature (over the root of their Merkle tree): it is
        verified once; each receipt's own entry and proof are checked every time.
        """
        if receipt is None:
            return "the server sent no receipt"
        if (str(receipt.record_id), receipt.revision) != (item.record_id, item.revision):
            return "the receipt names another record"
        if receipt.content_digest != item.content_digest:
            return "the receipt is for other content"
        if receipt.server_key_id != self._server_key_id:
            return "the receipt is signed by an unknown server key"
        signed = (receipt.signing_bytes(), receipt.signature)
        if signed not in verified:
            try:
                crypto.verify(self._server_key, receipt.signature, signed[0])
            except crypto.SignatureError:
                return "the receipt's signature is not the server's"
            verified.add(signed)
        return None

    # -- team roster ----------------------------------------------------------------------
    def _push_roster(self, token: str, report: SyncReport) -> None:
        """Share the participants waiting in the roster outbox with the team, in batches; an
        entry leaves the outbox once the server answered for it (a repeat is harmless).
        Devices whose role does not register people keep theirs (the server would refuse)."""
        if self.store.settings.get(STATE_ROLE) not in ROSTER_ROLES:
            return
        after = ""
        while page := self.store.roster.pending(after=after, limit=MAX_ROSTER_ENTRIES):
            batch: list[tuple[str, str, bytes | None]] = []
            size = 0
            for item in page:
                entry_size = 100 + 2 * len(item[2] or b"")  # base64 and JSON around it
                if batch and size + entry_size > self.max_batch_bytes:
                    self._send_roster(token, batch, report)
                    batch, size = [], 0
                batch.append(item)
                size += entry_size
            self._send_roster(token, batch, report)
            after = page[-1][0]

    def _send_roster(
        self, token: str, batch: list[tuple[str, str, bytes | None]], report: SyncReport
    ) -> None:
        body = RosterPush(
            entries=[RosterEntry(key=uuid.UUID(key), sealed=sealed) for key, _, sealed in batch]
        )
        response = self._http.request(
            "PUT",
            "/v1/team/roster",
            token=token,
            content=gzip.compress(body.model_dump_json().encode("utf-8"), _GZIP_LEVEL),
            gzipped=True,
        )
        answer = _answer(response, RosterPushResponse, "answer to a roster push")
        digests = {key: digest for key, digest, _ in batch}
        answered = {}
        for outcome in answer.outcomes:
            key = str(outcome.key)
            if key not in digests:
                continue
            answered[key] = digests[key]
            if outcome.status == "refused":
                report.errors.append(
                    f"participant entry {key} was refused by the server: it stays on this device"
                )
            elif outcome.status in ("stored", "unchanged"):
                report.team_entries += 1
        self.store.roster.pushed(answered)

    # -- pull -----------------------------------------------------------------------------
    def _pull(self, token: str, report: SyncReport) -> None:
        cursor = int(self.store.settings.get(STATE_CURSOR) or 0)
        while True:
            response = self._http.request(
                "GET",
                "/v1/changes",
                token=token,
                params={"cursor": cursor, "limit": self.pull_page_size},
            )
            page = _answer(response, ChangesPage, "page of changes")
            if page.next_cursor < cursor:
                raise ServerRefused("the server's change log went backwards: not applied")
            for change in page.changes:
                self._apply_change(change, report)
            report.pulled += len(page.changes)
            # Only now that the page is stored: a crash above re-pulls it (applying is idempotent).
            self.store.settings.set(STATE_CURSOR, str(page.next_cursor))
            if not page.has_more or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def _apply_change(self, change: Change, report: SyncReport) -> None:
        """Store one change the store can hold; anything else is counted as skipped.

        A change that cannot be applied is reported, never retried forever: a queue wedged
        on one bad item is worse than a message.
        """
        if isinstance(change, FormChange) and not change.deleted:
            try:
                spec = FormSpec.model_validate(change.data.spec)
                if self._known_form(spec):
                    return
                self.store.forms.add(spec, source="server")
            except (ValidationError, StoreError) as exc:
                report.errors.append(f"form {change.key} from the server was not added: {exc}")
                return
            report.forms_added += 1
        elif isinstance(change, RecordChange):
            if change.data.consent_withdrawn:
                self._note_withdrawal(change, report)
            elif change.data.conflict:
                self._note_conflict(change)
            elif change.data.resolved:
                self._note_resolution(change, report)
        elif isinstance(change, RevocationChange) and change.key == self.store.device_id:
            raise ServerRefused("this device was revoked by the organisation: enrol it again")
        elif isinstance(change, (EventChange, ReferenceChange, RosterChange)) and change.deleted:
            self.store.roster.delete_shared(change.kind, change.key)
        elif isinstance(change, (EventChange, ReferenceChange)):
            self.store.roster.put_shared(change.kind, change.key, change.data, change.seq)
        elif isinstance(change, RosterChange):
            data = change.data.model_dump(mode="json")
            self.store.roster.put_shared(change.kind, change.key, data, change.seq)
        else:
            report.skipped_changes += 1

    def _known_form(self, spec: FormSpec) -> bool:
        """The device holds this version already (the server may have reordered its JSON)."""
        try:
            return self.store.forms.get(spec.id, spec.version) == spec
        except StoreError:
            return False

    def _note_withdrawal(self, change: RecordChange, report: SyncReport) -> None:
        """Consent was withdrawn for a record (on another copy, or by the office): this
        device's copy loses its sensitive part too, whatever state it is in."""
        with contextlib.suppress(RecordNotFound):  # a record this device never held
            if self.store.consent.erase_withdrawn(change.key, change.data.head_revision):
                report.erased += 1

    def _note_conflict(self, change: RecordChange) -> None:
        """Mark this device's copy of a record `conflict` if it holds one of the versions the
        server keeps for review (the head, or a sibling pushed from a copy of this store)."""
        head = change.data.head_revision
        if change.data.revision == head and self.store.conflicts.settled(change.key, head):
            return  # the head is this device's settled version: the office has the rest
        for revision in [head, *change.data.siblings]:
            try:
                self.store.outbox.record_outcome(
                    change.key,
                    revision,
                    "conflict",
                    problems=[_conflict_problem(head)],
                    server_revision=head,
                )
            except RecordNotFound:
                return

    def _note_resolution(self, change: RecordChange, report: SyncReport) -> None:
        """The office settled the record's conflict: this device's copy leaves `conflict`."""
        head, set_aside = change.data.head_revision, change.data.superseded
        with contextlib.suppress(RecordNotFound):  # a record this device never held
            if self.store.conflicts.resolved(change.key, head, set_aside):
                report.resolved += 1


def _outgoing(entry: OutboxEntry, report: SyncReport) -> _Outgoing | None:
    """The outbox entry ready to send, or None (reported) if its envelope is damaged."""
    if entry.revision is None or entry.content_digest is None:
        report.errors.append(f"record {entry.record_id} is damaged on this device: it was not sent")
        return None
    return _Outgoing(entry.record_id, entry.revision, entry.content_digest, entry.envelope)


def _conflict_problem(server_revision: str | None) -> dict[str, Any]:
    return {
        "field": "",
        "path": "",
        "code": "conflict",
        "message": "this record was also edited elsewhere: the server keeps both versions "
        f"for review (server version {server_revision or 'unknown'})",
    }
