"""A record's attachments in the device's store, on a real SQLite file: kept only as
encrypted chunks under a wrapped key, named in the record's signed envelope with their keys
sealed for the organisation, and erased with the record (purge, consent withdrawal, discard,
wipe). No byte of a photo or of its metadata is ever on disk in clear."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.errors import MediaRejected
from fieldapp.store import Store, StoreError
from sync.protocol import (
    MAX_ATTACHMENT_BYTES,
    RecordEnvelope,
    sealed_attachments,
    without_attachment_keys,
)
from tests.conftest import PASSPHRASE, screening_values
from tests.media._images import needles, photo_jpeg, signature_png

CANARY = "Vexmorrindal"


def disk_hits(folder: Path, canary: str = CANARY) -> list[str]:
    """Every file under `folder` (the SQLite file, its WAL and journal, anything beside them)
    holding the canary in any of its spellings."""
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles(canary))
    ]


def test_add_read_chunk_and_list_round_trip(store: Store) -> None:
    document = os.urandom(600_000)  # three chunks
    ref = store.attachments.add("rec-1", "scan", document, "application/pdf", "scan.pdf")
    assert (ref.field, ref.media_type, ref.size, len(ref.chunks)) == (
        "scan",
        "application/pdf",
        600_000,
        3,
    )
    assert store.attachments.read(ref.id) == document
    stored = store.attachments.get(ref.id)
    assert (stored.record_id, stored.filename, stored.ref) == ("rec-1", "scan.pdf", ref)
    for digest in ref.chunks:
        assert hashlib.sha256(store.attachments.chunk(digest)).hexdigest() == digest
    photo = store.attachments.add_image("rec-1", "photo", photo_jpeg(CANARY))
    assert photo.media_type == "image/jpeg"
    assert store.attachments.for_record("rec-1") == [ref, photo]
    assert store.attachments.for_record("rec-2") == []
    opened = crypto.decrypt_attachment(
        store.attachments.content_key(ref.id),
        ref.id,
        [store.attachments.chunk(digest) for digest in ref.chunks],
        size=ref.size,
    )
    assert opened == document


def test_nothing_of_a_photo_is_on_disk_in_clear(store: Store, store_path: Path) -> None:
    """The canary is in the photo's EXIF, GPS, comment, XMP and ICC profile, in the PNG's text
    chunks, in the first row of pixels of both, and in the file names."""
    photo = photo_jpeg(CANARY)
    signature = signature_png(CANARY)
    assert CANARY.encode() in photo and CANARY.encode() in signature
    draft = store.records.new_draft("victim_screening", {})
    store.attachments.add_image(draft.id, "photo", photo, filename=f"{CANARY}.jpg")
    store.attachments.add_image(
        draft.id, "signature", signature, kind="signature", filename=f"{CANARY}.png"
    )
    # Kept as it came (a file question does not re-encode): still encrypted.
    store.attachments.add(draft.id, "file", photo, "image/jpeg", f"{CANARY} original.jpg")
    assert disk_hits(store_path.parent) == []  # with the WAL not yet folded in
    store.close()
    assert disk_hits(store_path.parent) == []
    reopened = Store(store_path)
    reopened.keyring.unlock(PASSPHRASE)
    names = [
        reopened.attachments.get(ref.id).filename
        for ref in reopened.attachments.for_record(draft.id)
    ]
    assert names == [f"{CANARY}.jpg", f"{CANARY}.png", f"{CANARY} original.jpg"]
    reopened.close()


def test_the_content_key_is_only_on_disk_wrapped(store: Store, store_path: Path) -> None:
    ref = store.attachments.add("rec-1", "file", b"x" * 1000, "text/plain")
    key = store.attachments.content_key(ref.id)
    store.close()
    assert not any(key in path.read_bytes() for path in store_path.parent.rglob("*"))


def test_reading_needs_the_key_and_a_damaged_chunk_is_named(store: Store) -> None:
    ref = store.attachments.add("rec-1", "file", os.urandom(300_000), "application/pdf")
    store.core.db.execute(
        "UPDATE attachment_chunks SET content = ? WHERE digest = ?",
        [store.attachments.chunk(ref.chunks[0]), ref.chunks[1]],  # chunk 1 where 2 belongs
    )
    with pytest.raises(crypto.AttachmentDamaged, match="chunk 2 of 2 is not the one"):
        store.attachments.read(ref.id)
    store.keyring.lock()
    with pytest.raises(StoreError, match="locked"):
        store.attachments.read(ref.id)
    with pytest.raises(StoreError, match="locked"):
        store.attachments.add("rec-1", "file", b"x", "text/plain")
    assert store.attachments.chunk(ref.chunks[0])  # the chunks travel without the key


def test_limits_are_refused_naming_the_field(store: Store) -> None:
    with pytest.raises(MediaRejected, match=r"^scan: the file has 10,485,761 bytes"):
        store.attachments.add("r", "scan", bytes(MAX_ATTACHMENT_BYTES + 1), "application/pdf")
    with pytest.raises(MediaRejected, match=r"^scan: the file is empty"):
        store.attachments.add("r", "scan", b"", "application/pdf")
    for _ in range(4):
        store.attachments.add("r", "scan", bytes(MAX_ATTACHMENT_BYTES), "application/pdf")
    with pytest.raises(MediaRejected, match=r"^extra: .*at most 41,943,040") as refused:
        store.attachments.add("r", "extra", b"x", "text/plain")
    assert (refused.value.field, refused.value.problem) == ("extra", "record_full")
    assert len(store.attachments.for_record("r")) == 4
    with pytest.raises(MediaRejected, match=r"^photo: this file is not an image"):
        store.attachments.add_image("r2", "photo", b"not an image")
    assert store.attachments.for_record("r2") == []
    with pytest.raises(StoreError, match="is not on this device"):
        store.attachments.chunk("00" * 32)
    with pytest.raises(MediaRejected, match=r"^scan: .*\(media_type\)") as refused:
        store.attachments.add("r3", "scan", b"x", "a pdf")
    assert refused.value.problem == "setting"
    long_name = store.attachments.add(
        "r3", "scan", b"x", "Application/PDF", "C:\\scans\\" + "a" * 300
    )
    stored = store.attachments.get(long_name.id)
    assert stored.filename == "a" * 255 and stored.ref.media_type == "application/pdf"
    store.attachments.erase(long_name.id)
    for index in range(64):
        store.attachments.add("r3", f"photo_{index}", b"x", "image/jpeg")
    with pytest.raises(MediaRejected, match=r"^more: this record has 64 attachments already"):
        store.attachments.add("r3", "more", b"x", "image/jpeg")


def photographed(store: Store) -> tuple[str, str, str]:
    """A victim screening whose notes name a photo and a signature (as a media question's
    answer would), finalised: (record id, photo id, signature id)."""
    draft = store.records.new_draft("victim_screening", {})
    photo = store.attachments.add_image(draft.id, "photo", photo_jpeg(CANARY), filename="p.jpg")
    signature = store.attachments.add_image(
        draft.id, "signature", signature_png(CANARY), kind="signature"
    )
    retaken = store.attachments.add_image(draft.id, "photo", photo_jpeg(CANARY))
    store.records.finalise(
        draft.id,
        screening_values(
            case_notes=photo.id,
            referral_org_shelter=signature.id,
        ),
    )
    assert retaken.id not in {ref.id for ref in store.attachments.for_record(draft.id)}
    return draft.id, photo.id, signature.id


def test_the_envelope_names_the_attachments_and_seals_their_keys(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record_id, photo_id, signature_id = photographed(store)
    [entry] = store.outbox.pending()
    envelope = RecordEnvelope.model_validate_json(entry.envelope)
    crypto.verify(store.keyring.public_key, envelope.signature, envelope.signing_bytes())
    assert [ref.id for ref in envelope.attachments] == [photo_id, signature_id]
    assert envelope.attachments == store.attachments.for_record(record_id)
    assert CANARY.encode() not in entry.envelope
    assert envelope.sealed is not None
    opened = json.loads(
        org_key.open(envelope.sealed, crypto.record_aad(record_id, envelope.revision, "sealed"))
    )
    keys = sealed_attachments(opened)
    assert set(keys) == {photo_id, signature_id}
    assert keys[photo_id].filename == "p.jpg" and keys[signature_id].filename is None
    assert without_attachment_keys(opened)["case_notes"] == photo_id
    # The office opens each attachment with the organisation's key alone.
    for ref in envelope.attachments:
        data = crypto.decrypt_attachment(
            keys[ref.id].key,
            ref.id,
            [store.attachments.chunk(digest) for digest in ref.chunks],
            size=ref.size,
            digests=ref.chunks,
        )
        assert data == store.attachments.read(ref.id)
        assert CANARY.encode() not in data


def test_a_record_without_attachments_seals_and_signs_as_before(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record = store.records.create_final("victim_screening", screening_values())
    [entry] = store.outbox.pending()
    assert b'"attachments"' not in entry.envelope
    envelope = RecordEnvelope.model_validate_json(entry.envelope)
    assert envelope.sealed is not None
    opened = json.loads(
        org_key.open(envelope.sealed, crypto.record_aad(record.id, envelope.revision, "sealed"))
    )
    assert "_attachments" not in opened


def test_purge_waits_for_every_chunk_then_erases_them(
    store: Store, store_path: Path, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record_id, photo_id, _ = photographed(store)
    record = store.records.get(record_id)
    store.outbox.record_outcome(
        record_id,
        record.revision,
        "sent",
        receipt='{"seq": 1}',
        received_at=store.settings.server_time(),
    )
    unsent = store.attachments.unsent(record_id)
    assert len(unsent) == 2
    assert store.outbox.purge_sent(older_than=timedelta(0)) == 0  # the server lacks the chunks
    assert store.attachments.mark_sent(unsent[:1]) == 1
    assert store.outbox.purge_sent(older_than=timedelta(0)) == 0
    assert store.attachments.mark_sent(unsent) == 1
    assert store.attachments.unsent(record_id) == []
    assert store.outbox.purge_sent(older_than=timedelta(0)) == 1
    assert store.attachments.for_record(record_id) == []
    with pytest.raises(StoreError, match="not on this device"):
        store.attachments.read(photo_id)
    assert store.core.db.execute("SELECT COUNT(*) FROM attachment_chunks").fetchone()[0] == 0


def test_withdrawn_consent_erases_the_attachments(store: Store, org_key: crypto.OrgKeyPair) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record_id, _, _ = photographed(store)
    store.consent.withdraw(record_id)
    assert store.attachments.for_record(record_id) == []
    [entry] = store.outbox.pending()
    withdrawal = RecordEnvelope.model_validate_json(entry.envelope)
    assert withdrawal.consent_withdrawn and withdrawal.attachments == []


def test_withdrawal_from_elsewhere_erases_them_while_locked(
    store: Store, org_key: crypto.OrgKeyPair
) -> None:
    store.outbox.set_recipients([org_key.recipient])
    record_id, _, _ = photographed(store)
    store.keyring.lock()
    assert store.consent.erase_withdrawn(record_id, "2-" + "a" * 32)
    assert store.attachments.for_record(record_id) == []


def test_a_discarded_draft_and_a_wipe_take_their_attachments(store: Store) -> None:
    draft = store.records.new_draft("victim_screening", {})
    store.attachments.add(draft.id, "file", b"draft file", "text/plain")
    store.records.discard_draft(draft.id)
    assert store.attachments.for_record(draft.id) == []
    other = store.records.new_draft("victim_screening", {})
    store.attachments.add(other.id, "file", b"kept until the wipe", "text/plain")
    store.wipe()
    assert store.core.db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0
    assert store.core.db.execute("SELECT COUNT(*) FROM attachment_chunks").fetchone()[0] == 0
