"""Push and pull over loopback: fieldapp's own sync, Kinto, and the raw SQLite limit, one run.

    .venv/bin/python bench/sync_vs_kinto.py [--records 10000] [--database-url URL|temp]
        [--both-backends] [--kinto-python /work/kinto-venv/bin/python]

The same synthetic records (victim screenings and attendance sheets, ~1.2 KB of JSON each)
go through:

- fieldapp: a device store finalises them (validated, encrypted, HPKE-sealed to an
  ML-KEM-768+X25519 organisation key, Ed25519-signed: timed separately as the device-side
  cost); then the outbox is pushed by `SyncClient` to a real server process (bearer auth,
  signature and stats checks, audit log, signed receipts verified by the client) and the
  change feed is pulled back from cursor 0. SQLite server by default; `--database-url`
  a PostgreSQL URL, or `temp` for a throwaway database on 127.0.0.1:5432;
  `--both-backends` runs it on SQLite and on a throwaway PostgreSQL database, one after
  the other, against the same Kinto runs.
- Kinto (`pip install kinto kinto-http 'kinto[postgresql]'` in a separate venv:
  `--kinto-python` or $KINTO_PYTHON): kinto-http's batch API, memory backend and
  PostgreSQL backend (a fresh database, dropped after). Skipped with a message if Kinto,
  its PostgreSQL driver or PostgreSQL is absent (`kinto init` would try to install the
  driver with a tool that may not be there).
- raw SQLite: one `executemany` of the records' JSON in one transaction (WAL,
  synchronous=FULL, as the server uses): the ceiling for any server here.

Servers log at warning level (no access log) in every system. Everything started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from bench._common import (
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    free_port,
    json_size,
    machine,
    postgres_reachable,
    print_table,
    sample_records,
    temp_postgres,
)
from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.settings import ServerSettings

DEFAULT_KINTO_PYTHON = "/work/kinto-venv/bin/python"
FINALISE_SAMPLE = 200


def raw_sqlite(rows: list[tuple[str, str]], path: Path) -> float:
    """Seconds for one executemany of the rows in one durable transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE records (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO records (id, data) VALUES (?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def finalise_rate(
    records: list[tuple[str, dict]], workdir: Path, org_key: crypto.OrgKeyPair
) -> float:
    """Records/s of the device's real finalise path, one durable commit each (no caching)."""
    store = Store.create(workdir / "finalise" / "fieldapp.db", PASSPHRASE)
    store.outbox.set_recipients([org_key.recipient])
    started = time.perf_counter()
    for form_id, values in records:
        store.records.create_final(form_id, values)
    elapsed = time.perf_counter() - started
    store.close()
    return len(records) / elapsed


def fieldapp_run(
    records: list[tuple[str, dict]], workdir: Path, database_url: str, say
) -> dict[str, float]:
    org_key = crypto.OrgKeyPair.generate()
    say(f"fieldapp: device-side finalise of {min(FINALISE_SAMPLE, len(records))} records...")
    finalise = finalise_rate(records[:FINALISE_SAMPLE], workdir, org_key)
    settings = ServerSettings(
        data_dir=workdir / "server" / "data",
        database_url=database_url,
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=1_000_000,
    )
    deployment = Deployment(settings, org_key)
    store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
    say(f"fieldapp: finalising {len(records)} records on the device (setup)...")
    with ServerProcess(settings) as server:
        enrol(store, server.url, deployment.codes(1)[0])
        setup = fill_store(store, records, say=say)
        envelope_rows: list[tuple[str, str]] = []
        after = ""
        while page := store.outbox.pending(after=after, limit=1000):
            envelope_rows.extend((entry.record_id, entry.envelope.decode()) for entry in page)
            after = page[-1].record_id
        last_batch = [0.0]

        def progress(done: int, total: int, sent: int) -> None:
            last_batch[0] = time.perf_counter()

        say("fieldapp: pushing the outbox...")
        with SyncClient(store, on_progress=progress) as client:
            started = time.perf_counter()
            push = client.sync()
            push_s = last_batch[0] - started
            store.settings.set("cursor", "0")
            say("fieldapp: pulling the change feed from cursor 0...")
            started = time.perf_counter()
            pull = client.sync()
            pull_s = time.perf_counter() - started
        for report in (push, pull):
            if not report.ok:
                raise SystemExit(f"fieldapp sync failed: {report.errors[:3]}")
        held = deployment.stored_revisions()
        if (
            push.accepted != len(records)
            or len(held) != len(records)
            or len(set(held)) != len(held)
        ):
            raise SystemExit(
                f"fieldapp: {push.accepted} accepted; the server holds {len(held)}"
                f" of {len(records)}"
            )
    store.close()
    envelope_bytes = sum(len(body) for _, body in envelope_rows)
    raw_envelopes = raw_sqlite(envelope_rows, workdir / "raw-envelopes.db")
    return {
        "finalise": finalise,
        "setup": len(records) / setup,
        "push": len(records) / push_s,
        "push_s": push_s,
        "pull": pull.pulled / pull_s,
        "pull_s": pull_s,
        "pulled": pull.pulled,
        "requests": push.requests,
        "wire_per_record": push.bytes_sent / len(records),
        "envelope_per_record": envelope_bytes / len(records),
        "pull_wire_per_change": pull.bytes_received / max(1, pull.pulled),
        "raw_envelopes": len(records) / raw_envelopes,
    }


@contextmanager
def kinto_server(kinto_python: str, workdir: Path, storage_url: str | None) -> Iterator[str]:
    """Kinto on 127.0.0.1 (memory backend, or PostgreSQL at `storage_url`); its /v1 URL."""
    kinto = str(Path(kinto_python).with_name("kinto"))
    backend = "postgresql" if storage_url else "memory"
    ini = workdir / f"kinto-{backend}.ini"
    subprocess.run(
        [kinto, "init", "--ini", str(ini), "--backend", backend, "--cache-backend", "memory",
         "--host", "127.0.0.1", "-q"],
        check=True, cwd=workdir,
    )  # fmt: skip
    lines = []
    for line in ini.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if storage_url and key in {"kinto.storage_url", "kinto.permission_url"}:
            line = f"{key} = {storage_url}"
        if key == "level":
            line = "level = WARNING"  # no per-request logging, as for fieldapp
        lines.append(line)
    ini.write_text("\n".join(lines) + "\n")
    if "host = 127.0.0.1" not in ini.read_text():
        raise SystemExit("the generated Kinto config does not listen on 127.0.0.1 only: stopping")
    if storage_url:
        subprocess.run([kinto, "migrate", "--ini", str(ini), "-q"], check=True, cwd=workdir)
    port = free_port()
    log = (workdir / f"kinto-{backend}.log").open("ab")
    process = subprocess.Popen(
        [kinto, "start", "--ini", str(ini), "--port", str(port)],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/__heartbeat__", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"Kinto did not start: see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def kinto_run(kinto_python: str, url: str, records_file: Path) -> dict[str, float]:
    driver = Path(__file__).with_name("_kinto_driver.py")
    out = subprocess.run(
        [kinto_python, str(driver), url, str(records_file)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["pulled"] != result["pushed"]:
        raise SystemExit(f"Kinto: pulled {result['pulled']} of {result['pushed']} records")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default="",
        help="fieldapp server database: default SQLite; a postgresql:// URL, or `temp` for a "
        "throwaway database on 127.0.0.1:5432",
    )
    parser.add_argument(
        "--kinto-python", default=os.environ.get("KINTO_PYTHON", DEFAULT_KINTO_PYTHON)
    )
    parser.add_argument(
        "--both-backends", action="store_true", help="fieldapp on SQLite, then on PostgreSQL"
    )
    parser.add_argument("--no-kinto-postgres", action="store_true")
    options = parser.parse_args()

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    count = options.records
    records = sample_records(count)
    json_rows = [(str(uuid.uuid4()), json.dumps(values)) for _, values in records]
    avg_json = sum(json_size(values) for _, values in records) / count
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-"))
    try:
        raw_json = count / raw_sqlite(json_rows, workdir / "raw.db")
        ours: dict[str, dict[str, float]] = {}
        for url in ["", "temp"] if options.both_backends else [options.database_url]:
            with temp_postgres() if url == "temp" else nullcontext(url) as database_url:
                backend = "PostgreSQL" if database_url else "SQLite"
                say(f"fieldapp on {backend}:")
                ours[backend] = fieldapp_run(records, workdir / backend, database_url, say)

        kinto: dict[str, dict[str, float]] = {}
        have_kinto = (
            Path(options.kinto_python).exists()
            and subprocess.run(
                [options.kinto_python, "-c", "import kinto, kinto_http"], capture_output=True
            ).returncode
            == 0
        )
        if not have_kinto:
            say(
                f"Kinto skipped: no Kinto at {options.kinto_python} (python3.11 -m venv "
                "/work/kinto-venv && /work/kinto-venv/bin/pip install kinto kinto-http)"
            )
        else:
            records_file = workdir / "records.json"
            records_file.write_text(
                json.dumps([{"form_id": f, "values": v} for f, v in records]), encoding="utf-8"
            )
            say("Kinto (memory backend)...")
            with kinto_server(options.kinto_python, workdir, None) as url:
                kinto["memory"] = kinto_run(options.kinto_python, url, records_file)
            kinto_pg_driver = subprocess.run(
                [options.kinto_python, "-c", "import psycopg2, sqlalchemy, zope.sqlalchemy"],
                capture_output=True,
            ).returncode == 0  # fmt: skip
            if options.no_kinto_postgres:
                say("Kinto PostgreSQL backend skipped (--no-kinto-postgres)")
            elif not kinto_pg_driver:
                say(
                    "Kinto PostgreSQL backend skipped: Kinto's Python lacks its PostgreSQL "
                    f"driver ({Path(options.kinto_python).with_name('pip')} install "
                    "'kinto[postgresql]')"
                )
            elif not postgres_reachable():
                say("Kinto PostgreSQL backend skipped: no PostgreSQL on 127.0.0.1:5432")
            else:
                say("Kinto (PostgreSQL backend)...")
                with (
                    temp_postgres() as pg_url,
                    kinto_server(options.kinto_python, workdir, pg_url) as url,
                ):
                    kinto["postgresql"] = kinto_run(options.kinto_python, url, records_file)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    first = next(iter(ours.values()))
    print(f"\n{count} records (avg {avg_json:.0f} B of JSON, {first['envelope_per_record']:.0f} B "
          f"as a sealed+signed envelope); {machine()}")  # fmt: skip
    rows = [
        ["fieldapp device: finalise (validate, encrypt, seal, sign, commit each)",
         f"{first['finalise']:.0f}", "", ""],
    ]  # fmt: skip
    for backend, result in ours.items():
        rows.append(
            [f"fieldapp ({backend} server, every security feature on)",
             f"{result['push']:.0f}", f"{result['pull']:.0f}",
             f"{result['push_s']:.1f} s, {int(result['requests'])} requests"]
        )  # fmt: skip
    for name, result in kinto.items():
        rows.append(
            [f"Kinto {result['pushed']} records, {name} backend (kinto-http batch)",
             f"{result['pushed'] / result['push_s']:.0f}",
             f"{result['pulled'] / result['pull_s']:.0f}", f"{result['push_s']:.1f} s"]
        )  # fmt: skip
    rows.append(["raw SQLite executemany, record JSON, one transaction", f"{raw_json:.0f}", "", ""])
    rows.append(
        ["raw SQLite executemany, sealed envelopes", f"{first['raw_envelopes']:.0f}", "", ""]
    )
    print_table("records/s over loopback", ["system", "push", "pull", "note"], rows)

    ratio_rows = []
    for backend, mine in ours.items():
        for name, result in kinto.items():
            push_x = mine["push"] / (result["pushed"] / result["push_s"])
            pull_x = mine["pull"] / (result["pulled"] / result["pull_s"])
            ratio_rows.append([f"push fieldapp {backend} / Kinto {name}", f"{push_x:.1f}x",
                               ">= 20x", "met" if push_x >= 20 else "NOT met"])  # fmt: skip
            ratio_rows.append([f"pull fieldapp {backend} / Kinto {name}", f"{pull_x:.1f}x",
                               ">= 3x", "met" if pull_x >= 3 else "NOT met"])  # fmt: skip
        raw_x = mine["push"] / raw_json
        ratio_rows.append([f"push fieldapp {backend} / raw SQLite (record JSON)", f"{raw_x:.3f}x",
                           ">= 0.5x", "met" if raw_x >= 0.5 else "NOT met"])  # fmt: skip
    print_table("ratios (same run)", ["ratio", "measured", "target", ""], ratio_rows)
    for backend, mine in ours.items():
        print(
            f"\nfieldapp {backend}: setup (finalise in commits of 500, form cached): "
            f"{mine['setup']:.0f} rec/s; push wire bytes per record (as sent: uncompressed on "
            f"loopback once the link is measured fast): "
            f"{mine['wire_per_record']:.0f} B; pull: {int(mine['pulled'])} changes (record "
            f"metadata, no sealed bytes), {mine['pull_wire_per_change']:.0f} B each, "
            f"{mine['pull_s']:.2f} s; Kinto pull returns whole records."
        )


if __name__ == "__main__":
    main()
