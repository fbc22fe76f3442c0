"""The pipelined push against the real server app: batch receipts checked record by record,
per-record receipts from servers that do not batch them, a stop half-way that leaves every
unacknowledged record queued, damaged outbox entries, and the store's batch write-back."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Outcome, Store
from sync import SyncClient
from sync.client import _exchange, _push
from sync.client._transports.counting import Traffic
from sync.protocol import PushResponse, Receipt
from sync.server import admin
from tests.conftest import screening_values
from tests.sync._harness import Deployment, Rewriting


def make_records(store: Store, count: int) -> list[str]:
    with store.batch():
        return [
            store.records.create_final("victim_screening", screening_values()).id
            for _ in range(count)
        ]


def stored_receipts(store: Store) -> dict[str, Receipt]:
    rows = store.core.db.execute("SELECT id, receipt FROM records WHERE receipt IS NOT NULL")
    return {row[0]: Receipt.model_validate_json(row[1]) for row in rows.fetchall()}


def no_sync_threads() -> bool:
    return not [
        t for t in threading.enumerate() if t.name.startswith(("sync-prepare", "sync-send"))
    ]


class _Overlap(httpx.BaseTransport):
    """Passes requests on, holding each push up to `hold` seconds until another is at the
    server too: the most pushes it saw at once is `most`."""

    def __init__(self, inner: httpx.BaseTransport, hold: float = 1.0) -> None:
        self.inner, self.hold = inner, hold
        self.most = self._now = self._started = 0
        self.alone = 0  # pushes no other push was at the server beside, start to end
        self._lock = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/records:push":
            return self.inner.handle_request(request)
        with self._lock:
            self._now += 1
            self._started += 1
            started_before = self._started
            self.most = max(self.most, self._now)
            self._lock.notify_all()
            self._lock.wait_for(lambda: self._now > 1, timeout=self.hold)
            shared = self._now > 1
        try:
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self._now -= 1
                if not shared and self._now == 0 and self._started == started_before:
                    self.alone += 1


def fast_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every push's body measures the link, and any rate counts as fast."""
    monkeypatch.setattr(_exchange, "FAST_LINK", 1.0)
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", 0.0)
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)


