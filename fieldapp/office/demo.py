"""`fieldapp demo`: the whole job on the embedded default, end to end, on this machine.

A central server on 127.0.0.1 with its SQLite database (`fieldapp serve`, a process of its
own); an organisation with a post-quantum key pair; a device enrolled with a one-time code; a
training and identified victims recorded offline (encrypted, sealed, signed); a sync; the
organisation opening what the server cannot.
Everything is fictional. Needs the `server` extra.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx

from fieldapp import crypto
from fieldapp.errors import FieldappError
from fieldapp.office.sample_data import sample_event, sample_screening, sample_shared_event
from fieldapp.store import Store

__all__ = ["DEMO_PASSPHRASE", "DemoError", "DemoResult", "run_demo"]

DEMO_PASSPHRASE = "demo passphrase, not a secret"  # noqa: S105 (printed for the demo)
ORG_NAME = "Regional Office North (demo)"
_SERVER_START_SECONDS = 60
_SERVER_STOP_SECONDS = 15


class DemoError(FieldappError):
    """The demo could not run; the message says why."""


@dataclass
class DemoResult:
    server_url: str
    device_dir: Path
    server_dir: Path
    org_key_file: Path
    accepted: int
    rejected: int
    server_records: int
    opened_case_code: str
    plaintext_names_on_server: int


@contextmanager
def _serving(data_dir: Path, port: int | None = None) -> Iterator[str]:
    """`fieldapp serve` on 127.0.0.1 (a free port unless `port`) as a process of its own,
    its output in `data_dir`/server.log; yields its URL once it answers, stops it on exit.

    Its own process, never a thread of this one: a process that closes any descriptor of
    the server's database files (reading them, as step 5 does) drops every lock the server's
    connections hold on them, and an admin command run beside it then deletes the live
    write-ahead log, taking receipted records with it.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    chosen = port or _free_port()
    url = f"http://127.0.0.1:{chosen}"
    command = [sys.executable, "-m", "fieldapp", "--data-dir", str(data_dir), "serve"]
    with (data_dir / "server.log").open("ab") as log:
        server = subprocess.Popen(  # noqa: S603 (this interpreter, our own arguments)
            [*command, "--port", str(chosen)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + _SERVER_START_SECONDS
        while not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise DemoError(
                    f"the demo server did not start on port {chosen}: see {data_dir / 'server.log'}"
                )
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()  # SIGTERM: uvicorn finishes what it is doing and closes the database
        try:
            server.wait(_SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _names_in_files(folder: Path, names: Sequence[str]) -> int:
    """How many times the names occur in the files under `folder`, read as raw bytes.

    Never call it in a process that serves those files or holds a database connection to
    them: closing the descriptors this opens drops that process's SQLite locks.
    """
    needles = [name.encode() for name in names]
    return sum(
        data.count(needle)
        for path in folder.rglob("*")
        if path.is_file()
        for data in (path.read_bytes(),)
        for needle in needles
    )


def run_demo(
    root: Path,
    say: Callable[[str], None] = print,
    port: int | None = None,
    then: Callable[[str, Path], None] | None = None,
) -> DemoResult:
    """Run the demo in `root` (emptied first: it only ever holds demo data).

    `then(server_url, device_dir)` runs at the end while the server is still up: the CLI
    opens the app there.
    """
    from sync.client import SyncClient, enrol
    from sync.server import admin
    from sync.server.settings import ServerSettings

    if root.exists():
        shutil.rmtree(root)
    server_dir, device_dir = root / "server", root / "device"
    org_key_file = root / "organisation-key.json"
    root.mkdir(parents=True, mode=0o700)
    rng = random.Random(2026)  # noqa: S311 (fictional sample data, not secrets)

    say(
        "1. The organisation makes its key pair (ML-KEM-768 + X25519);"
        " the private half stays offline."
    )
    org_key = crypto.OrgKeyPair.generate()
    org_key.save(org_key_file, DEMO_PASSPHRASE)

    say("2. A social worker's device records offline: a training and six identified victims.")
    store = Store.create(device_dir / "fieldapp.db", DEMO_PASSPHRASE)
    event = sample_event(rng)
    store.records.create_final("training_attendance", event)
    screenings = [
        sample_screening(rng),
        sample_screening(rng),
        sample_screening(rng, minor=True),
        sample_screening(rng, consent=False),
        sample_screening(rng),
    ]
    names = [f"{v['given_name']} {v['family_name']}" for v in screenings if "given_name" in v]
    names += [person["full_name"] for person in event["participants"]]
    victim_ids = [store.records.create_final("victim_screening", v).id for v in screenings]
    store.records.new_draft("victim_screening", sample_screening(rng))
    say(
        f"   {store.records.count(status='final')} finalised, 1 draft; all encrypted on the device."
    )

    with _serving(server_dir, port) as url:
        settings = ServerSettings(data_dir=server_dir)
        with admin.open_server_storage(settings) as storage:
            admin.create_org(storage, ORG_NAME, recipients=[org_key.recipient])
            team_key = admin.derive_team_key(storage, ORG_NAME, org_key, "north")
            code = admin.enrol_code(
                storage,
                ORG_NAME,
                "collector",
                region="north",
                server_key=admin.server_public_key(settings, storage),
                team_key=team_key,
            ).code
        say(f"3. Connectivity returns: the central server runs at {url} (SQLite).")
        with admin.open_server_storage(settings) as storage:
            admin.share_event(storage, ORG_NAME, sample_shared_event(rng))
        say("   The office shares next month's training: trainers' devices pick it up.")
        result = enrol(store, url, code, label="demo tablet")
        say(
            f"   Enrolled with a one-time code; {result.sealed_waiting} records sealed"
            f" for the organisation; {result.team_entries} participants shared with the"
            " north team, sealed with its team key (the code brought it; the server cannot"
            " open it)."
        )
        with SyncClient(store) as client:
            report = client.sync()
        say(
            f"4. Synced: {report.accepted} accepted, {report.rejected} rejected, "
            f"{report.bytes_sent} bytes sent; the draft stays on the device."
        )
        with admin.open_server_storage(settings) as storage:
            counts = admin.stats(storage)
        store.close()
        leaks = _names_in_files(server_dir, names)  # read here, in the demo's own process
        say(
            f"5. The server holds {counts['records']} records;"
            f" names of victims and participants found in its files: {leaks}."
        )
        opened = _open_one_sealed(server_dir, org_key_file, victim_ids[0])
        say(
            f"6. The organisation, with its private key, opens case {opened}"
            " (the server could not)."
        )
        if then is not None:
            then(url, device_dir)
    return DemoResult(
        server_url=url,
        device_dir=device_dir,
        server_dir=server_dir,
        org_key_file=org_key_file,
        accepted=report.accepted,
        rejected=report.rejected,
        server_records=counts["records"],
        opened_case_code=opened,
        plaintext_names_on_server=leaks,
    )


def _open_one_sealed(server_dir: Path, org_key_file: Path, record_id: str) -> str:
    """Decrypt one victim record from the server's database with the organisation's key."""
    from sync.server import admin
    from sync.server.settings import ServerSettings

    key = crypto.OrgKeyPair.load(org_key_file, DEMO_PASSPHRASE)
    with admin.open_server_storage(ServerSettings(data_dir=server_dir)) as storage:
        org = admin.find_org(storage, ORG_NAME)
        stored = storage.list_revisions(org.id, UUID(record_id))[-1]
        envelope = stored.to_envelope()
        assert envelope.sealed is not None
        epoch_id = crypto.envelope_epoch_id(envelope.sealed)
        header = None if epoch_id is None else storage.epoch_headers(org.id, [epoch_id])[epoch_id]
    aad = crypto.record_aad(record_id, envelope.revision, "sealed")
    return str(json.loads(key.open(envelope.sealed, aad, header))["case_code"])
