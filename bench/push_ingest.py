"""Where a push's time goes: the client's pipeline and the server's ingest, measured apart.

    .venv/bin/python bench/push_ingest.py [--records 3000] [--database-url URL|temp]
        [--profile-server DIR]

One device finalises `--records` records (the bench's sample records), then pushes its
outbox to a real server process over loopback, as `bench/sync_vs_kinto.py` does; the push's
request bodies are recorded on the way. Then the server's database is put back as it was
before the push, the server restarted on it, and the recorded bodies are sent again, one
after another over one connection, with nothing else running in this process: the server's
ingest alone (every check on: signatures, proofs, ownership, statistics, audit, receipts).

It prints records/s and CPU µs per record of the server and of the client in the real push,
and of the server alone in the replay (sent as recorded, and decompressed). With
`--profile-server DIR` the replayed server runs under py-spy (on PATH, or PY_SPY) and its
flame graph is written to DIR. SQLite server by default; `temp`: a throwaway PostgreSQL
database (copied with `CREATE DATABASE ... TEMPLATE` for the replay).
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import (  # noqa: E402
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    machine,
    print_table,
    sample_records,
    temp_postgres,
)
from fieldapp import crypto  # noqa: E402
from fieldapp.store import Store  # noqa: E402
from sync.client import SyncClient, enrol  # noqa: E402
from sync.server.settings import ServerSettings  # noqa: E402

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


@contextmanager
def database_copy(settings: ServerSettings, saved: Path) -> Iterator[None]:
    """Put the server's database back as it was saved (SQLite: the data dir)."""
    shutil.rmtree(settings.data_dir)
    shutil.copytree(saved, settings.data_dir)
    yield


def replay(
    settings: ServerSettings,
    pushes: list[tuple[str, dict[str, str], bytes]],
    records: int,
    *,
    plain: bool,
    profile: Path | None,
) -> tuple[float, float]:
    """(records/s, server CPU µs per record) of the recorded pushes sent again in order."""
    with ServerProcess(settings) as server:
        assert server.process is not None
        spy = None
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [os.environ.get("PY_SPY", "py-spy"), "record", "-p", str(server.process.pid),
                 "-r", "200", "-o", str(profile / f"server-{'plain' if plain else 'sent'}.svg"),
                 "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
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
        if spy is not None:
            spy.terminate()
            spy.wait(30)
    return records / elapsed, cpu / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile-server", type=Path, default=None)
    options = parser.parse_args()
    if options.database_url:
        raise SystemExit("only the SQLite server is replayed for now")
    records = sample_records(options.records)
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-push-ingest-"))
    try:
        with nullcontext(options.database_url) as database_url:
            org_key = crypto.OrgKeyPair.generate()
            settings = ServerSettings(
                data_dir=workdir / "server" / "data",
                database_url=database_url,
                rate_limit_per_minute=1_000_000,
                rate_limit_burst=1_000_000,
            )
            deployment = Deployment(settings, org_key)
            store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
            with ServerProcess(settings) as server:
                enrol(store, server.url, deployment.codes(1)[0])
            print("finalising the records on the device...", file=sys.stderr)
            fill_store(store, records)
            saved = workdir / "saved"
            shutil.copytree(settings.data_dir, saved)

            transport = RecordingTransport()
            with ServerProcess(settings) as server:
                assert server.process is not None
                client_cpu, server_cpu = own_cpu_seconds(), cpu_seconds(server.process.pid)
                started = time.perf_counter()
                with SyncClient(store, server.url, transport=transport) as client:
                    report = client.sync()
                push_s = time.perf_counter() - started
                client_cpu = own_cpu_seconds() - client_cpu
                server_cpu = cpu_seconds(server.process.pid) - server_cpu
            store.close()
            if not report.ok or report.accepted != len(records):
                raise SystemExit(f"push: {report.accepted} accepted, {report.errors[:3]}")
            sent = sum(len(body) for _, _, body in transport.pushes)
            rows = [
                ["real push (client + server sharing the machine)",
                 f"{len(records) / push_s:.0f}", f"{server_cpu / len(records) * 1e6:.0f}",
                 f"{client_cpu / len(records) * 1e6:.0f}",
                 f"{len(transport.pushes)} requests, {sent / len(records):.0f} B/record"],
            ]  # fmt: skip
            for plain in (False, True):
                with database_copy(settings, saved):
                    rate, server_us = replay(
                        settings, transport.pushes, len(records), plain=plain,
                        profile=options.profile_server,
                    )  # fmt: skip
                what = "decompressed" if plain else "as sent"
                rows.append([f"server alone, bodies {what}", f"{rate:.0f}", f"{server_us:.0f}",
                             "", ""])  # fmt: skip
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
