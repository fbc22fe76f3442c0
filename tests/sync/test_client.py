"""The sync client against the real server app (uvicorn in a thread, real HTTP on loopback)
over an injected transport: outcomes and receipts, rejections, conflicts, replays, batching,
backoff, enrolment and URL policy."""

from __future__ import annotations

import base64
import gzip
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.store import Store
from sync import (
    EnrolRefused,
    InsecureServerURL,
    NotEnrolled,
    RetryPolicy,
    ServerRefused,
    SyncClient,
    check_server_url,
    enrol,
)
from sync.protocol import RecordView
from sync.server import admin
from sync.server.app import create_app
from tests.conftest import PASSPHRASE, screening_values
from tests.server._harness import running
from tests.sync._harness import Deployment, Rewriting
from tests.sync._records import copy_store, make_records, receipts


def test_push_sends_every_record_with_a_verified_receipt(
    device: Store, client: SyncClient, deployment: Deployment
) -> None:
    ids = make_records(device, 7)

    report = client.sync()

    assert report.ok, report.errors
    assert (report.accepted, report.duplicate, report.rejected) == (7, 0, 0)
    assert device.records.status_counts() == {"sent": 7}
    server_key = base64.b64decode(device.settings.get("server_public_key") or "")
    stored = receipts(device)
    assert sorted(stored) == sorted(ids)
    for record_id, receipt in stored.items():
        crypto.verify(server_key, receipt.signature, receipt.signing_bytes())
        assert receipt.revision == device.records.get(record_id).revision
    rows = deployment.query("SELECT id, revision FROM records")
    assert sorted(rows) == sorted((i, device.records.get(i).revision) for i in ids)
    assert report.bytes_sent > 0 and report.bytes_received > 0
    assert device.settings.get("last_sync_at") is not None


def test_a_second_sync_sends_nothing_and_pulls_nothing_new(
    device: Store, client: SyncClient
) -> None:
    make_records(device, 2)
    first = client.sync()
    second = client.sync()
    assert first.accepted == 2 and first.pulled > 0
    assert (second.sent, second.pulled, second.requests) == (0, 0, 1)


def test_a_record_for_an_unpublished_form_version_is_rejected_and_stays_editable(
    device: Store, client: SyncClient, deployment: Deployment
) -> None:
    newer = load_builtin_forms()["victim_screening"].model_copy(update={"version": "99"})
    device.forms.add(newer)
    record = device.records.create_final("victim_screening", screening_values())
    assert record.form_version == "99"

    report = client.sync()

    assert report.rejected == 1 and report.ok
    rejected = device.records.get(record.id)
    assert rejected.status == "rejected"
    assert [p["code"] for p in rejected.problems] == ["unknown_form_version"]
    assert rejected.values == record.values  # nothing lost
    assert deployment.query("SELECT count(*) FROM records") == [(0,)]

    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, newer)
    device.records.finalise(record.id, {**record.values, "case_notes": "checked again"})
    again = client.sync()
    assert again.accepted == 1
    assert device.records.get(record.id).status == "sent"


