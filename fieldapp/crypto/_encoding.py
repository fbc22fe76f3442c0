"""Encodings shared by the keys and envelopes: bytes as base64 in JSON, and length-prefixed
concatenation (no two different lists of parts give the same bytes)."""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode_if_str(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("expected standard base64") from exc
    return value


# Raw bytes in Python, standard base64 in JSON (and accepted as base64 text on input).
B64Bytes = Annotated[
    bytes,
    BeforeValidator(_b64decode_if_str),
    PlainSerializer(_b64encode, when_used="json"),
]


def length_prefixed(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)
