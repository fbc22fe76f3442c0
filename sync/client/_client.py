"""The offline-first sync client: push the store's outbox, pull the server's changes.

An interruption at any byte costs nothing but a retry: a record is marked `queued` before it
leaves, and only a receipt signed by the server's key (obtained at enrolment) turns it `sent`;
a push whose answer never arrives is simply pushed again, and the server answers `duplicate`
for it, forever. Outcomes are written to the store batch by batch, and the pull cursor moves
only once a page of changes is stored, so a sync killed at any point resumes where it stopped.
"""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from fieldapp.errors import StoreLocked
from fieldapp.store import Store
from sync.client._attachments import upload_attachments, waiting_uploads
from sync.client._backoff import RetryPolicy
from sync.client._errors import NotEnrolled, ServerRefused, SyncError
from sync.client._exchange import ExchangeOwner, answer
from sync.client._form_files import fetch_form_files
from sync.client._outcomes import ReceiptVerifier
from sync.client._pull import DEFAULT_PULL_PAGE, pull
from sync.client._push import DEFAULT_MAX_BATCH_BYTES, Push, pending_records
from sync.client._receipt_check import RECEIPT_CHECK_INTERVAL, check_receipts
from sync.client._referrals import refresh_sent_referrals
from sync.client._report import (
    AttachmentProgressCallback,
    ProgressCallback,
    SyncReport,
)
from sync.client._roster import push_roster
from sync.client._state import (
    SECRET_TOKEN,
    STATE_LAST_SYNC,
    STATE_SERVER_KEY_ID,
    STATE_SERVER_PUBLIC_KEY,
    STATE_SERVER_URL,
)
from sync.protocol import AttachmentsStored, Health, RecordEnvelope, RecordView

__all__ = ["RecordVersions", "SyncClient"]


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


class SyncClient(ExchangeOwner):
    """Pushes the store's outbox and pulls the server's changes; one sync at a time.

    `base_url` defaults to the server the store enrolled with. `transport` moves the bytes
    (by default httpx's, through the environment's proxy for the server, if any; in tests
    `httpx.MockTransport` or an app's transport): retries (`retry`, `sleep`, `rng`) and byte
    counting are stacked on it, and a transport passed in is left open on `close()`. Read
    the token while the store is unlocked (construction does it when it can): it is kept in
    memory, so syncing goes on after the app locks itself. Raises NotEnrolled if the store
    has not enrolled, InsecureServerURL for a server address that is neither https nor
    loopback, ValueError if `max_batch_bytes` is under 1 KiB. Without `max_batch_bytes`, a
    push's batches are of DEFAULT_MAX_BATCH_BYTES, growing to FAST_LINK_BATCH_BYTES once the
    link is measured fast (fewer commits and exchanges per record); with it, none is larger.
    """

    def __init__(
        self,
        store: Store,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        on_progress: ProgressCallback | None = None,
        on_attachments: AttachmentProgressCallback | None = None,
        max_batch_bytes: int | None = None,
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
        if max_batch_bytes is not None and max_batch_bytes < 1024:
            raise ValueError("max_batch_bytes must be at least 1 KiB")
        self.store = store
        self.on_progress = on_progress
        self.on_attachments = on_attachments
        self.max_batch_bytes = max_batch_bytes
        self.pull_page_size = pull_page_size
        self.receipt_check_interval = receipt_check_interval
        self._clock = clock or store.settings.wall_clock
        self._open_exchange(
            url,
            transport=transport,
            retry=retry,
            sleep=sleep,
            rng=rng,
            timeout=timeout,
            clock=self._clock,
        )
        self._server_key = base64.b64decode(key)
        self._server_key_id = key_id
        self._batch_signatures = False  # the server said it verifies batch signatures
        self._token: str | None = None
        self._lock = threading.Lock()
        if not store.keyring.locked:
            self._read_token()

    def probe(self, timeout: float = 3.0) -> bool:
        """True if the server answers its health check within `timeout` seconds."""
        return self.health(timeout) is not None

    def health(self, timeout: float = 3.0) -> Health | None:
        """The server's health check within `timeout` seconds (None: not reachable); see
        `Health`: `degraded` means it is up but cannot store records now."""
        return self._exchange.health(timeout)

    @property
    def clock_offset(self) -> timedelta | None:
        """The server's clock minus this device's, as the last sync measured it (None before
        any): beyond CLOCK_SKEW_WARNING either way, tell the person to set the clock."""
        return self.store.settings.clock_offset()

    def pending(self) -> int:
        """Records waiting to be sent (finalised or in flight)."""
        return pending_records(self.store)

    def attachments_waiting(self) -> dict[str, AttachmentsStored]:
        """Sent records whose attachments' chunks are not all on the server, with how far
        their upload got (the app shows it per record)."""
        return waiting_uploads(self.store)

    def sync(self) -> SyncReport:
        """Check receipts when due, push everything waiting, share the roster, then pull
        every change and the status of the referrals sent awaiting one; never raises for
        network trouble (the report's `errors` say it).

        Two calls at once run one after the other.
        """
        with self._lock:
            report = SyncReport(started_at=self._clock())
            exchange, traffic = self._exchange, self._exchange.traffic
            counters = (traffic.bytes_sent, traffic.bytes_received, traffic.requests)
            exchange.clock_offset = None  # measured afresh by this sync's answers
            try:
                token = self._read_token()
                check_receipts(self.store, exchange, token, report, self.receipt_check_interval)
                push = Push(
                    self.store,
                    exchange,
                    token,
                    report,
                    receipts=ReceiptVerifier(self._server_key, self._server_key_id),
                    max_batch_bytes=self.max_batch_bytes,
                    on_progress=self.on_progress,
                )
                push.batch_signatures = self._batch_signatures
                try:
                    push.run()
                finally:
                    self._batch_signatures = push.batch_signatures
                push_roster(
                    self.store,
                    exchange,
                    token,
                    report,
                    self.max_batch_bytes or DEFAULT_MAX_BATCH_BYTES,
                )
                pull(self.store, exchange, token, report, self.pull_page_size)
                fetch_form_files(self.store, exchange, token, report)
                refresh_sent_referrals(self.store, exchange, token)
                # Last: records never wait for their attachments' chunks.
                upload_attachments(self.store, exchange, token, report, self.on_attachments)
            except SyncError as exc:
                report.errors.append(str(exc))
            finally:
                if exchange.clock_offset is not None:
                    report.clock_offset = exchange.clock_offset
                    self.store.settings.set_clock_offset(exchange.clock_offset)
                report.bytes_sent = traffic.bytes_sent - counters[0]
                report.bytes_received = traffic.bytes_received - counters[1]
                report.requests = traffic.requests - counters[2]
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
        response = self._exchange.request("GET", f"/v1/records/{asked}", token=self._read_token())
        view = answer(response, RecordView, "view of the record")
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