def test_a_receipt_not_signed_by_the_enrolled_server_key_leaves_records_queued(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    make_records(device, 3)
    genuine = device.settings.get("server_public_key") or ""
    impostor = crypto.SigningKey.generate().public_key
    device.settings.set("server_public_key", base64.b64encode(impostor).decode())

    with SyncClient(device, transport=app_transport) as suspicious:
        report = suspicious.sync()

    assert report.unconfirmed == 3 and report.sent == 0
    assert all("signature" in error for error in report.errors)
    assert device.records.status_counts() == {"queued": 3}

    device.settings.set("server_public_key", genuine)
    with SyncClient(device, transport=app_transport) as trusting:
        retried = trusting.sync()
    assert (retried.duplicate, retried.accepted) == (3, 0)
    assert device.records.status_counts() == {"sent": 3}


def test_batches_are_bounded_by_bytes_and_sent_gzipped(device: Store) -> None:
    make_records(device, 12)
    bodies: list[bytes] = []

    def capture(request: httpx.Request) -> httpx.Request:
        if request.url.path == "/v1/records:push":
            assert request.headers["Content-Encoding"] == "gzip"
            bodies.append(gzip.decompress(request.read()))
        return request

    progress: list[tuple[int, int, int]] = []
    limit = 8 * 1024
    with (
        Rewriting(on_request=capture) as capturing,
        SyncClient(
            device,
            transport=capturing,
            max_batch_bytes=limit,
            on_progress=lambda *args: progress.append(args),
        ) as small_batches,
    ):
        report = small_batches.sync()

    assert report.accepted == 12
    assert all(len(body) <= limit for body in bodies)
    envelopes = sum(len(body) for body in bodies)
    assert len(bodies) >= max(2, -(-envelopes // limit))  # as few batches as fit the limit
    assert [done for done, _, _ in progress] == sorted(done for done, _, _ in progress)
    assert progress[-1][:2] == (12, 12)
    assert progress[-1][2] == report.bytes_sent  # only pushes send a body
    assert report.bytes_sent < sum(len(body) for body in bodies)  # compressed on the wire


def test_a_phone_restored_from_a_30_day_old_backup_replays_as_duplicates(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport, tmp_path: Path
) -> None:
    ids = make_records(device, 4)
    backup = copy_store(device, tmp_path / "backup" / "fieldapp.db")
    with SyncClient(device, transport=app_transport) as original:
        assert original.sync().accepted == 4
    first_receipts = receipts(device)
    tables = ("records", "record_heads", "changes")
    before = {t: deployment.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}

    later = datetime.now(UTC) + timedelta(days=30)
    with (
        running(create_app(deployment.settings, clock=lambda: later)) as month_later,
        SyncClient(backup, month_later, transport=app_transport) as replay,
    ):
        report = replay.sync()

    assert (report.duplicate, report.accepted, report.conflict) == (4, 0, 0)
    assert backup.records.status_counts() == {"sent": 4}
    assert receipts(backup) == first_receipts  # the same receipts, a month later
    after = {t: deployment.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    assert after == before
    assert sorted(first_receipts) == sorted(ids)
    backup.close()


def test_two_copies_of_a_store_editing_one_record_offline_both_survive_as_a_conflict(
    device: Store,
    deployment: Deployment,
    app_transport: httpx.BaseTransport,
    app_http: httpx.Client,
    tmp_path: Path,
) -> None:
    record = device.records.create_final("victim_screening", screening_values())
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    tablet = copy_store(device, tmp_path / "tablet" / "fieldapp.db")  # restored from backup

    edit_a = device.records.finalise(record.id, {**record.values, "case_notes": "seen again in A"})
    edit_b = tablet.records.finalise(record.id, {**record.values, "case_notes": "seen again in B"})
    assert edit_a.base_revision == edit_b.base_revision == record.revision
    with SyncClient(device, transport=app_transport) as phone_a:
        first = phone_a.sync()
    with SyncClient(tablet, transport=app_transport) as phone_b:
        second = phone_b.sync()

    assert first.accepted == 1
    assert second.conflict == 1
    conflicted = tablet.records.get(record.id)
    assert conflicted.status == "conflict"
    assert conflicted.server_revision == edit_a.revision
    assert conflicted.values["case_notes"] == "seen again in B"  # kept, for review

    with SyncClient(device, transport=app_transport) as phone_a:
        learns = phone_a.sync()  # device A learns by pulling the record's conflict change
    assert learns.ok
    seen_by_a = device.records.get(record.id)
    assert seen_by_a.status == "conflict"
    assert seen_by_a.values["case_notes"] == "seen again in A"
    assert [p["code"] for p in seen_by_a.problems] == ["conflict"]

    token = device.keyring.secret("token")
    view = app_http.get(
        f"{device.settings.get('server_url')}/v1/records/{record.id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    server_view = RecordView.model_validate_json(view.content)
    assert server_view.in_conflict
    assert server_view.head_revision == edit_a.revision
    assert server_view.siblings == [edit_b.revision]
    assert {r.revision for r in server_view.revisions} == {
        record.revision,
        edit_a.revision,
        edit_b.revision,
    }
    tablet.close()


def test_when_the_office_resolves_a_conflict_both_devices_leave_conflict(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport, tmp_path: Path
) -> None:
    record = device.records.create_final("victim_screening", screening_values())
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    tablet = copy_store(device, tmp_path / "tablet" / "fieldapp.db")
    edit_a = device.records.finalise(record.id, {**record.values, "case_notes": "seen again in A"})
    edit_b = tablet.records.finalise(record.id, {**record.values, "case_notes": "seen again in B"})
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    with SyncClient(tablet, transport=app_transport) as phone_b:
        assert phone_b.sync().conflict == 1
    with SyncClient(device, transport=app_transport) as phone_a:
        phone_a.sync()
    assert (
        device.records.get(record.id).status == tablet.records.get(record.id).status == "conflict"
    )

    with admin.open_server_storage(deployment.settings) as storage:  # at the office
        admin.resolve_conflict(storage, deployment.org_id, record.id, edit_b.revision)

    reports = {}
    for name, store in (("a", device), ("b", tablet)):
        with SyncClient(store, transport=app_transport) as client:
            reports[name] = client.sync()
    assert (reports["a"].resolved, reports["b"].resolved) == (1, 1)
    kept = tablet.records.get(record.id)
    assert (kept.status, kept.base_revision, kept.problems) == ("sent", edit_b.revision, [])
    lost = device.records.get(record.id)  # A's version lost: still on the device, and it says so
    assert (lost.status, lost.revision, lost.base_revision) == (
        "sent",
        edit_a.revision,
        edit_b.revision,
    )
    assert [p["code"] for p in lost.problems] == ["superseded"]
    assert lost.values["case_notes"] == "seen again in A"
    assert device.records.status_counts() == tablet.records.status_counts() == {"sent": 1}

    # An edit from A now builds on the office's choice: accepted, no new conflict.
    again = device.records.finalise(record.id, {**lost.values, "case_notes": "A, on the office's"})
    assert again.base_revision == edit_b.revision
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    with admin.open_server_storage(deployment.settings) as storage:
        head = storage.get_record(deployment.org_id, uuid.UUID(record.id))
    assert (head.head_revision, head.in_conflict) == (again.revision, False)
    assert device.records.get(record.id).problems == []
    tablet.close()


def test_the_versions_in_review_are_read_from_the_server_and_checked(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport, tmp_path: Path
) -> None:
    record = device.records.create_final("victim_screening", screening_values())
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    tablet = copy_store(device, tmp_path / "tablet" / "fieldapp.db")
    edit_a = device.records.finalise(record.id, {**record.values, "sex": "male"})
    edit_b = tablet.records.finalise(
        record.id, {**record.values, "age_band": "35_44", "age_years": 40}
    )
    with SyncClient(tablet, transport=app_transport) as phone_b:
        assert phone_b.sync().accepted == 1
    tablet.close()

    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().conflict == 1
        versions = phone_a.record_versions(record.id)
        with pytest.raises(ValueError, match="badly formed"):
            phone_a.record_view("not-a-record")
        with pytest.raises(ServerRefused, match="no such record"):
            phone_a.record_view(str(uuid.uuid4()))

    assert (versions.record_id, versions.form_id, versions.in_conflict) == (
        record.id,
        "victim_screening",
        True,
    )
    assert versions.head.revision == edit_b.revision
    assert versions.head.stats["age_band"] == "35_44"
    assert "given_name" not in versions.head.stats and versions.head.sealed is not None
    assert [s.revision for s in versions.siblings] == [edit_a.revision]
    assert versions.siblings[0].stats["sex"] == "male"

    # Another device of the organisation may not read it (only its writers and the office).
    other = Store.create(tmp_path / "other" / "fieldapp.db", PASSPHRASE)
    enrol(
        other, device.settings.get("server_url") or "", deployment.code(), transport=app_transport
    )
    with SyncClient(other, transport=app_transport) as stranger, pytest.raises(ServerRefused):
        stranger.record_versions(record.id)
    other.close()


def test_a_conflict_settled_here_stays_settled_until_another_version_conflicts(
    device: Store, deployment: Deployment, app_transport: httpx.BaseTransport, tmp_path: Path
) -> None:
    record = device.records.create_final("victim_screening", screening_values())
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().accepted == 1
    tablet = copy_store(device, tmp_path / "tablet" / "fieldapp.db")
    spare = copy_store(device, tmp_path / "spare" / "fieldapp.db")  # restored later
    device.records.finalise(record.id, {**record.values, "case_notes": "seen again in A"})
    tablet.records.finalise(record.id, {**record.values, "case_notes": "seen again in B"})
    with SyncClient(tablet, transport=app_transport) as phone_b:
        assert phone_b.sync().accepted == 1
    with SyncClient(device, transport=app_transport) as phone_a:
        assert phone_a.sync().conflict == 1

    settled = device.conflicts.settle(record.id)  # keep mine
    with SyncClient(device, transport=app_transport) as phone_a:
        report = phone_a.sync()  # its own acceptance comes back flagged: not a new conflict
        assert (report.accepted, report.conflict) == (1, 0)
        mine = device.records.get(record.id)
        assert (mine.status, mine.revision, mine.conflict_settled) == (
            "sent",
            settled.revision,
            True,
        )
        versions = phone_a.record_versions(record.id)
    assert (versions.head.revision, versions.in_conflict) == (settled.revision, True)

    # A version nobody has seen yet is a new conflict: the device hears of it.
    spare.records.finalise(record.id, {**record.values, "case_notes": "seen again in C"})
    with SyncClient(spare, transport=app_transport) as phone_c:
        assert phone_c.sync().conflict == 1
    with SyncClient(device, transport=app_transport) as phone_a:
        phone_a.sync()
    again = device.records.get(record.id)
    assert (again.status, again.revision, again.server_revision) == (
        "conflict",
        settled.revision,
        settled.revision,
    )
    tablet.close()
    spare.close()


def test_retry_after_and_backoff_hints_are_honoured(
    store: Store, tmp_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    deployment = Deployment.create(
        tmp_path / "strict", org_key, rate_limit_per_minute=120, rate_limit_burst=3
    )
    make_records(store, 6)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with running(create_app(deployment.settings)) as url:
        enrol(store, url, deployment.code())
        retry = RetryPolicy(base_delay=0.01, max_delay=0.05, attempts=10)
        with SyncClient(store, max_batch_bytes=2048, retry=retry, sleep=sleep) as c:
            report = c.sync()

    assert report.ok and report.accepted == 6
    assert report.requests > 3  # more than the burst: some were held back
    assert max(waits) >= 0.4  # the server's hints (Retry-After/Backoff, >= 0.5 s), not jitter


def test_syncing_goes_on_after_the_app_locks_itself(device: Store, client: SyncClient) -> None:
    make_records(device, 2)
    device.keyring.lock()
    assert client.sync().accepted == 2


def test_a_locked_store_never_unlocked_says_so(
    device: Store, app_transport: httpx.BaseTransport
) -> None:
    device.keyring.lock()
    with SyncClient(device, transport=app_transport) as locked:
        report = locked.sync()
    assert not report.ok and "unlock" in report.errors[0]


def test_a_store_that_never_enrolled_cannot_sync(store: Store) -> None:
    with pytest.raises(NotEnrolled):
        SyncClient(store, "https://sync.example.org")


def test_enrolment_is_idempotent_for_the_same_device_and_refused_for_another(
    store: Store,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    record = store.records.create_final("victim_screening", screening_values())  # before enrolment
    code = deployment.code()

    first = enrol(store, app_url, code, transport=app_transport)
    again = enrol(store, app_url, code, transport=app_transport)  # the first answer was "lost"

    assert first.device_id == again.device_id == store.device_id
    assert first.sealed_waiting == 1
    assert store.outbox.recipients()
    with SyncClient(store, transport=app_transport) as client:
        assert client.sync().accepted == 1  # with the token of the second answer
    assert store.records.get(record.id).status == "sent"

    other = Store.create(tmp_path / "other" / "fieldapp.db", PASSPHRASE)
    with pytest.raises(EnrolRefused, match="another device"):
        enrol(other, app_url, code, transport=app_transport)
    with pytest.raises(EnrolRefused, match="not valid"):
        enrol(
            other, app_url, "NPNP-" * 7 + "NPNP", transport=app_transport
        )  # well formed, never issued
    other.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://sync.example.org",
        "http://10.0.0.5:8765",
        "http://192.168.1.1",
        "http://[2001:db8::1]:80",
        "ftp://127.0.0.1",
        "sync.example.org",
    ],
)
def test_cleartext_or_odd_server_urls_are_refused(url: str, device: Store) -> None:
    with pytest.raises(InsecureServerURL):
        check_server_url(url)
    with pytest.raises(InsecureServerURL):
        SyncClient(device, url)
    with pytest.raises(InsecureServerURL):
        enrol(device, url, "ABCDEFGH")


@pytest.mark.parametrize(
    "url",
    [
        "https://sync.example.org/",
        "http://127.0.0.1:8765",
        "http://127.3.2.1",
        "http://[::1]:8765",
        "http://localhost:8765",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str, device: Store) -> None:
    with SyncClient(device, url) as client:  # constructed, never connected
        assert client.base_url == url.rstrip("/")
