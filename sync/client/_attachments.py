"""The attachments' upload, after the records: the chunks of every sent record's manifest
that the server lacks, one PUT each, resumable at any byte.

A record whose envelope the server accepted (or already had) and whose manifest names chunks
is noted as waiting (`note_sent`, kept in the store's settings with the chunks it names); each
sync then asks the server which of them it lacks (`POST /v1/attachments:missing`) and sends
only those, so an upload cut by a dropped connection resumes at the next missing chunk: at
most the chunk in flight goes twice (stored once). A record leaves the list once the server
holds all its chunks, or when its attachments are gone (erased here, or its consent withdrawn
on the server). Records never wait for their attachments: they went before, in the push.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from fieldapp.errors import StoreError
from fieldapp.store import Store
from sync.client._errors import ServerRefused
from sync.client._exchange import Exchange, answer, refusal
from sync.client._report import AttachmentProgress, AttachmentProgressCallback, SyncReport
from sync.client._state import STATE_ATTACHMENT_UPLOADS
from sync.protocol import RecordEnvelope
from sync.protocol.attachments import MissingChunks, MissingChunksRequest

__all__ = ["note_sent", "upload_attachments", "waiting_uploads"]


def _waiting(store: Store) -> dict[str, dict[str, object]]:
    text = store.settings.get(STATE_ATTACHMENT_UPLOADS)
    return json.loads(text) if text else {}


def _keep(store: Store, waiting: dict[str, dict[str, object]]) -> None:
    store.settings.set(STATE_ATTACHMENT_UPLOADS, json.dumps(waiting, sort_keys=True))


def waiting_uploads(store: Store) -> dict[str, AttachmentProgress]:
    """The sent records whose attachments are not all on the server yet, with their
    progress as the last sync left it (what the app shows per record)."""
    return {
        record_id: AttachmentProgress(int(entry["stored"]), len(entry["chunks"]))  # type: ignore[arg-type]
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
    after each record. Raises ServerUnreachable (what was stored stays stored)."""
    for record_id, entry in sorted(_waiting(store).items()):
        chunks: list[str] = list(entry["chunks"])  # type: ignore[call-overload]
        asked = MissingChunksRequest(chunks=chunks)
        missing = answer(
            exchange.send_json("POST", "/v1/attachments:missing", asked, token=token),
            MissingChunks,
            "answer about missing chunks",
        ).chunks
        progress = AttachmentProgress(len(set(chunks)) - len(missing), len(set(chunks)))
        done = _send(store, exchange, token, report, record_id, missing, progress, on_progress)
        waiting = _waiting(store)
        if done is None or done.complete:
            waiting.pop(record_id, None)
        elif record_id in waiting:
            waiting[record_id]["stored"] = done.stored
        _keep(store, waiting)
        if done is not None:
            report.attachments[record_id] = done


def _send(
    store: Store,
    exchange: Exchange,
    token: str,
    report: SyncReport,
    record_id: str,
    missing: list[str],
    progress: AttachmentProgress,
    on_progress: AttachmentProgressCallback | None,
) -> AttachmentProgress | None:
    """PUT each missing chunk; the progress reached, or None if the record's attachments
    are gone (erased here, or no longer named on the server: consent withdrawn)."""
    if on_progress is not None:
        on_progress(record_id, progress)
    for digest in missing:
        try:
            data = store.attachments.chunk(digest)
        except StoreError:
            return None
        response = exchange.request(
            "PUT",
            f"/v1/attachments/chunks/{digest}",
            token=token,
            content=data,
            content_type="application/octet-stream",
        )
        if response.status_code == 404:
            return None
        if response.status_code != 204:
            raise ServerRefused(refusal(response))
        report.chunks_sent += 1
        progress = AttachmentProgress(progress.stored + 1, progress.needed)
        if on_progress is not None:
            on_progress(record_id, progress)
    return progress
