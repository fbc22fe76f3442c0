"""The device's chunk upload against the real server (uvicorn in a thread): records go first
and never wait for their chunks; a cut upload resumes with only what the server lacks; the
progress per record is kept in the store; the office (never a coordinator) reads the chunks."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import httpx
import pytest

from fieldapp.store import Store
from sync.client import OfficeClient, ServerRefused, SyncClient, enrol
from sync.client._attachments import waiting_uploads
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment

PHOTO = 3 * 256 * 1024 + 100  # four chunks


class CutChunks(httpx.BaseTransport):
    """Passes requests on to `inner`, counting chunk PUTs by digest; the PUTs numbered in
    `cut` (1 = the first) fail on the link after reaching the server or before."""

    def __init__(self, inner: httpx.BaseTransport, cut: set[int], *, stored: bool) -> None:
        self.inner, self.cut, self.stored = inner, cut, stored
        self.puts: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/attachments/chunks/" in request.url.path:
            self.puts[request.url.path.rsplit("/", 1)[1]] += 1
            if sum(self.puts.values()) in self.cut:
                if self.stored:
                    self.inner.handle_request(request).read()
                raise httpx.ReadError("connection cut")
        return self.inner.handle_request(request)


def record_with_photo(store: Store) -> str:
    values = screening_values()
    draft = store.records.new_draft("victim_screening", values)
    ref = store.attachments.add(draft.id, "case_notes", os.urandom(PHOTO), "image/jpeg")
    store.records.finalise(draft.id, {**values, "case_notes": ref.id})
    return draft.id


@pytest.mark.parametrize("stored", [False, True], ids=["cut-on-its-way", "cut-answer"])
def test_a_cut_upload_resumes_with_only_the_missing_chunks(
    device: Store, app_transport: httpx.BaseTransport, stored: bool
) -> None:
    record_id = record_with_photo(device)
    cutting = CutChunks(app_transport, cut={2}, stored=stored)
    with SyncClient(device, transport=cutting) as client:
        # The chunk PUT is sent once; the failure ends this record's round, which asks again.
        report = client.sync()

    assert report.ok, report.errors
    assert not device.attachments.unsent(record_id)
    assert client.attachments_waiting() == {}
    again = [digest for digest, times in cutting.puts.items() if times > 1]
    assert len(cutting.puts) == 4
    assert len(again) == (0 if stored else 1)  # a stored chunk is never sent twice


def test_records_go_first_and_never_wait_for_their_chunks(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    record_id = record_with_photo(device)
    every_put = CutChunks(app_transport, cut=set(range(1, 1000)), stored=False)
    with SyncClient(device, transport=every_put) as client:
        report = client.sync()

        assert report.sent == 1 and client.pending() == 0  # the record is on the server
        assert not report.ok  # the chunks could not go: said so
        assert waiting_uploads(device)[record_id].stored == 0
        assert client.attachments_waiting()[record_id].needed == 4

    with SyncClient(device, transport=app_transport) as client:
        seen = []
        client.on_attachments = lambda rid, progress: seen.append(progress.stored)
        report = client.sync()
    assert report.ok and report.chunks_sent == 4
    assert seen == [0, 1, 2, 3, 4]
    assert report.attachments[record_id].complete
    assert client.attachments_waiting() == {}


def test_the_office_reads_chunks_a_coordinator_does_not(
    device: Store,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    record_id = record_with_photo(device)
    with SyncClient(device, transport=app_transport) as client:
        assert client.sync().ok
    digest = device.attachments.for_record(record_id)[0].chunks[0]
    readers = {}
    for role in ("case_manager", "coordinator"):
        office_store = Store.create(tmp_path / role / "store.db", PASSPHRASE)
        enrol(office_store, app_url, deployment.issue(role).code, transport=app_transport)
        readers[role] = office_store

    with OfficeClient(readers["case_manager"], transport=app_transport) as office:
        assert office.chunk(digest) == device.attachments.chunk(digest)
    with (
        OfficeClient(readers["coordinator"], transport=app_transport) as office,
        pytest.raises(ServerRefused, match="coordinator"),
    ):
        office.chunk(digest)
    for office_store in readers.values():
        office_store.close()
