"""Where a push's time goes: the client's pipeline and the server's ingest, measured apart.

    .venv/bin/python bench/push_ingest.py [--records 3000]

One device finalises `--records` records (the bench's sample records), then pushes its
outbox to a real server process over loopback, as `bench/sync_vs_kinto.py` does; the push's
request bodies are recorded on the way. Then the server's database is put back as it was
before the push, the server restarted on it, and the recorded bodies are sent again, one
after another over one connection, with nothing else running in this process: the server's
ingest alone (every check on: signatures, proofs, ownership, statistics, audit, receipts).

It prints records/s and CPU µs per record of the server and of the client in the real push
(CPU time is what tells the two apart when they share the machine's cores), and of the
server alone in the replay (sent as recorded, and decompressed). SQLite server.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import (
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    machine,
    print_table,
    sample_records,
)
from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.settings import ServerSettings

_PUSH_PATH = "/v1/records:push"


class RecordingTransport(httpx.HTTPTransport):
    """An HTTP transport that keeps every push request as sent (path, headers, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[tuple[str, dict[str, str], bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == _PUSH_PATH:
            body = request.read()
            self.pushes.append((str(request.url), dict(request.headers), body))
        return super().handle_request(request)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decompressed(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    encoding = headers.get("content-encoding")
    if encoding is None:
        return headers, body
    plain = gzip.decompress(body) if encoding == "gzip" else lzma.decompress(body)
    kept = {k: v for k, v in headers.items() if k not in {"content-encoding", "content-length"}}
    return kept, plain


def replay(
    settings: ServerSettings,
    saved: Path,
    pushes: list[tuple[str, dict[str, str], bytes]],
    records: int,
    *,
    plain: bool,
) -> tuple[float, float]:
    """(records/s, server CPU µs per record) of the recorded pushes sent again in order to
    the server's database as it was `saved` before the push."""
    shutil.rmtree(settings.data_dir)
    shutil.copytree(saved, settings.data_dir)
    with ServerProcess(settings) as server:
        assert server.process is not None
        with httpx.Client(timeout=120) as client:
            cpu_before = cpu_seconds(server.process.pid)
            started = time.perf_counter()
            for url, headers, body in pushes:
                if plain:
                    headers, body = decompressed(headers, body)
                path = url.split("/v1/", 1)[1]
                response = client.post(f"{server.url}/v1/{path}", content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"replay: {response.status_code} {response.text[:300]}")
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(server.process.pid) - cpu_before
    return records / elapsed, cpu / records * 1e6


def real_push(
    settings: ServerSettings, store: Store, count: int
) -> tuple[list[str], RecordingTransport]:
    """The outbox pushed by SyncClient to a server process: its table row, and the pushes
    it recorded. Timed to the last batch's answer, as bench/sync_vs_kinto.py times it."""
    transport = RecordingTransport()
    marks: list[tuple[float, float, float]] = []
    with ServerProcess(settings) as server:
        assert server.process is not None
        pid = server.process.pid

        def mark(*_: int) -> None:
            marks.append((time.perf_counter(), own_cpu_seconds(), cpu_seconds(pid)))

        mark()
        with SyncClient(store, server.url, transport=transport, on_progress=mark) as client:
            report = client.sync()
    if not report.ok or report.accepted != count:
        raise SystemExit(f"push: {report.accepted} accepted, {report.errors[:3]}")
    (started, client_from, server_from), (ended, client_to, server_to) = marks[0], marks[-1]
    sent = sum(len(body) for _, _, body in transport.pushes)
    row = [
        "real push (client and server sharing the machine)",
        f"{count / (ended - started):.0f}",
        f"{(server_to - server_from) / count * 1e6:.0f}",
        f"{(client_to - client_from) / count * 1e6:.0f}",
        f"{len(transport.pushes)} requests, {sent / count:.0f} B/record",
    ]
    return row, transport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    options = parser.parse_args()
    records = sample_records(options.records)
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-push-ingest-"))
    try:
        settings = ServerSettings(
            data_dir=workdir / "server" / "data",
            rate_limit_per_minute=1_000_000,
            rate_limit_burst=1_000_000,
        )
        deployment = Deployment(settings, crypto.OrgKeyPair.generate())
        store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
        with ServerProcess(settings) as server:
            enrol(store, server.url, deployment.codes(1)[0])
        print("finalising the records on the device...", file=sys.stderr)
        fill_store(store, records)
        saved = workdir / "saved"
        shutil.copytree(settings.data_dir, saved)
        row, transport = real_push(settings, store, len(records))
        store.close()
        rows = [row]
        for plain in (False, True):
            rate, server_us = replay(settings, saved, transport.pushes, len(records), plain=plain)
            what = "decompressed" if plain else "as sent"
            rows.append([f"server alone, bodies {what}", f"{rate:.0f}", f"{server_us:.0f}", "", ""])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{len(records)} records; {machine()}")
    print_table(
        "push over loopback",
        ["", "records/s", "server CPU µs/record", "client CPU µs/record", "note"],
        rows,
    )


if __name__ == "__main__":
    main()
