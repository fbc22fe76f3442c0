"""The attachments' upload, after the records: the chunks of every sent record's manifest
that the server lacks, one PUT each, resumable at any byte.

Each chunk the server holds is marked sent in the store (a record is purged from the device
only once all its chunks are). A record whose envelope the server accepted (or already had)
and whose manifest names chunks is noted as waiting (`note_sent`, kept in the store's
settings with the chunks it names); each sync then asks the server which of them it lacks
(`POST /v1/attachments:missing`) and sends only those, so an upload cut by a dropped
connection resumes at the next missing chunk: at
most the chunk in flight goes twice (stored once). A record leaves the list once the server
holds all its chunks, or when its attachments are gone (erased here, or its consent withdrawn
on the server). Records never wait for their attachments: they went before, in the push.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypedDict

from fieldapp.errors import StoreError
from fieldapp.store import Store
from sync.client._errors import ServerRefused, ServerUnreachable
from sync.client._exchange import Exchange, answer, refusal
from sync.client._report import AttachmentProgress, AttachmentProgressCallback, SyncReport
from sync.client._state import STATE_ATTACHMENT_UPLOADS
from sync.protocol import RecordEnvelope
from sync.protocol.attachments import MissingChunks, MissingChunksRequest

__all__ = ["IN_FLIGHT", "note_sent", "upload_attachments", "waiting_uploads"]

# Chunk PUTs in flight at once, each on its own connection: two keep a slow link busy while
# an answer travels back (one would leave it idle a round trip per chunk).
IN_FLIGHT = 2


class _Waiting(TypedDict):
    """A sent record's chunks, and how many the server held at the last sync."""

    chunks: list[str]
    stored: int


def _waiting(store: Store) -> dict[str, _Waiting]:
    text = store.settings.get(STATE_ATTACHMENT_UPLOADS)
    return json.loads(text) if text else {}


def _keep(store: Store, waiting: dict[str, _Waiting]) -> None:
    store.settings.set(STATE_ATTACHMENT_UPLOADS, json.dumps(waiting, sort_keys=True))


def waiting_uploads(store: Store) -> dict[str, AttachmentProgress]:
    """The sent records whose attachments are not all on the server yet, with their
    progress as the last sync left it (what the app shows per record)."""
    return {
        record_id: AttachmentProgress(entry["stored"], len(set(entry["chunks"])))
        for record_id, entry in _waiting(store).items()
    }


def note_sent(store: Store, envelopes: Iterable[bytes]) -> None:
    """Note the records among these signed envelopes (as sent, JSON) that name chunks."""
    waiting = _waiting(store)
    changed = False
    for body in envelopes:
        if b'"attachments"' not in body:
            continue
        envelope = RecordEnvelope.model_validate_json(body)
        chunks = [digest for ref in envelope.attachments for digest in ref.chunks]
        if chunks:
            waiting[str(envelope.id)] = {"chunks": chunks, "stored": 0}
            changed = True
    if changed:
        _keep(store, waiting)


def upload_attachments(
    store: Store,
    exchange: Exchange,
    token: str,
    report: SyncReport,
    on_progress: AttachmentProgressCallback | None = None,
) -> None:
    """Send the missing chunks of every waiting record, record by record; progress is kept
    after each record. Raises ServerUnreachable once the link keeps failing (what was
    stored stays stored)."""
    for record_id, entry in sorted(_waiting(store).items()):
        chunks = entry["chunks"]
        done = _Upload(store, exchange, token, report, record_id, on_progress).run(chunks)
        waiting = _waiting(store)
        if done is None or done.complete:
            waiting.pop(record_id, None)
        elif record_id in waiting:
            waiting[record_id]["stored"] = done.stored
        _keep(store, waiting)
        if done is not None:
            report.attachments[record_id] = done


class _Gone(Exception):
    """The record's attachments are gone: erased here, or no longer named on the server."""


class _Cut(Exception):
    """A chunk's PUT failed on the link (`error`), after others got through or not."""

    def __init__(self, error: ServerUnreachable, progressed: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.progressed = progressed


@dataclass
class _Upload:
    """One record's chunks. Each chunk is PUT once, without the transport's retries: after a
    failure the server is asked again which chunks it lacks, so a chunk whose answer was cut
    (stored) is not sent again, and one cut on its way (not stored) is the only one that is.
    A _Gone raised by a worker (the server no longer names the chunk) ends the record."""

    store: Store
    exchange: Exchange
    token: str
    report: SyncReport
    record_id: str
    on_progress: AttachmentProgressCallback | None

    def run(self, chunks: list[str]) -> AttachmentProgress | None:
        """The progress reached, or None if the record's attachments are gone."""
        failures = 0
        while True:
            missing = self._missing(chunks)
            self.store.attachments.mark_sent(set(chunks) - set(missing))
            progress = AttachmentProgress(len(set(chunks)) - len(missing), len(set(chunks)))
            self._tell(progress)
            try:
                return self._send(missing, progress)
            except _Gone:
                return None
            except _Cut as cut:
                failures = 1 if cut.progressed else failures + 1
                if failures >= self.exchange.retry.attempts:
                    raise cut.error from None

    def _send(self, missing: list[str], progress: AttachmentProgress) -> AttachmentProgress:
        """PUT the chunks, `IN_FLIGHT` at a time (one is on the wire while the answer to the
        other travels back); raises _Cut once those in flight are settled if one failed."""
        digests = iter(missing)
        window: deque[tuple[str, Future[None]]] = deque()
        failure: ServerUnreachable | None = None
        progressed = False
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="chunk-upload") as pool:

            def fill() -> None:
                while failure is None and len(window) < IN_FLIGHT:
                    digest = next(digests, None)
                    if digest is None:
                        return
                    data = self._chunk(digest)
                    self.report.chunks_sent += 1
                    window.append((digest, pool.submit(self._put, digest, data)))

            fill()
            while window:
                digest, sent = window.popleft()
                try:
                    sent.result()
                except ServerUnreachable as exc:
                    failure = failure or exc
                    continue
                self.store.attachments.mark_sent([digest])
                progress = AttachmentProgress(progress.stored + 1, progress.needed)
                progressed = True
                self._tell(progress)
                fill()
        if failure is not None:
            raise _Cut(failure, progressed)
        return progress

    def _missing(self, chunks: list[str]) -> list[str]:
        asked = MissingChunksRequest(chunks=chunks)
        response = self.exchange.send_json(
            "POST", "/v1/attachments:missing", asked, token=self.token
        )
        return answer(response, MissingChunks, "answer about missing chunks").chunks

    def _chunk(self, digest: str) -> bytes:
        try:
            return self.store.attachments.chunk(digest)
        except StoreError:
            raise _Gone from None

    def _put(self, digest: str, data: bytes) -> None:
        """One PUT, on a worker thread; ServerUnreachable if it was cut."""
        response = self.exchange.request(
            "PUT",
            f"/v1/attachments/chunks/{digest}",
            token=self.token,
            content=data,
            content_type="application/octet-stream",
            once=True,
        )
        if response.status_code == 404:
            raise _Gone
        if response.status_code != 204:
            raise ServerRefused(refusal(response))

    def _tell(self, progress: AttachmentProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(self.record_id, progress)
