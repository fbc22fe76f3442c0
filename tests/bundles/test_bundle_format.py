"""The bundle file's frame on its own: what a reader refuses before any signature or store is
involved, and the signature covering header and content."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import pytest

from fieldapp import crypto
from sync.protocol import BUNDLE_FORMAT, BundleError, pack_bundle, read_bundle
from sync.protocol.bundles import BUNDLE_MAGIC

KEY = crypto.SigningKey.generate()
PAYLOAD = json.dumps({"records": [], "roster": []}).encode()


def _bundle(payload: bytes = PAYLOAD) -> bytes:
    return pack_bundle(
        "device",
        writer_id="device-1",
        org_id="org-1",
        created_at=datetime(2026, 12, 4, tzinfo=UTC),
        counts={"records": 0, "roster": 0},
        payload=payload,
        sign=KEY.sign,
    )


def test_round_trip_and_the_signature_covers_header_and_content() -> None:
    signed = read_bundle(_bundle())
    assert signed.header.format == BUNDLE_FORMAT and signed.payload == PAYLOAD
    crypto.verify(KEY.public_key, signed.signature, signed.header.signing_bytes())
    other = read_bundle(_bundle(json.dumps({"records": [], "roster": [], "x": 1}).encode()))
    with pytest.raises(crypto.SignatureError):  # another content: another signed digest
        crypto.verify(KEY.public_key, signed.signature, other.header.signing_bytes())


def _with_header(header: dict[str, object]) -> bytes:
    data = _bundle()
    size = struct.unpack(">I", data[16:20])[0]
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return BUNDLE_MAGIC + struct.pack(">I", len(head)) + head + data[20 + size :]


def test_a_newer_format_is_refused_by_name() -> None:
    header = read_bundle(_bundle()).header.model_dump(mode="json")
    with pytest.raises(BundleError, match="newer format"):
        read_bundle(_with_header({**header, "format": 2}))


def test_extra_bytes_and_an_inflation_beyond_the_signed_size_are_refused() -> None:
    with pytest.raises(BundleError, match="extra bytes"):
        read_bundle(_bundle() + b"\0")
    header = read_bundle(_bundle()).header.model_dump(mode="json")
    with pytest.raises(BundleError, match="damaged"):
        read_bundle(_with_header({**header, "payload_bytes": 3}))
    with pytest.raises(BundleError, match="not a fieldapp bundle"):
        read_bundle(b"PK\x03\x04" + _bundle())
