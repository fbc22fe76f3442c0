"""The push: the outbox leaves in batches compressed to suit the link (gzip; xz on a slow link
to a server that takes it; none on a fast one), each record turning `sent` only with a
receipt that verifies. Three stages overlap, each at most one batch ahead of the next:
preparing a batch, the server storing the one before (two at once unless the link is
slow), writing back the outcomes of the one before that, in order; outcomes are only ever
written from the server's answer (the checkpoint)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import itertools
import json
import lzma
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import httpx

from fieldapp.errors import StoreLocked
from fieldapp.store import OutboxEntry, Store
from sync.client._ahead import Ahead
from sync.client._attachments import note_sent
from sync.client._errors import ServerRefused
from sync.client._exchange import GZIP_LEVEL, Exchange, answer, refusal
from sync.client._outcomes import (
    Outgoing,
    ReceiptVerifier,
    epochs_tail,
    outcome_of,
    sealed_epoch_id,
)
from sync.client._report import ProgressCallback, SyncReport
from sync.protocol import (
    BATCH_SIGNATURES_HEADER,
    MAX_BATCH_RECORDS,
    PROTOCOL_VERSION,
    SEALING_EPOCHS_HEADER,
    SERVER_TIMING_HEADER,
    PushResponse,
    ingest_seconds,
    sign_record_batch,
)

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "FAST_LINK_BATCH_BYTES", "Push", "pending_records"]

DEFAULT_MAX_BATCH_BYTES = 256 * 1024
# A batch's JSON on a fast link, unless the client was given a size: fewer exchanges and
# commits per record (MAX_BATCH_RECORDS still bounds it; the server takes 8 MiB by default).
FAST_LINK_BATCH_BYTES = 1024 * 1024
# Below this upload rate (1 Mbit/s) xz (~1 MB/s of JSON in, ~0.3 MB/s out on one core) costs
# no time: a batch is compressed while the one before is still on the wire.
SLOW_LINK_BYTES_PER_S = 128 * 1024
# JSON is text: no 4-byte alignment to model (pb 0); -6e's memory (~100 MiB) suits a phone.
XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6 | lzma.PRESET_EXTREME, "pb": 0}]
_RATE_SAMPLE_BYTES = 32 * 1024
_OUTBOX_PAGE = 500
# Batches at the server at once unless the link is slow: the next one's request overlaps
# the server's work on the one before (see `Push._exchanges`).
_MAX_IN_FLIGHT = 2
# One batch in this many goes alone, its exchange measuring the link (two bodies at once
# would each look slower than the link is); only one alone measures it.
_MEASURED_EVERY = 4
_BATCH_RECEIPTS = {"receipts": "batch"}  # one signature per batch (older servers ignore it)
_ENVELOPE_BATCH_HEAD = b'{"protocol":%d,"records":[' % PROTOCOL_VERSION


def pending_records(store: Store) -> int:
    """Records waiting to be sent (finalised or in flight)."""
    return store.records.count(status="final") + store.records.count(status="queued")


Signer = Callable[[bytes], bytes]
Encoding = Literal["identity", "gzip", "xz"]


@dataclass(frozen=True, slots=True)
class _Batch:
    items: list[Outgoing]
    body: bytes
    encoding: Encoding

    @classmethod
    def of(
        cls,
        items: list[Outgoing],
        epochs: Mapping[str, bytes],
        *,
        encoding: Encoding,
        sign: Signer | None = None,
    ) -> _Batch:
        """The batch's body, with the headers of the sealing epochs its envelopes name:
        xz (a seventh smaller than gzip, ten times slower to make: for slow links), gzip, or
        as it is (`identity`: for fast links). Each
        envelope goes as the device signed it alone, or, with `sign`, the whole batch is
        signed once, each envelope carrying its inclusion proof."""
        bodies = [item.body for item in items]
        if sign is not None:
            with contextlib.suppress(StoreLocked):  # locked: the records go signed alone
                bodies = _batch_signed(items, sign)
        body = _ENVELOPE_BATCH_HEAD + b",".join(bodies) + epochs_tail(epochs)
        if encoding == "xz":
            body = lzma.compress(body, format=lzma.FORMAT_XZ, filters=XZ_FILTERS)
        elif encoding == "gzip":
            body = gzip.compress(body, GZIP_LEVEL)
        return cls(items, body, encoding)


def _batch_signed(items: list[Outgoing], sign: Signer) -> list[bytes]:
    """The envelopes with one signature over the Merkle root of their content digests (see
    sync.protocol.batch_signing) in place of each one's own, and each one's proof."""
    signature, proofs = sign_record_batch([item.content_digest for item in items], sign)
    signed = b'%s"%s","proof":{"index":' % (_SIGNATURE_KEY, base64.b64encode(signature))
    quoted = _Quoted()
    bodies = []
    for item, proof in zip(items, proofs, strict=True):
        path = b",".join(map(quoted.__getitem__, proof.path))
        bodies.append(
            b'%s%s%d,"size":%d,"path":[%s]}}'
            % (_without_signature(item.body), signed, proof.index, proof.size, path)
        )
    return bodies


class _Quoted(dict[bytes, bytes]):
    """Hashes as JSON strings of their base64, each encoded once (an inner node of a batch's
    tree is on the path of every leaf under its sibling)."""

    def __missing__(self, node: bytes) -> bytes:
        self[node] = b'"%s"' % base64.b64encode(node)
        return self[node]


_SIGNATURE_KEY = b'"signature":'
# What a batch's request says of its body, and of the answer it would take: on a fast link
# (an uncompressed body) the answer is asked for uncompressed too.
_ENCODING_HEADERS: dict[Encoding, dict[str, str]] = {
    "identity": {"Accept-Encoding": "identity"},
    "gzip": {"Content-Encoding": "gzip"},
    "xz": {"Content-Encoding": "xz"},
}


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
    called after every batch. Batches are of at most `max_batch_bytes` of JSON (None: sized
    to the link, see `_batch_limit`). Raises ServerRefused or ServerUnreachable when a batch cannot
    go (what was answered before stays written)."""

    def __init__(
        self,
        store: Store,
        exchange: Exchange,
        token: str,
        report: SyncReport,
        *,
        receipts: ReceiptVerifier,
        max_batch_bytes: int | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.store = store
        self.exchange = exchange
        self.token = token
        self.report = report
        self.receipts = receipts
        self.max_batch_bytes = max_batch_bytes
        self.on_progress = on_progress
        self._epochs_said = False
        # Whether the server said it takes xz bodies (see `_learn`).
        self._takes_xz = False
        # Epochs the server holds the header of: it stored an envelope naming it.
        self._delivered: set[str] = set()
        self._header_sizes: dict[str, int] = {}
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
        epochs: set[str] = set()  # the epochs whose header the batch carries
        after = ""
        while page := self.store.outbox.pending(after=after, limit=_OUTBOX_PAGE):
            for entry in page:
                item = self._outgoing(entry)
                if item is None:
                    continue
                cost = self._cost(item, epochs)
                full = len(batch) >= MAX_BATCH_RECORDS
                if batch and (full or size + cost > self._batch_limit()):
                    yield from self._queued(batch)
                    batch, size, epochs = [], overhead, set()
                    cost = self._cost(item, epochs)  # the first of a batch brings its epoch
                size += cost
                batch.append(item)
                if item.epoch is not None and item.epoch not in self._delivered:
                    epochs.add(item.epoch)
            after = page[-1].record_id
        if batch:
            yield from self._queued(batch)

    def _batch_limit(self) -> int:
        """The size of the next batch's JSON: as given, else DEFAULT_MAX_BATCH_BYTES, and
        FAST_LINK_BATCH_BYTES while the link is fast enough to send batches uncompressed."""
        if self.max_batch_bytes is not None:
            return self.max_batch_bytes
        if self.exchange.link_is_fast():
            return FAST_LINK_BATCH_BYTES
        return DEFAULT_MAX_BATCH_BYTES

    def _encoding(self) -> Encoding:
        """How the next batch is compressed, by the exchange's estimate of the link (its
        last large body either way, see `Exchange.link_is_fast`): gzip while it is unknown,
        xz below SLOW_LINK_BYTES_PER_S to a server that takes it, none on a fast link."""
        rate = self.exchange.traffic.link_rate
        if rate is None:
            return "gzip"
        if self._takes_xz and rate < SLOW_LINK_BYTES_PER_S:
            return "xz"
        return "identity" if self.exchange.link_is_fast() else "gzip"

    def _cost(self, item: Outgoing, epochs: set[str]) -> int:
        """What `item` adds to a batch's JSON that carries the headers of `epochs`: its body
        and comma, and its epoch's header (base64, quoted) if it is the first to name an
        epoch the server may not hold."""
        cost = len(item.body) + 1
        epoch = item.epoch
        if epoch is None or epoch in epochs or epoch in self._delivered:
            return cost
        if epoch not in self._header_sizes:
            header = self.store.outbox.epoch_headers([epoch]).get(epoch, b"")
            self._header_sizes[epoch] = 4 * -(-len(header) // 3) + len(b'],"epochs":["",')
        return cost + self._header_sizes[epoch]

    def _outgoing(self, entry: OutboxEntry) -> Outgoing | None:
        """The outbox entry ready to send, or None (reported) if its envelope is damaged."""
        if entry.revision is None or entry.content_digest is None:
            self.report.errors.append(
                f"record {entry.record_id} is damaged on this device: it was not sent"
            )
            return None
        return Outgoing(
            entry.record_id,
            entry.revision,
            entry.content_digest,
            entry.envelope,
            sealed_epoch_id(entry.envelope),
        )

    def _queued(self, items: list[Outgoing]) -> Iterator[_Batch]:
        """Mark the records queued (durably) before they leave, dropping any edited since the
        outbox was read (their new revision goes in a later sync): see `Outbox.mark_queued`."""
        marked = self.store.outbox.mark_queued({item.record_id: item.revision for item in items})
        if leaving := [item for item in items if item.record_id in marked]:
            yield self._batch(leaving)

    def _batch(self, items: list[Outgoing]) -> _Batch:
        """The batch, with the headers of its epochs the server does not hold yet, signed
        once when the server verifies batch signatures."""
        epochs = {item.epoch for item in items if item.epoch is not None} - self._delivered
        return _Batch.of(
            items,
            self.store.outbox.epoch_headers(epochs),
            encoding=self._encoding(),
            sign=self._signer(),
        )

    def _exchanges(
        self, batches: Iterable[_Batch]
    ) -> Iterator[tuple[list[Outgoing], httpx.Response]]:
        """The batches' answers, in the order the batches were made. Once the link is
        measured no slower than SLOW_LINK_BYTES_PER_S a batch leaves while the one before is
        still at the server (which would otherwise idle while the answer comes back and the
        next request goes out); on a slow one the wire is the bottleneck, and one batch at a
        time fills it (and measures it alone). A failed batch stops the push once the one
        beside it has come back (unwritten: its records stay queued and go again, the server
        answering with the receipts it gave)."""
        # Each sent batch's answers to come, and whether it goes alone (and measures).
        in_flight: deque[tuple[Future[list[tuple[list[Outgoing], httpx.Response]]], bool]]
        in_flight = deque()
        with ThreadPoolExecutor(_MAX_IN_FLIGHT, thread_name_prefix="sync-send") as senders:
            waiting = iter(batches)
            for count in itertools.count():
                alone = count % _MEASURED_EVERY == 0 or not self._link_takes_two()
                while in_flight and (alone or in_flight[-1][1] or len(in_flight) >= _MAX_IN_FLIGHT):
                    yield from in_flight.popleft()[0].result()  # before the next is taken
                if (batch := next(waiting, None)) is None:
                    break
                if current := self._still_current(batch):
                    in_flight.append((senders.submit(self._answers, current, alone), alone))
            while in_flight:
                yield from in_flight.popleft()[0].result()

    def _link_takes_two(self) -> bool:
        """Whether two batches may be at the server at once (see `_exchanges`): the link
        was measured no slower than SLOW_LINK_BYTES_PER_S."""
        rate = self.exchange.traffic.link_rate
        return rate is not None and rate >= SLOW_LINK_BYTES_PER_S

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
        return self._batch(leaving) if leaving else None

    def _answers(
        self, batch: _Batch, measures: bool
    ) -> list[tuple[list[Outgoing], httpx.Response]]:
        return list(self._send(batch, measures=measures))

    def _send(
        self, batch: _Batch, *, measures: bool = True
    ) -> Iterator[tuple[list[Outgoing], httpx.Response]]:
        """Push one batch (halving it while the server finds it too large): its answers.
        One that `measures` (sent alone, start to end) notes the link's rate."""
        started = time.monotonic()
        response = self.exchange.request(
            "POST",
            "/v1/records:push",
            token=self.token,
            content=batch.body,
            extra_headers=_ENCODING_HEADERS[batch.encoding],
            params=_BATCH_RECEIPTS,
        )
        elapsed = time.monotonic() - started
        items = batch.items
        if response.status_code == 413:
            if len(items) == 1:
                self.report.errors.append(
                    f"record {items[0].record_id} is too large for the server: it stays here"
                )
                return
            half = len(items) // 2
            yield from self._send(self._batch(items[:half]), measures=measures)
            yield from self._send(self._batch(items[half:]), measures=measures)
            return
        if response.status_code != 200:
            raise ServerRefused(refusal(response))
        if measures and len(batch.body) >= _RATE_SAMPLE_BYTES:  # a smaller: latency, not rate
            # The link's time: the exchange's, less the server's own work on the batch.
            on_the_link = elapsed - ingest_seconds(response.headers.get(SERVER_TIMING_HEADER))
            self.exchange.traffic.note_rate(len(batch.body) / max(on_the_link, 1e-6))
        self._learn(response)
        yield items, response

    def _learn(self, response: httpx.Response) -> None:
        """What a push answer says of the server: one that takes epoch envelopes gets the
        next records sealed in epochs; one that takes xz bodies (`Accept-Encoding`, RFC 7694)
        gets them on a slow link (see `_encoding`), where xz's time hides behind the sending
        of the batch before. One that verifies batch signatures gets the next batches signed
        once each."""
        if response.headers.get(BATCH_SIGNATURES_HEADER) == "batch":
            self.batch_signatures = True
        if response.headers.get(SEALING_EPOCHS_HEADER) == "epochs" and not self._epochs_said:
            self.store.outbox.set_seals_in_epochs(True)  # the next records seal in epochs
            self._epochs_said = True
        accepted = {e.strip() for e in response.headers.get("Accept-Encoding", "").split(",")}
        self._takes_xz = "xz" in accepted

    def _write_outcomes(self, items: list[Outgoing], response: httpx.Response) -> int:
        """The checkpoint: a batch's outcomes in one durable commit, once the server has
        answered; a record turns `sent` only with a receipt that verifies. Records answered."""
        pushed = answer(response, PushResponse, "answer to a push")
        outcomes = {(str(o.id), o.revision): o for o in pushed.outcomes}
        self.receipts.read_answer(o.receipt for o in pushed.outcomes if o.receipt is not None)
        updates = []
        for item in items:
            outcome = outcomes.get((item.record_id, item.revision))
            if outcome is not None:
                update = outcome_of(item, outcome, self.report, self.receipts)
                if update is not None:
                    updates.append(update)
                if outcome.receipt is not None and item.epoch is not None:
                    self._delivered.add(item.epoch)
        self.store.outbox.record_outcomes(updates)
        note_sent(
            self.store,
            [
                item.body
                for item in items
                if (found := outcomes.get((item.record_id, item.revision))) is not None
                and found.status != "rejected"
            ],
        )
        return len(updates)
