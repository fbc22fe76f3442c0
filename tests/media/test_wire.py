"""The attachments' manifest on the wire: checked field by field, signed with the envelope,
and left out of an envelope that has none, so every older envelope signs as before."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from sync.protocol import (
    CHUNK_PLAINTEXT_BYTES,
    MAX_ATTACHMENT_BYTES,
    AttachmentRef,
    RecordEnvelope,
    SealedAttachment,
    sealed_attachments,
    without_attachment_keys,
)

DIGEST = "ab" * 32


def ref(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "0123456789abcdef0123456789abcdef",
        "field": "document_photo",
        "media_type": "image/jpeg",
        "size": CHUNK_PLAINTEXT_BYTES + 1,
        "chunks": [DIGEST, "cd" * 32],
    }
    fields.update(overrides)
    return fields


def envelope(**overrides: Any) -> RecordEnvelope:
    fields: dict[str, Any] = {
        "id": uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"),
        "form_id": "victim_screening",
        "form_version": "3",
        "revision": "1-" + "0" * 32,
        "created_at": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 2, 9, 31, tzinfo=UTC),
        "device_id": "device-1",
        "stats": {"sex": "female"},
        "sealed": b"sealed",
        "signature": b"sig",
    }
    fields.update(overrides)
    return RecordEnvelope(**fields)


def test_an_envelope_without_attachments_is_the_same_json_and_signs_the_same() -> None:
    plain = envelope()
    assert "attachments" not in plain.model_dump(mode="json")
    assert '"attachments"' not in plain.model_dump_json()
    # The bytes an envelope of the protocol before attachments signed, written out by hand.
    assert plain.signing_bytes() == (
        b"fieldapp-record-v1\n"
        b'{"base_revision":null,"created_at":"2026-11-02T09:30:00Z","deleted":false,'
        b'"device_id":"device-1","form_id":"victim_screening","form_version":"3",'
        b'"id":"6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f","revision":"1-' + b"0" * 32 + b'",'
        b'"sealed":"c2VhbGVk","stats":{"sex":"female"},'
        b'"updated_at":"2026-11-02T09:31:00Z"}'
    )


def test_the_manifest_is_signed() -> None:
    with_photo = envelope(attachments=[ref()])
    other_chunk = envelope(attachments=[ref(chunks=[DIGEST, "ef" * 32])])
    assert b'"attachments":[{' in with_photo.signing_bytes()
    assert with_photo.signing_bytes() != other_chunk.signing_bytes()
    assert with_photo.content_digest != envelope().content_digest
    again = RecordEnvelope.model_validate_json(with_photo.model_dump_json())
    assert again == with_photo


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"id": "XYZ"}, "id"),
        ({"chunks": [DIGEST]}, "has 2 chunks, not 1"),
        ({"chunks": [DIGEST, "AB" * 32]}, "chunks.1"),
        ({"size": MAX_ATTACHMENT_BYTES + 1}, "size"),
        ({"size": -1}, "size"),
        ({"media_type": "photo"}, "media_type"),
        ({"field": ""}, "field"),
    ],
)
def test_a_bad_manifest_entry_is_refused_naming_its_field(
    overrides: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError, match=where.replace(".", r"\.")):
        AttachmentRef(**ref(**overrides))


def test_a_record_refuses_two_attachments_with_one_id_or_over_40_mib() -> None:
    with pytest.raises(ValidationError, match="its own id"):
        envelope(attachments=[ref(), ref()])
    full = MAX_ATTACHMENT_BYTES
    chunks = ["ab" * 32] * 40
    many = [ref(id=f"{index:032x}", size=full, chunks=chunks) for index in range(4)]
    envelope(attachments=many)  # 40 MiB exactly: accepted
    too_many = [*many, ref(id="f" * 32, size=1, chunks=[DIGEST])]
    with pytest.raises(ValidationError, match="at most 41,943,040 bytes"):
        envelope(attachments=too_many)


def test_the_sealed_part_carries_each_content_key_apart_from_the_answers() -> None:
    opener = {"key": base64.b64encode(b"A" * 32).decode(), "filename": "a.jpg"}
    answers = {"given_name": "x", "_attachments": {"0" * 32: opener}}
    keys = sealed_attachments(answers)
    assert keys == {"0" * 32: SealedAttachment(key=b"A" * 32, filename="a.jpg")}
    assert without_attachment_keys(answers) == {"given_name": "x"}
    assert sealed_attachments({"given_name": "x"}) == {}
    with pytest.raises(ValidationError, match="32 bytes"):
        SealedAttachment(key=b"short")
