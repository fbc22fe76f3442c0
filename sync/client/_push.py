"""The push: the outbox leaves in gzipped batches, each record turning `sent` only with a
receipt that verifies. Three stages overlap, each at most one batch ahead of the next:
preparing a batch, the server storing the one before, writing back the outcomes of the one
before that; outcomes are only ever written from the server's answer (the checkpoint)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpx

from fieldapp.errors import StoreLocked
from fieldapp.store import OutboxEntry, Store
from sync.client._ahead import Ahead
from sync.client._errors import ServerRefused
from sync.client._exchange import GZIP_LEVEL, Exchange, answer, refusal
from sync.client._outcomes import Outgoing, ReceiptVerifier, outcome_of
from sync.client._report import ProgressCallback, SyncReport
from sync.protocol import (
    BATCH_SIGNATURES_HEADER,
    MAX_BATCH_RECORDS,
    PROTOCOL_VERSION,
    PushResponse,
    sign_record_batch,
)

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "Push", "pending_records"]

DEFAULT_MAX_BATCH_BYTES = 256 * 1024
_OUTBOX_PAGE = 500
_BATCH_RECEIPTS = {"receipts": "batch"}  # one signature per batch (older servers ignore it)
_ENVELOPE_BATCH_HEAD = b'{"protocol":%d,"records":[' % PROTOCOL_VERSION


def pending_records(store: Store) -> int:
    """Records waiting to be sent (finalised or in flight)."""
    return store.records.count(status="final") + store.records.count(status="queued")


Signer = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class _Batch:
    items: list[Outgoing]
    gzipped: bytes

    @classmethod
    def of(cls, items: list[Outgoing], sign: Signer | None = None) -> _Batch:
        """The batch as sent: each envelope as the device signed it alone, or, with `sign`,
        the whole batch signed once, each envelope carrying its inclusion proof."""
        bodies = [item.body for item in items]
        if sign is not None:
            with contextlib.suppress(StoreLocked):  # locked: the records go signed alone
                bodies = _batch_signed(items, sign)
        body = _ENVELOPE_BATCH_HEAD + b",".join(bodies) + b"]}"
        return cls(items, gzip.compress(body, GZIP_LEVEL))


def _batch_signed(items: list[Outgoing], sign: Signer) -> list[bytes]:
    """The envelopes with one signature over the Merkle root of their content digests (see
    sync.protocol.batch_signing) in place of each one's own, and each one's proof."""
    signature, proofs = sign_record_batch([item.content_digest for item in items], sign)
    signature_text = base64.b64encode(signature).decode("ascii")
    bodies = []
    for item, proof in zip(items, proofs, strict=True):
        path = ",".join(f'"{base64.b64encode(node).decode("ascii")}"' for node in proof.path)
        tail = (
            f'{_SIGNATURE_KEY.decode()}"{signature_text}",'
            f'"proof":{{"index":{proof.index},"size":{proof.size},"path":[{path}]}}}}'
        ).encode("ascii")
        bodies.append(_without_signature(item.body) + tail)
    return bodies


_SIGNATURE_KEY = b'"signature":'


def _without_signature(body: bytes) -> bytes:
    """The envelope's JSON up to its own signature, its last member as the store writes it
    (`RecordEnvelope.model_dump_json()`); re-encoded when it is written otherwise."""
    start = body.rfind(b"," + _SIGNATURE_KEY)
    if start > 0 and body.endswith(b'"}') and body.count(b'"', start) == 4:
        return body[: start + 1]
    envelope = json.loads(body)
    envelope.pop("signature", None)
    text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return text[:-1].encode() + (b"," if envelope else b"")


class Push:
    """One push of the store's outbox with `token`, counted in `report`; `on_progress` is
    called after every batch. Raises ServerRefused or ServerUnreachable when a batch cannot
    go (what was answered before stays written)."""

    def __init__(
        self,
        store: Store,
        exchange: Exchange,
        token: str,
        report: SyncReport,
        *,
        receipts: ReceiptVerifier,
        max_batch_bytes: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.store = store
        self.exchange = exchange
        self.token = token
        self.report = report
        self.receipts = receipts
        self.max_batch_bytes = max_batch_bytes
        self.on_progress = on_progress
        # Whether the server said it verifies batch signatures (its push answer's header):
        # until then each record goes signed alone, as older servers need.
        self.batch_signatures = False

    def _signer(self) -> Signer | None:
        return self.store.keyring.sign_unattended if self.batch_signatures else None

    def run(self) -> None:
        total = pending_records(self.store)
        done = 0
        with (
            Ahead(self._batches()) as batches,
            Ahead(self._exchanges(batches)) as answered,
        ):
            for items, response in answered:
                done += self._write_outcomes(items, response)
                total = max(total, done)
                if self.on_progress is not None:
                    self.on_progress(done, total, self.exchange.traffic.bytes_sent)

    def _batches(self) -> Iterator[_Batch]:
        """The outbox in batches of at most max_batch_bytes (a bigger record goes alone),
        read a page at a time (the outbox is never loaded whole), each marked queued and
        compressed before it is handed over to be sent."""
        overhead = len(_ENVELOPE_BATCH_HEAD) + len(b"]}")
        batch: list[Outgoing] = []
        size = overhead
        after = ""
        while page := self.store.outbox.pending(after=after, limit=_OUTBOX_PAGE):
            for entry in page:
                item = self._outgoing(entry)
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

    def _outgoing(self, entry: OutboxEntry) -> Outgoing | None:
        """The outbox entry ready to send, or None (reported) if its envelope is damaged."""
        if entry.revision is None or entry.content_digest is None:
            self.report.errors.append(
                f"record {entry.record_id} is damaged on this device: it was not sent"
            )
            return None
        return Outgoing(entry.record_id, entry.revision, entry.content_digest, entry.envelope)

    def _queued(self, items: list[Outgoing]) -> Iterator[_Batch]:
        """Mark the records queued (durably) before they leave, dropping any edited since the
        outbox was read (their new revision goes in a later sync): see `Outbox.mark_queued`."""
        marked = self.store.outbox.mark_queued({item.record_id: item.revision for item in items})
        if leaving := [item for item in items if item.record_id in marked]:
            yield _Batch.of(leaving, self._signer())

    def _exchanges(
        self, batches: Iterable[_Batch]
    ) -> Iterator[tuple[list[Outgoing], httpx.Response]]:
        for batch in batches:
            if current := self._still_current(batch):
                yield from self._send(current)

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
        return _Batch.of(leaving, self._signer()) if leaving else None

    def _send(self, batch: _Batch) -> Iterator[tuple[list[Outgoing], httpx.Response]]:
        """Push one batch (halving it while the server finds it too large): its answers."""
        response = self.exchange.request(
            "POST",
            "/v1/records:push",
            token=self.token,
            content=batch.gzipped,
            gzipped=True,
            params=_BATCH_RECEIPTS,
        )
        items = batch.items
        if response.status_code == 413:
            if len(items) == 1:
                self.report.errors.append(
                    f"record {items[0].record_id} is too large for the server: it stays here"
                )
                return
            half = len(items) // 2
            yield from self._send(_Batch.of(items[:half], self._signer()))
            yield from self._send(_Batch.of(items[half:], self._signer()))
            return
        if response.status_code != 200:
            raise ServerRefused(refusal(response))
        if response.headers.get(BATCH_SIGNATURES_HEADER) == "batch":
            self.batch_signatures = True
        yield items, response

    def _write_outcomes(self, items: list[Outgoing], response: httpx.Response) -> int:
        """The checkpoint: a batch's outcomes in one durable commit, once the server has
        answered; a record turns `sent` only with a receipt that verifies. Records answered."""
        pushed = answer(response, PushResponse, "answer to a push")
        outcomes = {(str(o.id), o.revision): o for o in pushed.outcomes}
        updates = []
        for item in items:
            outcome = outcomes.get((item.record_id, item.revision))
            if outcome is not None:
                update = outcome_of(item, outcome, self.report, self.receipts)
                if update is not None:
                    updates.append(update)
        self.store.outbox.record_outcomes(updates)
        return len(updates)
