"""Attachment chunks over real HTTP (uvicorn on loopback, both backends): a chunk is stored
once whatever the number of PUTs, checked against its name, refused over the limit from its
headers alone, and the record's completeness shows in the office list."""

from __future__ import annotations

import hashlib
import os
import socket
from urllib.parse import urlsplit

from sync.protocol.attachments import CHUNK_CIPHERTEXT_MAX_BYTES
from sync.server import admin
from tests.server._harness import World, chunk_manifest
from tests.server.conftest import Backend

TWENTY_MB = 20 * 1000 * 1000


def _path(chunk: bytes) -> str:
    return f"/v1/attachments/chunks/{hashlib.sha256(chunk).hexdigest()}"


def test_a_chunk_sent_three_times_is_stored_once_and_the_record_completes(
    world: World, backend: Backend
) -> None:
    org = world.org("Org")
    phone = world.enrol(org, "collector", "north")
    office = world.enrol(org, "case_manager")
    chunks = [os.urandom(1000), os.urandom(1000)]
    record = phone.envelope(attachments=[chunk_manifest(*chunks)])
    assert world.push(phone, record).status_code == 200
    digests = [hashlib.sha256(c).hexdigest() for c in chunks]

    def waiting() -> object:
        [row] = world.client.get("/v1/office/records", headers=office.auth).json()["records"]
        return row["attachments"]

    assert waiting() == {"stored": 0, "needed": 2}
    [listed] = admin.stats(world.storage, org.id)["organisations"]
    assert listed["waiting_for_attachments"] == 1
    for _ in range(3):
        sent = world.client.put(_path(chunks[0]), content=chunks[0], headers=phone.auth)
        assert sent.status_code == 204, sent.text
    missing = world.client.post(
        "/v1/attachments:missing", json={"chunks": digests}, headers=phone.auth
    )

    assert missing.json() == {"chunks": digests[1:]}
    assert backend.count("attachment_chunks") == 1
    assert waiting() == {"stored": 1, "needed": 2}
    world.client.put(_path(chunks[1]), content=chunks[1], headers=phone.auth)
    assert waiting() == {"stored": 2, "needed": 2}
    [listed] = admin.stats(world.storage, org.id)["organisations"]
    assert listed["waiting_for_attachments"] == 0
    got = world.client.get(_path(chunks[1]), headers=office.auth)
    assert (got.status_code, got.content) == (200, chunks[1])


def test_a_chunk_whose_body_is_not_its_name_is_refused(world: World, backend: Backend) -> None:
    org = world.org("Org")
    phone = world.enrol(org)
    chunk = os.urandom(1000)
    assert world.push(phone, phone.envelope(attachments=[chunk_manifest(chunk)])).status_code == 200

    sent = world.client.put(_path(chunk), content=chunk[:-1] + b"x", headers=phone.auth)

    assert (sent.status_code, sent.json()["error"]) == (422, "chunk_digest_mismatch")
    assert backend.count("attachment_chunks") == 0


def test_a_20_mb_upload_is_refused_before_its_body_is_read(world: World, backend: Backend) -> None:
    """Only the headers are sent: a server that waited for the body would never answer (the
    socket's timeout would fail the test); it answers 413 `chunk_too_large` at once."""
    org = world.org("Org")
    phone = world.enrol(org)
    chunk = os.urandom(1000)
    world.push(phone, phone.envelope(attachments=[chunk_manifest(chunk)]))
    address = urlsplit(str(world.client.base_url))
    head = (
        f"PUT {_path(chunk)} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {phone.token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {TWENTY_MB}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = conn.recv(65536)
            if not part:
                break
            answer += part

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert b'"error":"chunk_too_large"' in rest
    assert str(CHUNK_CIPHERTEXT_MAX_BYTES).encode() in rest
    assert backend.count("attachment_chunks") == 0
