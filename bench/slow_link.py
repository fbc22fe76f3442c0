"""A bad rural link: records through a throttled, lossy loopback proxy, exactly once.

    .venv/bin/python bench/slow_link.py [--records 4000] [--kbit 256] [--latency-ms 300]
        [--drop 0.05] [--attachments N]

The proxy between the device and a real server process (SQLite) carries at most `--kbit`
kbit/s in each direction (one link shared by all connections, paced per 4 KB chunk, queueing
at most a second of traffic as a modem's buffer would before the senders must wait), delays
every byte by `--latency-ms` each way, and drops `--drop` of the exchanges: when a request
starts, it may be doomed to have its connection cut at a random byte of the request or of
the answer. The device syncs again whenever a sync ends in trouble, as the connectivity
monitor would, until its outbox is empty. Then the server's records are checked set-wise:
every record exactly once.

With `--attachments N`, N records with a 1 MiB photo each instead: their chunks' upload
throughput as a share of the link's bandwidth (target at least 0.9) and how many chunks went
twice per cut exchange (target at most one: a resumed upload sends only what is missing).

Default 4,000 records, not 10,000: at 256 kbit/s a sealed, signed record costs ~0.5 KB
upstream and ~0.3 KB down (sealing epochs, xz push bodies, gzipped answers; ~1.9 KB and
~1.3 KB before them), so 10,000 need minutes of pure transfer (see the printed ideal).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import (
    PASSPHRASE,
    SCREENING,
    Deployment,
    ServerProcess,
    fill_store,
    json_size,
    machine,
    print_table,
    sample_records,
)
from fieldapp import crypto
from fieldapp.office.sample_data import sample_screening
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.protocol import AttachmentsStored
from sync.server.settings import ServerSettings

CHUNK = 4096
BUFFER_SECONDS = 1.0  # the most the link queues, in seconds of its bandwidth
_CHUNK_PUT = b"PUT /v1/attachments/chunks/"
ATTACHMENT_BYTES = 1024 * 1024  # one incompressible "photo" per record, 4 chunks


class _Direction:
    """One direction of the link: a shared pacer (bandwidth) and a byte counter."""

    def __init__(self, bits_per_second: float, latency: float) -> None:
        self.rate, self.latency = bits_per_second / 8, latency
        self.free_at = 0.0
        self.bytes = 0
        self.lock = threading.Lock()

    def wait_for_room(self) -> None:
        """Hold the sender while the link's queue holds more than BUFFER_SECONDS of bytes (a
        modem's buffer is finite: TCP's backpressure then slows the sender), so connections
        sharing the link interleave as on a real one instead of queueing whole bodies."""
        while (backlog := self.free_at - time.monotonic()) > BUFFER_SECONDS:
            time.sleep(backlog - BUFFER_SECONDS)

    def schedule(self, size: int) -> float:
        """When a chunk that arrives now is delivered at the far end."""
        with self.lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + size / self.rate
            self.bytes += size
            return self.free_at + self.latency


@dataclass
class _Exchange:
    """Where a connection is: is the server answering; the current request's fate."""

    answering: bool = True
    fate: str = "pass"
    budget: int = 0


