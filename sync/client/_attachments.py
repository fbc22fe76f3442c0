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
from sync.client._report import AttachmentProgressCallback, SyncReport
from sync.client._state import STATE_ATTACHMENT_UPLOADS
from sync.protocol import AttachmentsStored, RecordEnvelope
from sync.protocol.attachments import (
    MAX_ATTACHMENTS_PER_RECORD,
    MAX_CHUNKS_PER_ATTACHMENT,
    MissingChunks,
    MissingChunksRequest,
)

__all__ = ["IN_FLIGHT", "note_sent", "upload_attachments", "waiting_uploads"]

# Chunks asked about in one `attachments:missing` request (the server's limit).
MAX_ASKED = MAX_ATTACHMENTS_PER_RECORD * MAX_CHUNKS_PER_ATTACHMENT
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


def waiting_uploads(store: Store) -> dict[str, AttachmentsStored]:
    """The sent records whose attachments are not all on the server yet, with their
    progress as the last sync left it (what the app shows per record)."""
    return {
        record_id: AttachmentsStored(stored=entry["stored"], needed=len(set(entry["chunks"])))
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
    """Send the missing chunks of every waiting record, oldest record id first, in one
    stream (the link never idles between records); progress is kept after each round. Raises
    ServerUnreachable once the link keeps failing (what was stored stays stored)."""
    waiting = _waiting(store)
    if waiting:
        _Upload(store, exchange, token, report, on_progress, waiting).run()


class _Cut(Exception):
    """A chunk's PUT failed on the link (`error`), after others got through or not."""

    def __init__(self, error: ServerUnreachable, progressed: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.progressed = progressed


@dataclass
class _Upload:
    """The waiting records' chunks. Each chunk is PUT once, without the transport's retries:
    after a failure the server is asked again which chunks it lacks, so a chunk whose answer
    was cut (stored) is not sent again, and one cut on its way (not stored) is the only one
    that is. A record whose chunk the server no longer names (consent withdrawn) or this
    device no longer holds (erased) is dropped from the list."""

    store: Store
    exchange: Exchange
    token: str
    report: SyncReport
    on_progress: AttachmentProgressCallback | None
    waiting: dict[str, _Waiting]

    def run(self) -> None:
        failures = 0
        while self.waiting:
            queue = self._round()
            try:
                progressed = self._send(queue)
            except _Cut as cut:
                failures = 1 if cut.progressed else failures + 1
                if failures >= self.exchange.retry.attempts:
                    raise cut.error from None
            else:
                if not progressed or not self.waiting:
                    return
            finally:
                self._keep()

    def _round(self) -> list[tuple[str, str]]:
        """Ask the server what it lacks: mark the rest sent, tell each record's progress,
        drop the complete ones; the (record, chunk) pairs to send, in order."""
        asked = list(dict.fromkeys(d for e in self.waiting.values() for d in e["chunks"]))
        missing = set(self._missing(asked))
        self.store.attachments.mark_sent([d for d in asked if d not in missing])
        queue: list[tuple[str, str]] = []
        for record_id in sorted(self.waiting):
            chunks = list(dict.fromkeys(self.waiting[record_id]["chunks"]))
            lacking = [digest for digest in chunks if digest in missing]
            self._progress(record_id, len(chunks) - len(lacking))
            queue += [(record_id, digest) for digest in lacking]
        return queue

    def _send(self, queue: list[tuple[str, str]]) -> bool:
        """PUT the chunks, `IN_FLIGHT` at a time (one is on the wire while the answer to the
        other travels back); whether any went. Raises _Cut, once those in flight are
        settled, if one failed on the link."""
        pending = iter(queue)
        window: deque[tuple[str, str, Future[bool]]] = deque()
        failure: ServerUnreachable | None = None
        progressed = False
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="chunk-upload") as pool:

            def fill() -> None:
                while failure is None and len(window) < IN_FLIGHT:
                    record_id, digest = next(pending, ("", ""))
                    if not digest:
                        return
                    if record_id not in self.waiting:
                        continue  # gone meanwhile
                    try:
                        data = self.store.attachments.chunk(digest)
                    except StoreError:
                        self._gone(record_id)
                        continue
                    self.report.chunks_sent += 1
                    window.append((record_id, digest, pool.submit(self._put, digest, data)))

            fill()
            while window:
                record_id, digest, sent = window.popleft()
                try:
                    named = sent.result()
                except ServerUnreachable as exc:
                    failure = failure or exc
                    continue
                if not named:
                    self._gone(record_id)
                elif record_id in self.waiting:
                    self.store.attachments.mark_sent([digest])
                    self._progress(record_id, self.waiting[record_id]["stored"] + 1)
                    progressed = True
                fill()
        if failure is not None:
            raise _Cut(failure, progressed)
        return progressed

    def _missing(self, chunks: list[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(chunks), MAX_ASKED):
            asked = MissingChunksRequest(chunks=chunks[start : start + MAX_ASKED])
            response = self.exchange.send_json(
                "POST", "/v1/attachments:missing", asked, token=self.token
            )
            found += answer(response, MissingChunks, "answer about missing chunks").chunks
        return found

    def _put(self, digest: str, data: bytes) -> bool:
        """One PUT, on a worker thread: False if the server names no such chunk (any more);
        ServerUnreachable if it was cut, ServerRefused if refused."""
        response = self.exchange.request(
            "PUT",
            f"/v1/attachments/chunks/{digest}",
            token=self.token,
            content=data,
            content_type="application/octet-stream",
            once=True,
        )
        if response.status_code == 404:
            return False
        if response.status_code != 204:
            raise ServerRefused(refusal(response))
        return True

    def _progress(self, record_id: str, stored: int) -> None:
        """Note and tell how far a record got; a complete one leaves the list."""
        entry = self.waiting[record_id]
        entry["stored"] = stored
        progress = AttachmentsStored(stored=stored, needed=len(set(entry["chunks"])))
        self.report.attachments[record_id] = progress
        if progress.complete:
            del self.waiting[record_id]
        if self.on_progress is not None:
            self.on_progress(record_id, progress)

    def _gone(self, record_id: str) -> None:
        self.waiting.pop(record_id, None)
        self.report.attachments.pop(record_id, None)

    def _keep(self) -> None:
        _keep(self.store, self.waiting)
