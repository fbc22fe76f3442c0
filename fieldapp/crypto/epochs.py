"""Sealing epochs: one HPKE encapsulation to the organisation for many records.

An ML-KEM-768 + X25519 encapsulation costs 1,120 bytes per recipient, more than a typical
record. A device therefore seals a random 32-byte *epoch secret* to the organisation once,
in the *epoch header*, and seals each record of the epoch under a key derived from that
secret, the record's place in the epoch and its own associated data. The epoch is named by
the sha256 of its header (content-addressed): an *epoch envelope* carries that id, the
device signs it with the envelope, and the header travels once per push batch or bundle and
is stored by the server beside the records. The office opens an epoch envelope with the
header and the envelope, nothing else.

Epoch header (integers big-endian)::

    version      1 byte   0x45 ('E')
    count, then per recipient: key_id, kem, length, HPKE(recipient, "fieldapp/epoch/v1") of
                 the 32-byte epoch secret (the layout of a version 0x01 envelope's header)
    dictionary   4-byte length, then a zlib preset dictionary (public: the names of the
                 device's forms' sensitive fields and of their short choice lists)

Epoch envelope::

    version      1 byte   0x02
    epoch_id     32 bytes sha256(epoch header)
    index        4 bytes  the envelope's place in its epoch (never repeats: a key per index)
    payload      AES-256-GCM(key, zero nonce, deflate(plaintext, dictionary), info + the
                 37 bytes above); key = HKDF(secret, "fieldapp/epoch-record/v1" + index + info)

with info = crypto.sealing.envelope_info(aad), as for a version 0x01 envelope. Every key
encrypts one message, so the nonce is fixed and not stored. The epoch secret never leaves
the device's memory except sealed in the header: a new epoch starts when the app starts,
after `EPOCH_MAX_RECORDS` records or `EPOCH_MAX_AGE` seconds, and whenever the
organisation's keys change.
"""

from __future__ import annotations

import hashlib
import struct
import time
import zlib
from collections.abc import Sequence

from fieldapp.crypto._encoding import length_prefixed
from fieldapp.crypto.errors import (
    CryptoError,
    EpochHeaderMismatch,
    EpochHeaderMissing,
    IntegrityError,
)
from fieldapp.crypto.sealing import (
    MAX_SEALED_PLAINTEXT,
    RecipientKey,
    envelope_info,
    header_key_ids,
    parse_envelope,
    sealed_key_header,
)
from fieldapp.crypto.symmetric import encrypt_single_use, hkdf, random_key

__all__ = [
    "EPOCH_ENVELOPE_VERSION",
    "EPOCH_HEADER_VERSION",
    "EPOCH_INFO",
    "EPOCH_MAX_AGE",
    "EPOCH_MAX_RECORDS",
    "MAX_DICTIONARY_BYTES",
    "RAW_DEFLATE",
    "SealingEpoch",
    "envelope_epoch_id",
    "envelope_key_ids",
    "epoch_header_parts",
    "epoch_id_of",
    "epoch_payload",
    "epoch_record_key",
]

EPOCH_HEADER_VERSION = b"E"
EPOCH_ENVELOPE_VERSION = b"\x02"
EPOCH_INFO = b"fieldapp/epoch/v1"
_EPOCH_ID_BYTES = 32
_HEAD_BYTES = 1 + _EPOCH_ID_BYTES + 4  # version, epoch id, index
EPOCH_MAX_RECORDS = 1000
EPOCH_MAX_AGE = 24 * 3600.0
MAX_DICTIONARY_BYTES = 32 * 1024  # zlib's window: a longer dictionary is not used
RAW_DEFLATE = -zlib.MAX_WBITS  # no zlib header or checksum: the AEAD tag covers the bytes


def epoch_id_of(header: bytes) -> str:
    """The id of an epoch header: its sha256, hex."""
    return hashlib.sha256(header).hexdigest()