class SlowLinkProxy:
    """127.0.0.1:port -> upstream port, throttled, delayed, dropping a share of exchanges."""

    def __init__(
        self, upstream: int, kbit: float, latency: float, drop: float, rng: random.Random
    ) -> None:
        self.upstream, self.drop, self.rng = upstream, drop, rng
        self.up = _Direction(kbit * 1000, latency)
        self.down = _Direction(kbit * 1000, latency)
        self.drops = 0
        self.exchanges = 0
        self.chunk_puts: Counter[bytes] = Counter()  # attempts per chunk digest
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def of(cls, upstream: int, options: argparse.Namespace) -> SlowLinkProxy:
        """The link the command line describes, to the server on `upstream`."""
        rng = random.Random(options.seed)
        return cls(upstream, options.kbit, options.latency_ms / 1000, options.drop, rng)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _fate(self) -> tuple[str, int]:
        """Per exchange: pass, or cut after a random number of request or answer bytes."""
        with self._lock:
            self.exchanges += 1
            if self.rng.random() >= self.drop:
                return "pass", 0
            self.drops += 1
            if self.rng.random() < 0.5:
                return "request", self.rng.randrange(0, 200_000)
            return "answer", self.rng.randrange(0, 20_000)

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=120)
        except OSError:
            client.close()
            return
        state = _Exchange()
        closed = threading.Event()

        def cut() -> None:
            closed.set()
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

        def pump(source: socket.socket, sink: socket.socket, link: _Direction, up: bool) -> None:
            line: queue.Queue[tuple[float, bytes] | None] = queue.Queue()

            def deliver() -> None:
                while (item := line.get()) is not None:
                    due, data = item
                    time.sleep(max(0.0, due - time.monotonic()))
                    if closed.is_set():
                        return
                    with contextlib.suppress(OSError):
                        sink.sendall(data)
                cut()

            threading.Thread(target=deliver, daemon=True).start()
            with contextlib.suppress(OSError):
                while not closed.is_set() and (data := source.recv(CHUNK)):
                    link.wait_for_room()
                    if up and state.answering:  # the first bytes of a new request
                        state.answering = False
                        state.fate, state.budget = self._fate()
                        if data.startswith(_CHUNK_PUT):
                            with self._lock:
                                self.chunk_puts[data[len(_CHUNK_PUT) :][:64]] += 1
                    if not up:
                        state.answering = True
                        if state.fate == "request":  # the request got through whole:
                            state.fate, state.budget = "answer", 0  # cut before the answer
                    doomed = state.fate == ("request" if up else "answer")
                    if doomed and state.budget < len(data):
                        line.put((link.schedule(state.budget), data[: state.budget]))
                        line.put(None)
                        return
                    if doomed:
                        state.budget -= len(data)
                    line.put((link.schedule(len(data)), data))
            line.put(None)

        threading.Thread(target=pump, args=(client, upstream, self.up, True), daemon=True).start()
        pump(upstream, client, self.down, False)


@dataclass
class _UploadClock:
    """When the attachments' upload started and ended, and the proxy's drops by then."""

    proxy: SlowLinkProxy
    started: float = 0.0
    ended: float = 0.0
    drops_before: int = 0

    def __call__(self, record_id: str, progress: AttachmentsStored) -> None:
        now = time.perf_counter()
        if not self.started:
            self.started, self.drops_before = now, self.proxy.drops
        if progress.complete:
            self.ended = now


def record_with_photo(store: Store, data: bytes) -> None:
    """A finalised victim screening with `data` as its identity document photo (encrypted in
    chunks). Kept as given, not re-encoded: random bytes stand for an already re-encoded JPEG,
    which compresses no further, so every byte crosses the link."""
    values = sample_screening(random.Random(len(data)), minor=False, consent=True, code="KH-1")
    draft = store.records.new_draft(SCREENING, values)
    ref = store.attachments.add(draft.id, "document_photo", data, "image/jpeg", "photo.jpg")
    store.records.finalise(draft.id, {**values, "document_photo": ref.id})


