"""Sealing epochs: one HPKE encapsulation to the organisation for many records.

An ML-KEM-768 + X25519 encapsulation costs 1,120 bytes per recipient, more than a typical
record. A device therefore seals a random 32-byte *epoch secret* to the organisation once
(the *epoch header*, the layout of an envelope's header under version byte 0x45 'E'), and
seals each record of the epoch under a key derived from that secret and the record's own
associated data. The epoch is named by the sha256 of its header (content-addressed): an
*epoch envelope* carries that id, the device signs it with the envelope, and the header
travels once per push batch or bundle and is stored by the server beside the records. The
office opens an epoch envelope with the header and the envelope, nothing else.

Epoch envelope format::

    version      1 byte   0x02
    epoch_id     32 bytes sha256(epoch header)
    payload      encrypt(HKDF(epoch secret, "fieldapp/epoch-record/v1" + info),
                         zlib(plaintext), info + version + epoch_id)

with info = crypto.sealing.envelope_info(aad), as for a version 0x01 envelope. The epoch
secret never leaves the device's memory except sealed in the header: a new epoch starts
when the app starts, after `EPOCH_MAX_RECORDS` records or `EPOCH_MAX_AGE` seconds, and
whenever the organisation's keys change.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Sequence

from fieldapp.crypto.errors import CryptoError, EpochHeaderMismatch, EpochHeaderMissing
from fieldapp.crypto.sealing import (
    MAX_SEALED_PLAINTEXT,
    RecipientKey,
    envelope_info,
    header_key_ids,
    parse_envelope,
    sealed_key_header,
)
from fieldapp.crypto.symmetric import encrypt, hkdf, random_key

__all__ = [
    "EPOCH_ENVELOPE_VERSION",
    "EPOCH_HEADER_VERSION",
    "EPOCH_INFO",
    "EPOCH_MAX_AGE",
    "EPOCH_MAX_RECORDS",
    "SealingEpoch",
    "envelope_epoch_id",
    "envelope_key_ids",
    "epoch_header_entries",
    "epoch_id_of",
    "epoch_payload",
    "epoch_record_key",
]

EPOCH_HEADER_VERSION = b"E"
EPOCH_ENVELOPE_VERSION = b"\x02"
EPOCH_INFO = b"fieldapp/epoch/v1"
_EPOCH_ID_BYTES = 32
EPOCH_MAX_RECORDS = 1000
EPOCH_MAX_AGE = 24 * 3600.0


def epoch_id_of(header: bytes) -> str:
    """The id of an epoch header: its sha256, hex."""
    return hashlib.sha256(header).hexdigest()


def epoch_record_key(secret: bytes, info: bytes) -> bytes:
    """The key of one record's revision in an epoch (its `info` binds record and revision)."""
    return hkdf(secret, b"fieldapp/epoch-record/v1" + info)


class SealingEpoch:
    """An epoch secret sealed to the organisation (`header`) and kept in memory only, to seal
    records with (`seal`); `spent` once it sealed enough records or lived long enough."""

    def __init__(self, recipients: Sequence[RecipientKey]) -> None:
        self._secret = random_key()
        self.header = sealed_key_header(EPOCH_HEADER_VERSION, self._secret, recipients, EPOCH_INFO)
        self.epoch_id = epoch_id_of(self.header)
        self.key_ids = frozenset(recipient.key_id for recipient in recipients)
        self._started = time.monotonic()
        self._sealed = 0

    def spent(self, recipients: Sequence[RecipientKey]) -> bool:
        """Whether a new epoch must start: full, old, or the organisation's keys changed."""
        return (
            self._sealed >= EPOCH_MAX_RECORDS
            or time.monotonic() - self._started >= EPOCH_MAX_AGE
            or self.key_ids != frozenset(recipient.key_id for recipient in recipients)
        )

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """An epoch envelope of `plaintext` (see the module's docstring)."""
        if len(plaintext) > MAX_SEALED_PLAINTEXT:
            raise CryptoError(f"cannot seal more than {MAX_SEALED_PLAINTEXT} bytes")
        info = envelope_info(aad)
        head = EPOCH_ENVELOPE_VERSION + bytes.fromhex(self.epoch_id)
        key = epoch_record_key(self._secret, info)
        self._sealed += 1
        return head + encrypt(key, zlib.compress(plaintext, 9), info + head)


def envelope_epoch_id(envelope: bytes) -> str | None:
    """The epoch an envelope was sealed in, None for a version 0x01 envelope (its own
    header); IntegrityError if it is neither."""
    if envelope[:1] == EPOCH_ENVELOPE_VERSION:
        if len(envelope) < 1 + _EPOCH_ID_BYTES:
            raise EpochHeaderMismatch("epoch envelope is truncated: no epoch id")
        return envelope[1 : 1 + _EPOCH_ID_BYTES].hex()
    header_key_ids(envelope)  # a version 0x01 envelope, or IntegrityError
    return None


def epoch_header_entries(envelope: bytes, header: bytes | None) -> list[tuple[str, str, bytes]]:
    """[(key_id, kem, sealed epoch secret)] of the epoch header an epoch envelope names:
    EpochHeaderMissing without one, EpochHeaderMismatch if `header` is not that one."""
    epoch_id = envelope_epoch_id(envelope)
    if header is None:
        raise EpochHeaderMissing(
            f"the envelope was sealed in epoch {epoch_id}: its header is needed"
        )
    if epoch_id_of(header) != epoch_id:
        raise EpochHeaderMismatch(
            f"the epoch header given is not the one of epoch {epoch_id} (altered or another)"
        )
    _, entries, rest = parse_envelope(header, EPOCH_HEADER_VERSION, "epoch header")
    if rest:
        raise EpochHeaderMismatch("epoch header has trailing bytes")
    return [(key_id, kem, sealed) for key_id, kem, sealed in entries]


def epoch_payload(envelope: bytes) -> tuple[bytes, bytes]:
    """(the envelope's head, its payload): the head is bound into the payload's AAD."""
    split = 1 + _EPOCH_ID_BYTES
    return envelope[:split], envelope[split:]


def envelope_key_ids(envelope: bytes, epoch_header: bytes | None = None) -> list[str]:
    """The key ids (`RecipientKey.key_id`) an envelope is sealed to, read without opening it
    (a server checks them against the organisation's keys): from its own header, or for an
    epoch envelope from `epoch_header` (EpochHeaderMissing, EpochHeaderMismatch).
    IntegrityError if the envelope is malformed."""
    if envelope_epoch_id(envelope) is None:
        return header_key_ids(envelope)
    return [key_id for key_id, _, _ in epoch_header_entries(envelope, epoch_header)]
