"""The canary scan: after a realistic end-to-end flow (victims and a workshop recorded on a
device, enrolment, sync through `sync.client` to a real uvicorn server, an edit, a record
read back, a refused push of a sensitive value in clear), every byte of the device's data
folder, of the server's data folder (database, -wal, -shm, key file, its DEBUG log) and every
captured log line and console byte holds zero occurrences of the canary name: not as UTF-8,
UTF-16 or base64 of the plaintext."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.store import Store
from sync.client import SECRET_TOKEN, SyncClient, enrol
from sync.protocol import PushResponse
from sync.server.app import create_app
from tests.conftest import CANARY, PASSPHRASE, attendance_values, screening_values
from tests.security.canary import canary_forms, scan_bytes, scan_paths
from tests.server._harness import running
from tests.sync._harness import Deployment

# The root logger, and uvicorn's, which do not propagate to it.
LOG_ROOTS = ["", "uvicorn", "uvicorn.access"]
DEBUG_LOGGERS = [*LOG_ROOTS, "uvicorn.error", "httpx", "httpcore", "fieldapp", "sync"]


@contextmanager
def everything_logged_at_debug(log_file: Path) -> Iterator[None]:
    """Every logger at DEBUG, written to `log_file` as a deployment's log would be."""
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in DEBUG_LOGGERS]
    levels = [logger.level for logger in loggers]
    for name in LOG_ROOTS:
        logging.getLogger(name).addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for name in LOG_ROOTS:
            logging.getLogger(name).removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        handler.close()


@pytest.mark.parametrize("offset", range(6))
def test_the_scan_finds_a_planted_canary_in_every_form(tmp_path: Path, offset: int) -> None:
    """The scan itself can fail: each form, at any alignment, in a file or in text."""
    plain = CANARY.encode()
    for name, form in canary_forms(CANARY):
        planted = tmp_path / f"{name}.bin"
        planted.write_bytes(b"x" * offset + form + b"y" * offset)
        hits, scanned = scan_paths([planted], CANARY)
        assert name in {hit.form for hit in hits}, name
        assert scanned == len(form) + 2 * offset
    in_base64 = base64.b64encode(b"z" * offset + plain + b"z")
    assert scan_bytes("body", in_base64, CANARY)
    assert scan_bytes("url", base64.urlsafe_b64encode(b"\xff" * offset + plain), CANARY)
    assert not scan_bytes("clean", base64.b64encode(b"Zorblax qua" * 3), CANARY)


@pytest.mark.slow
def test_no_canary_anywhere_after_a_full_sync(
    tmp_path: Path,
    org_key: crypto.OrgKeyPair,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    deployment = Deployment.create(tmp_path / "server" / "data", org_key)
    server_dir = deployment.settings.data_dir
    device_dir = tmp_path / "device"
    store = Store.create(device_dir / "fieldapp.db", PASSPHRASE)
    with (
        running(create_app(deployment.settings)) as url,  # uvicorn sets its log levels here
        everything_logged_at_debug(server_dir / "server-debug.log"),
        httpx.HTTPTransport() as transport,
        httpx.Client(transport=transport, timeout=30) as http,
    ):
        enrol(store, url, deployment.code(), transport=transport)
        victims = [
            store.records.create_final("victim_screening", screening_values(name=f"{CANARY}{i}"))
            for i in range(6)
        ]
        store.records.create_final("training_attendance", attendance_values(participants=3))
        draft = store.records.create_final("victim_screening", screening_values())
        store.records.save_draft(draft.id, screening_values(case_notes=f"{CANARY} said more today"))
        with SyncClient(store, transport=transport) as client:
            first = client.sync()
            assert first.ok, first.errors
            assert first.accepted == 7
            edited = victims[0].id
            store.records.save_draft(edited, screening_values(family_name=CANARY))
            store.records.finalise(edited)
            second = client.sync()
            assert second.ok, second.errors
            assert second.accepted == 1
        token = store.keyring.secret(SECRET_TOKEN)
        assert token
        auth = {"Authorization": f"Bearer {token}"}
        read = http.get(f"{url}/v1/records/{edited}", headers=auth)
        assert read.status_code == 200
        assert len(read.json()["revisions"]) == 2
        # A broken device sends a sensitive value in clear: refused, and not kept anywhere.
        refused = http.post(f"{url}/v1/records:push", json=_clear_name_push(), headers=auth)
        assert refused.status_code == 200
        assert PushResponse.model_validate_json(refused.content).outcomes[0].status == "rejected"
        garbage = http.post(
            f"{url}/v1/records:push",
            content=b'{"x": "' + CANARY.encode() + b'"',
            headers={**auth, "Content-Type": "application/json"},
        )
        assert garbage.status_code == 400
        assert CANARY not in garbage.text
        # While the store and server are open: the -wal and -shm files exist now.
        open_hits, open_scanned = scan_paths([device_dir, server_dir], CANARY)
    store.close()
    closed_hits, closed_scanned = scan_paths([device_dir, server_dir], CANARY)
    captured = capfd.readouterr()
    text_hits = [
        *scan_bytes("caplog", caplog.text.encode(), CANARY),
        *scan_bytes("stdout", captured.out.encode(), CANARY),
        *scan_bytes("stderr", captured.err.encode(), CANARY),
    ]
    assert not [*open_hits, *closed_hits, *text_hits], "\n".join(
        str(hit) for hit in [*open_hits, *closed_hits, *text_hits]
    )
    names = {p.name for p in [*device_dir.rglob("*"), *server_dir.rglob("*")]}
    assert {"fieldapp.db", "server.db", "server-debug.log"} <= names
    assert (server_dir / "server-debug.log").stat().st_size > 0
    log_text = (server_dir / "server-debug.log").read_text()
    assert '"POST /v1/enrol HTTP/1.1" 200' in log_text  # the access log is in it too
    assert open_scanned > 100_000 and closed_scanned > 100_000


def _clear_name_push() -> dict[str, object]:
    """An unsigned envelope with the victim's name in `stats` (never statistical)."""
    now = datetime.now(UTC).isoformat()
    return {
        "protocol": 1,
        "records": [
            {
                "id": str(uuid.uuid4()),
                "form_id": "victim_screening",
                "form_version": load_builtin_forms()["victim_screening"].version,
                "revision": f"1-{uuid.uuid4().hex}",
                "created_at": now,
                "updated_at": now,
                "device_id": "someone",
                "stats": json.loads(json.dumps({"given_name": CANARY})),
                "signature": base64.b64encode(b"\0" * 64).decode(),
            }
        ],
    }