def attachment_bench(options: argparse.Namespace, say: Callable[[str], None]) -> None:
    """`--attachments` records with a 1 MiB photo each, through the link: the upload's
    throughput as a share of the link's bandwidth, and chunks sent again per cut."""
    count = options.attachments
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-slowlink-"))
    try:
        settings = ServerSettings(data_dir=workdir / "server" / "data")
        deployment = Deployment(settings, crypto.OrgKeyPair.generate())
        store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
        with ServerProcess(settings) as server:
            enrol(store, server.url, deployment.codes(1)[0])
            for _ in range(count):
                record_with_photo(store, os.urandom(ATTACHMENT_BYTES))
            proxy = SlowLinkProxy.of(server.port, options)
            clock = _UploadClock(proxy)
            say(f"{count} records with a {ATTACHMENT_BYTES >> 10} KiB photo each, through"
                f" {options.kbit:g} kbit/s, {options.latency_ms:g} ms each way,"
                f" {options.drop:.0%} of exchanges dropped...")  # fmt: skip
            syncs = 0
            with SyncClient(store, base_url=proxy.url, timeout=120, on_attachments=clock) as client:
                while True:
                    syncs += 1
                    report = client.sync()
                    if report.ok and not client.pending() and not client.attachments_waiting():
                        break
                    say(f"  sync {syncs} ended early ({report.errors[:1]}); again")
            proxy.close()
            stored = deployment.stored_chunks()
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    useful = sum(stored.values())
    elapsed = clock.ended - clock.started
    share = useful / (elapsed * options.kbit * 1000 / 8)
    cuts = proxy.drops - clock.drops_before
    attempts = sum(proxy.chunk_puts.values())
    again = attempts - len(proxy.chunk_puts)
    print(f"\n{count} attachments of {ATTACHMENT_BYTES:,} B; {machine()}")
    print_table(
        f"attachments over {options.kbit:g} kbit/s, +{options.latency_ms:g} ms each way, "
        f"{options.drop:.0%} dropped",
        ["measure", "value"],
        [
            ["chunks stored on the server (each once)", f"{len(stored)} ({useful:,} B)"],
            ["upload time (first chunk asked for -> last stored)", f"{elapsed:.0f} s"],
            ["throughput / link bandwidth (target >= 0.9)", f"{share:.2f}"],
            ["exchanges cut during the upload", f"{cuts}"],
            ["chunk PUTs / chunks sent again", f"{attempts} / {again}"],
            ["chunks sent again per resumed transfer (target <= 1)",
             f"{again / cuts:.2f}" if cuts else "0 (no cut)"],
            ["syncs needed", f"{syncs}"],
        ],
    )  # fmt: skip
    ok = len(stored) == 4 * count and (not cuts or again <= cuts)
    print("\nresult:", "OK: every chunk stored once" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument(
        "--attachments",
        type=int,
        default=0,
        metavar="N",
        help="measure instead the upload of N records with a 1 MiB photo each",
    )
    parser.add_argument("--kbit", type=float, default=256)
    parser.add_argument("--latency-ms", type=float, default=300, help="added each way")
    parser.add_argument("--drop", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if options.attachments:
        attachment_bench(options, say)
        return

    count = options.records
    records = sample_records(count)
    record_json = sum(json_size(values) for _, values in records)
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-slowlink-"))
    try:
        org_key = crypto.OrgKeyPair.generate()
        settings = ServerSettings(data_dir=workdir / "server" / "data")
        deployment = Deployment(settings, org_key)
        store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
        with ServerProcess(settings) as server:
            enrol(store, server.url, deployment.codes(1)[0])
            say(f"finalising {count} records on the device...")
            fill_store(store, records)
            expected: set[tuple[str, str | None]] = set()
            after = ""
            while page := store.outbox.pending(after=after, limit=1000):
                expected.update((entry.record_id, entry.revision) for entry in page)
                after = page[-1].record_id
            proxy = SlowLinkProxy.of(server.port, options)
            say(f"syncing through {options.kbit:g} kbit/s, {options.latency_ms:g} ms each way, "
                f"{options.drop:.0%} of exchanges dropped...")  # fmt: skip
            syncs, body_bytes, errors = 0, 0, 0
            started = time.perf_counter()
            with SyncClient(store, base_url=proxy.url, timeout=120) as client:
                while True:
                    syncs += 1
                    report = client.sync()
                    body_bytes += report.bytes_sent
                    errors += len(report.errors)
                    if report.ok and client.pending() == 0:
                        break
                    say(f"  sync {syncs} ended early ({report.errors[:1]}); again")
            elapsed = time.perf_counter() - started
            proxy.close()
        held = deployment.stored_revisions()
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    lost = len(expected - set(held))
    duplicated = len(held) - len(set(held))
    rate = options.kbit * 1000 / 8
    wire = proxy.up.bytes + proxy.down.bytes
    ideal = wire / rate
    print(f"\n{count} records (avg {record_json / count:.0f} B of JSON each); {machine()}")
    print_table(
        f"sync over {options.kbit:g} kbit/s, +{options.latency_ms:g} ms each way, "
        f"{options.drop:.0%} dropped",
        ["measure", "value"],
        [
            ["device -> server on the wire per record (all requests, retries, headers)",
             f"{proxy.up.bytes / count:.0f} B = {proxy.up.bytes / record_json:.2f}x the JSON"],
            ["  of which push bodies (gzip or xz)",
             f"{body_bytes / count:.0f} B = {body_bytes / record_json:.2f}x the JSON"],
            ["server -> device on the wire per record",
             f"{proxy.down.bytes / count:.0f} B = {proxy.down.bytes / record_json:.2f}x the JSON"],
            ["target (device -> server / server -> device)", "<= 0.50x / <= 0.30x the JSON"],
            ["total time", f"{elapsed:.0f} s"],
            ["bandwidth ideal (all wire bytes / link rate)",
             f"{ideal:.0f} s (total = {elapsed / ideal:.2f}x the ideal)"],
            ["exchanges / dropped by the proxy", f"{proxy.exchanges} / {proxy.drops}"],
            ["syncs needed", f"{syncs} ({errors} reported errors)"],
            ["lost / duplicated on the server", f"{lost} / {duplicated}"],
        ],
    )  # fmt: skip
    ok = not lost and not duplicated and len(held) == count
    print("\nresult:", "OK: every record exactly once" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