def test_a_batch_shares_one_signature_and_each_stored_receipt_verifies_alone(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    ids = make_records(device, 9)
    with SyncClient(device, transport=app_transport, max_batch_bytes=6 * 1024) as client:
        report = client.sync()
    assert report.ok, report.errors
    assert report.accepted == 9 and device.records.status_counts() == {"sent": 9}
    receipts = stored_receipts(device)
    assert sorted(receipts) == sorted(ids)
    assert all(r.proof is not None for r in receipts.values())
    batches = {r.signature for r in receipts.values()}
    assert 1 < len(batches) < 9  # several batches, one signature each
    key = base64.b64decode(device.settings.get("server_public_key") or "")
    for record_id, receipt in receipts.items():
        assert receipt.revision == device.records.get(record_id).revision
        crypto.verify(key, receipt.signature, receipt.signing_bytes())
    assert no_sync_threads()


def test_a_receipt_whose_proof_was_bent_leaves_only_that_record_queued(
    device: Store,
) -> None:
    make_records(device, 4)
    bent: list[str] = []

    def bend_one(body: dict[str, Any]) -> None:
        proof = body["outcomes"][2]["receipt"]["proof"]
        proof["path"][0] = proof["path"][1]
        bent.append(body["outcomes"][2]["id"])

    with Rewriting(on_answer=bend_one) as bending, SyncClient(device, transport=bending) as client:
        report = client.sync()
    assert (report.accepted, report.unconfirmed) == (3, 1)
    assert any("signature" in error for error in report.errors)
    assert device.records.get(bent[0]).status == "queued"
    assert device.records.status_counts() == {"sent": 3, "queued": 1}


def test_a_server_that_signs_each_receipt_alone_is_still_understood(
    device: Store,
) -> None:
    """An older server ignores `?receipts=batch`: every receipt is checked on its own."""

    def older_server(request: httpx.Request) -> httpx.Request:
        url = request.url.copy_remove_param("receipts")
        return httpx.Request(request.method, url, headers=request.headers, content=request.read())

    make_records(device, 3)
    with (
        Rewriting(on_request=older_server) as older,
        SyncClient(device, transport=older) as client,
    ):
        report = client.sync()
    assert report.ok and report.accepted == 3
    receipts = stored_receipts(device).values()
    assert all(r.proof is None for r in receipts) and len({r.signature for r in receipts}) == 3


def test_on_a_measured_link_two_batches_are_at_the_server_at_once_never_more(
    device: Store, app_transport: httpx.BaseTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_link(monkeypatch)
    rates: list[float] = []  # noted by the push's own bodies, not by any large answer
    answering = threading.local()
    note_rate, measured = Traffic.note_rate, Traffic.measured

    def note(self: Traffic, rate: float) -> None:
        if not getattr(answering, "now", False):
            rates.append(rate)
        note_rate(self, rate)

    def answer_measured(self: Traffic, size: int, seconds: float) -> None:
        answering.now = True
        try:
            measured(self, size, seconds)
        finally:
            answering.now = False

    monkeypatch.setattr(Traffic, "note_rate", note)
    monkeypatch.setattr(Traffic, "measured", answer_measured)
    ids = make_records(device, 30)
    done: list[int] = []
    overlap = _Overlap(app_transport)
    with SyncClient(
        device,
        transport=overlap,
        max_batch_bytes=4 * 1024,
        on_progress=lambda answered, total, sent: done.append(answered),
    ) as client:
        report = client.sync()
    assert report.ok and report.accepted == 30, report.errors
    assert overlap.most == 2
    assert 0 < len(rates) <= overlap.alone  # only a batch sent alone measured the link
    assert len(done) > 3 and done == sorted(done) and done[-1] == 30  # written in order
    receipts = stored_receipts(device)
    assert sorted(receipts) == sorted(ids) and device.records.status_counts() == {"sent": 30}
    assert no_sync_threads()


def test_on_a_slow_link_one_batch_at_a_time_fills_the_wire(
    device: Store, app_transport: httpx.BaseTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_push, "SLOW_LINK_BYTES_PER_S", float("inf"))
    monkeypatch.setattr(_push, "_RATE_SAMPLE_BYTES", 0)
    make_records(device, 12)
    overlap = _Overlap(app_transport, hold=0.2)
    with SyncClient(device, transport=overlap, max_batch_bytes=4 * 1024) as client:
        assert client.sync().accepted == 12
    assert overlap.most == 1


@pytest.mark.parametrize("fast", [False, True])
def test_a_refusal_half_way_stops_the_pipeline_and_loses_nothing(
    device: Store,
    deployment: Deployment,
    app_transport: httpx.BaseTransport,
    monkeypatch: pytest.MonkeyPatch,
    fast: bool,
) -> None:
    if fast:  # two batches at the server when it refuses
        fast_link(monkeypatch)
    ids = make_records(device, 30)
    answered: list[int] = []

    def revoke_after_the_first_batch(done: int, total: int, sent: int) -> None:
        answered.append(done)
        if len(answered) == 1:
            with admin.open_server_storage(deployment.settings) as storage:
                admin.revoke(storage, device.device_id)

    with SyncClient(
        device,
        transport=app_transport,
        max_batch_bytes=4 * 1024,
        on_progress=revoke_after_the_first_batch,
    ) as client:
        report = client.sync()

    assert not report.ok and no_sync_threads()
    on_server = {row[0] for row in deployment.query("SELECT id FROM records")}
    statuses = {record_id: device.records.get(record_id).status for record_id in ids}
    sent = {record_id for record_id, status in statuses.items() if status == "sent"}
    assert sent and sent <= on_server  # sent only with the server's receipt
    assert set(statuses.values()) <= {"sent", "queued", "final"}
    assert len(sent) == report.sent < 30  # the rest waits, queued or final, for the next sync
    assert {entry.record_id for entry in device.outbox.pending(limit=100)} == set(ids) - sent


def test_a_damaged_outbox_entry_is_reported_and_the_rest_still_goes(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    ids = make_records(device, 3)
    device.core.db.execute(
        "UPDATE records SET sealed = ? WHERE id = ?", ['{"id": "garbage"}', ids[1]]
    )
    with SyncClient(device, transport=app_transport) as client:
        report = client.sync()
    assert report.accepted == 2
    assert [e for e in report.errors if ids[1] in e and "damaged" in e]
    assert device.records.get(ids[1]).status == "final"


def test_record_outcomes_writes_what_record_outcome_would(device: Store) -> None:
    one_by_one, batched = make_records(device, 4), make_records(device, 4)
    edited = device.records.get(batched[3])
    device.outbox.mark_queued({i: device.records.get(i).revision for i in one_by_one + batched})
    device.records.save_draft(edited.id, {**edited.values, "case_notes": "edited in flight"})
    receipt = '{"receipt": 1}'
    problems = [{"field": "", "path": "", "code": "conflict", "message": "both kept"}]

    def outcomes(ids: list[str]) -> list[Outcome]:
        revisions = [device.records.get(record_id).revision for record_id in ids]
        if ids is batched:
            revisions[3] = edited.revision  # the revision that was in flight
        return [
            Outcome(ids[0], revisions[0], "sent", receipt=receipt),
            Outcome(ids[1], revisions[1], "rejected", problems=problems[:1]),
            Outcome(ids[2], revisions[2], "conflict", problems, receipt, "2-" + "a" * 32),
            Outcome(ids[3], revisions[3], "sent", receipt=receipt),
        ]

    for outcome in outcomes(one_by_one):
        device.outbox.record_outcome(
            outcome.record_id,
            outcome.revision,
            outcome.status,
            problems=outcome.problems,
            receipt=outcome.receipt,
            server_revision=outcome.server_revision,
        )
    gone = Outcome("no-such-record", "1-" + "0" * 32, "sent", receipt=receipt)
    assert device.outbox.record_outcomes([*outcomes(batched), gone]) == 3  # the edit stands

    columns = "status, problems, receipt, server_revision, base_revision, sent_at IS NOT NULL"
    for expected_id, batched_id in zip(one_by_one[:3], batched[:3], strict=True):
        expected = device.core.db.execute(
            f"SELECT {columns} FROM records WHERE id = ?", [expected_id]
        )
        actual = device.core.db.execute(f"SELECT {columns} FROM records WHERE id = ?", [batched_id])
        a, b = expected.fetchone(), actual.fetchone()
        assert a[:4] == b[:4] and a[5] == b[5]
        assert (a[4] is None) == (b[4] is None)  # base: the sent revision, or unchanged
    assert device.records.get(batched[3]).status == "draft"
    assert device.records.get(batched[3]).base_revision == edited.revision


def test_receipts_of_a_push_answer_parse_as_stored(device: Store) -> None:
    """What the store keeps is exactly the receipt the server sent."""
    answers: list[PushResponse] = []

    def keep(body: dict[str, Any]) -> None:
        answers.append(PushResponse.model_validate_json(json.dumps(body)))

    make_records(device, 2)
    with Rewriting(on_answer=keep) as watching, SyncClient(device, transport=watching) as client:
        assert client.sync().accepted == 2
    sent = {str(o.id): o.receipt for answer in answers for o in answer.outcomes}
    assert stored_receipts(device) == sent