def epoch_record_key(secret: bytes, index: bytes, info: bytes) -> bytes:
    """The key of the envelope at `index` (4 bytes) of an epoch; `info` binds it to its
    record and revision."""
    return hkdf(secret, b"fieldapp/epoch-record/v1" + index + info)


class SealingEpoch:
    """An epoch secret sealed to the organisation (`header`) and kept in memory only, to seal
    records with (`seal`); `spent` once it sealed enough records or lived long enough."""

    def __init__(self, recipients: Sequence[RecipientKey], dictionary: bytes = b"") -> None:
        if len(dictionary) > MAX_DICTIONARY_BYTES:
            raise CryptoError(f"a sealing dictionary holds at most {MAX_DICTIONARY_BYTES} bytes")
        self._secret = random_key()
        self._dictionary = dictionary
        sealed = sealed_key_header(EPOCH_HEADER_VERSION, self._secret, recipients, EPOCH_INFO)
        self.header = sealed + length_prefixed(dictionary)
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
        if self._sealed >= 2**32 - 1:
            raise CryptoError("a sealing epoch is full: start another")
        index = struct.pack(">I", self._sealed)
        self._sealed += 1
        info = envelope_info(aad)
        head = EPOCH_ENVELOPE_VERSION + bytes.fromhex(self.epoch_id) + index
        key = epoch_record_key(self._secret, index, info)
        if self._dictionary:
            deflate = zlib.compressobj(9, zlib.DEFLATED, RAW_DEFLATE, zdict=self._dictionary)
        else:
            deflate = zlib.compressobj(9, zlib.DEFLATED, RAW_DEFLATE)
        compressed = deflate.compress(plaintext) + deflate.flush()
        return head + encrypt_single_use(key, compressed, info + head)


def envelope_epoch_id(envelope: bytes) -> str | None:
    """The epoch an envelope was sealed in, None for a version 0x01 envelope (its own
    header); IntegrityError if it is neither."""
    if envelope[:1] == EPOCH_ENVELOPE_VERSION:
        if len(envelope) < _HEAD_BYTES:
            raise IntegrityError("epoch envelope is truncated: no epoch id and index")
        return envelope[1 : 1 + _EPOCH_ID_BYTES].hex()
    header_key_ids(envelope)  # a version 0x01 envelope, or IntegrityError
    return None


def epoch_header_parts(
    envelope: bytes, header: bytes | None
) -> tuple[list[tuple[str, str, bytes]], bytes]:
    """([(key_id, kem, sealed epoch secret)], dictionary) of the epoch header an epoch
    envelope names: EpochHeaderMissing without one, EpochHeaderMismatch if `header` is not
    that one, IntegrityError if it is malformed."""
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
    if len(rest) < 4 or struct.unpack_from(">I", rest)[0] != len(rest) - 4:
        raise IntegrityError("epoch header is truncated or corrupt (its dictionary)")
    return [(key_id, kem, sealed) for key_id, kem, sealed in entries], rest[4:]


def epoch_payload(envelope: bytes) -> tuple[bytes, bytes, bytes]:
    """(the envelope's head, its index, its payload): the head is bound into the payload's
    associated data, the index into its key."""
    return (
        envelope[:_HEAD_BYTES],
        envelope[1 + _EPOCH_ID_BYTES : _HEAD_BYTES],
        envelope[_HEAD_BYTES:],
    )


def envelope_key_ids(envelope: bytes, epoch_header: bytes | None = None) -> list[str]:
    """The key ids (`RecipientKey.key_id`) an envelope is sealed to, read without opening it
    (a server checks them against the organisation's keys): from its own header, or for an
    epoch envelope from `epoch_header` (EpochHeaderMissing, EpochHeaderMismatch).
    IntegrityError if the envelope is malformed."""
    if envelope_epoch_id(envelope) is None:
        return header_key_ids(envelope)
    return [key_id for key_id, _, _ in epoch_header_parts(envelope, epoch_header)[0]]
