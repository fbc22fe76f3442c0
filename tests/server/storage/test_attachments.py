"""The storage contract of attachment chunks: accepted only when a record of the
organisation names them, stored once, a record complete when its head's chunks are all
stored, read by the office and the record's own devices only, erased with the consent."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from sync.protocol import AttachmentsStored
from sync.server.storage import NotFound, Storage
from tests.server._harness import chunk_manifest
from tests.server.conftest import Backend
from tests.server.storage._support import NOW, Member, revision


def ciphertexts(count: int) -> list[bytes]:
    return [os.urandom(64) for _ in range(count)]


def digest(chunk: bytes) -> str:
    return hashlib.sha256(chunk).hexdigest()


def test_a_chunk_is_accepted_only_when_named_and_stored_once(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    chunks = ciphertexts(3)
    record = alice.envelope(attachments=[chunk_manifest(*chunks)])
    [pushed] = storage.push_records(alice.device, [record], NOW)
    assert pushed.status == "accepted"
    stray = os.urandom(64)

    with pytest.raises(NotFound):
        storage.store_chunk(alice.device, digest(stray), stray, NOW)
    assert storage.missing_chunks(org_id, [digest(c) for c in chunks]) == [
        digest(c) for c in chunks
    ]
    assert storage.store_chunk(alice.device, digest(chunks[0]), chunks[0], NOW) is True
    assert storage.store_chunk(alice.device, digest(chunks[0]), chunks[0], NOW) is False

    assert backend.count("attachment_chunks") == 1
    assert storage.missing_chunks(org_id, [digest(c) for c in chunks]) == [
        digest(c) for c in chunks[1:]
    ]
    assert storage.attachment_progress(org_id, [record.id]) == {
        record.id: AttachmentsStored(stored=1, needed=3)
    }
    assert storage.records_waiting_for_attachments() == {org_id: 1}
    for chunk in chunks[1:]:
        storage.store_chunk(alice.device, digest(chunk), chunk, NOW)
    assert storage.attachment_progress(org_id, [record.id])[record.id].complete
    assert storage.records_waiting_for_attachments() == {}
    # The manifest comes back as signed.
    [stored] = storage.list_revisions(org_id, record.id)
    assert stored.to_envelope() == record


def test_another_organisations_record_names_nothing(storage: Storage, org_id: str) -> None:
    alice = Member(storage, org_id, "collector", "north")
    chunk = os.urandom(64)
    storage.push_records(alice.device, [alice.envelope(attachments=[chunk_manifest(chunk)])], NOW)
    other_org = storage.create_organisation("Elsewhere", NOW).id
    mallory = Member(storage, other_org, "collector", "north")

    with pytest.raises(NotFound):
        storage.store_chunk(mallory.device, digest(chunk), chunk, NOW)


def test_chunks_are_read_by_the_office_and_the_records_devices_only(
    storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    chunk = os.urandom(64)
    storage.push_records(alice.device, [alice.envelope(attachments=[chunk_manifest(chunk)])], NOW)
    storage.store_chunk(alice.device, digest(chunk), chunk, NOW)
    readers = [
        alice,
        Member(storage, org_id, "case_manager", None),
        Member(storage, org_id, "case_manager", "north"),
        Member(storage, org_id, "admin", None),
    ]
    strangers = [
        Member(storage, org_id, "collector", "north"),
        Member(storage, org_id, "case_manager", "south"),
        Member(storage, org_id, "coordinator", None),
        Member(storage, org_id, "trainer", "north"),
    ]

    assert [storage.read_chunk(m.device, digest(chunk)) for m in readers] == [chunk] * 4
    for stranger in strangers:
        with pytest.raises(NotFound):
            storage.read_chunk(stranger.device, digest(chunk))


def test_completeness_follows_the_head_revision(storage: Storage, org_id: str) -> None:
    alice = Member(storage, org_id, "collector", "north")
    first, second = os.urandom(64), os.urandom(64)
    v1 = alice.envelope(attachments=[chunk_manifest(first)])
    storage.push_records(alice.device, [v1], NOW)
    storage.store_chunk(alice.device, digest(first), first, NOW)
    v2 = alice.envelope(
        record_id=v1.id,
        rev=revision(2),
        base=v1.revision,
        attachments=[chunk_manifest(first), chunk_manifest(second, field="signature")],
    )
    storage.push_records(alice.device, [v2], NOW)

    assert storage.attachment_progress(org_id, [v1.id]) == {
        v1.id: AttachmentsStored(stored=1, needed=2)
    }


def test_a_consent_withdrawal_erases_the_records_chunks(
    backend: Backend, storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", "north")
    kept_chunk, erased_chunks = os.urandom(64), ciphertexts(2)
    kept = alice.envelope(attachments=[chunk_manifest(kept_chunk)])
    record = alice.envelope(attachments=[chunk_manifest(*erased_chunks)])
    storage.push_records(alice.device, [kept, record], NOW)
    for chunk in [kept_chunk, *erased_chunks]:
        storage.store_chunk(alice.device, digest(chunk), chunk, NOW)
    withdrawal = alice.envelope(
        record_id=record.id, rev=revision(2), base=record.revision, withdrawn=True
    )

    storage.push_records(alice.device, [withdrawal], NOW + timedelta(days=1))

    assert backend.raw("SELECT digest FROM attachment_chunks") == [(digest(kept_chunk),)]
    with pytest.raises(NotFound):  # never stored for it again
        storage.store_chunk(alice.device, digest(erased_chunks[0]), erased_chunks[0], NOW)
