"""Crypto primitives: passphrase keys, field encryption, sealing to the organisation, signatures.

Everything here is built on `cryptography` (>= 47: Argon2id and HPKE) and the standard library
only, so it ships inside a Flet mobile build.

- A passphrase becomes a key-encryption key with Argon2id (`derive_key`); the random data key is
  stored only wrapped by it (`wrap_key` / `unwrap_key`).
- Field values are AES-256-GCM ciphertexts bound to their record id and revision
  (`encrypt(key, plaintext, record_aad(record_id, revision))`).
- Records travel sealed to the organisation's key pairs with HPKE (RFC 9180), by default with the
  hybrid post-quantum KEM ML-KEM-768 + X25519, because victim data must stay secret for decades.
- Devices sign with Ed25519.
- A team key (per organisation and region, derived from the organisation's private key) lets
  a region's devices share participant rosters the server cannot read; it reaches a device
  wrapped by its one-time enrolment code (`wrap_team_key` / `unwrap_team_key`).

Every failure a person or an attacker can cause raises a `CryptoError` subclass with a clear
message: tampering is an `IntegrityError`, never a crash and never a silent acceptance.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from fieldapp.errors import FieldappError
from sync.protocol import (  # signed bytes and enrolment codes: defined by the protocol
    ENROL_SECRET_SYMBOLS,
    canonical_json,
    normalise_enrol_code,
)

__all__ = [
    "KEY_BYTES",
    "MAX_SEALED_PLAINTEXT",
    "CryptoError",
    "IntegrityError",
    "KdfParams",
    "KemName",
    "OrgKeyPair",
    "RecipientKey",
    "SignatureError",
    "SigningKey",
    "WeakPassphrase",
    "WrongEnrolCode",
    "WrongPassphrase",
    "canonical_json",
    "check_passphrase_policy",
    "decrypt",
    "derive_key",
    "encrypt",
    "enrol_code_secret",
    "enrolment_fingerprint",
    "envelope_key_ids",
    "keyed_hash",
    "random_key",
    "record_aad",
    "seal",
    "subkey",
    "team_aad",
    "unwrap_key",
    "unwrap_team_key",
    "verify",
    "wrap_key",
    "wrap_team_key",
]


class CryptoError(FieldappError):
    """A cryptographic operation failed or was asked to do something unsafe."""


class IntegrityError(CryptoError):
    """Ciphertext was altered, truncated, or belongs to another record, revision or key."""


class WrongPassphrase(CryptoError):
    """The passphrase does not unlock this key."""


class WeakPassphrase(CryptoError):
    """The passphrase is too easy to guess; the message says what is required."""


class SignatureError(CryptoError):
    """A signature does not match the data and public key."""


class WrongEnrolCode(CryptoError):
    """A team key does not open with this enrolment code (or belongs to another scope)."""


KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_CIPHERTEXT_VERSION = b"\x01"
_ENVELOPE_VERSION = b"\x01"

# OWASP Password Storage Cheat Sheet minimums for Argon2id.
_MIN_MEMORY_KIB = 19456
_MIN_ITERATIONS = 2
_MIN_SALT_BYTES = 16
# Upper bounds, so a tampered keyring cannot make a phone allocate gigabytes or spin for hours.
_MAX_MEMORY_KIB = 1024 * 1024
_MAX_ITERATIONS = 64
_MAX_LANES = 16

_MIN_PASSPHRASE_CHARS = 10
_MIN_DISTINCT_CHARS = 5
_MIN_PIN_DIGITS = 6

# A sealed plaintext never decompresses beyond this, so a hostile envelope cannot exhaust memory.
MAX_SEALED_PLAINTEXT = 64 * 1024 * 1024

_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


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
_B64Bytes = Annotated[
    bytes,
    BeforeValidator(_b64decode_if_str),
    PlainSerializer(_b64encode, when_used="json"),
]


# --- passphrases and keys -------------------------------------------------------------------


class KdfParams(BaseModel):
    """Argon2id parameters stored next to a wrapped key (the salt is not secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["argon2id"] = "argon2id"
    memory_kib: int = _MIN_MEMORY_KIB
    iterations: int = _MIN_ITERATIONS
    lanes: int = 1
    salt: _B64Bytes

    @classmethod
    def new(cls) -> KdfParams:
        """OWASP's Argon2id parameters (m = 19 MiB, t = 2, p = 1) with a fresh random salt."""
        return cls(salt=os.urandom(_MIN_SALT_BYTES))


def check_passphrase_policy(passphrase: str, *, keystore_second_factor: bool = False) -> None:
    """Refuse passphrases an attacker holding the device file could guess offline.

    Argon2id at OWASP settings costs ~20 ms per guess, so all 10^6 six-digit PINs fall in
    ~5.6 core-hours: a PIN alone protects nothing once the file is copied. Hence a passphrase
    needs at least 10 characters, 5 of them distinct, and an all-digit passphrase (a PIN) is
    refused. A PIN of at least 6 digits is accepted only when a platform keystore holds a
    second factor (`keystore_second_factor`), so the file alone cannot be brute-forced.
    """
    if passphrase.isdecimal():
        if not keystore_second_factor:
            raise WeakPassphrase(
                "a PIN (digits only) can be guessed in hours from a copied device file: "
                f"use a passphrase of at least {_MIN_PASSPHRASE_CHARS} characters with "
                "letters or symbols"
            )
        if len(passphrase) < _MIN_PIN_DIGITS:
            raise WeakPassphrase(f"a PIN needs at least {_MIN_PIN_DIGITS} digits")
        return
    if len(passphrase) < _MIN_PASSPHRASE_CHARS:
        raise WeakPassphrase(
            f"the passphrase has {len(passphrase)} characters: at least "
            f"{_MIN_PASSPHRASE_CHARS} are required"
        )
    if len(set(passphrase)) < _MIN_DISTINCT_CHARS:
        raise WeakPassphrase(
            f"the passphrase repeats too few characters: at least {_MIN_DISTINCT_CHARS} "
            "different characters are required"
        )


def _check_kdf_params(params: KdfParams) -> None:
    if params.memory_kib < _MIN_MEMORY_KIB or params.iterations < _MIN_ITERATIONS:
        raise CryptoError(
            f"key derivation parameters below the minimum (Argon2id m={params.memory_kib} KiB, "
            f"t={params.iterations}; required m>={_MIN_MEMORY_KIB}, t>={_MIN_ITERATIONS}): "
            "the keyring may have been tampered with"
        )
    if len(params.salt) < _MIN_SALT_BYTES:
        raise CryptoError(f"key derivation salt shorter than {_MIN_SALT_BYTES} bytes")
    if not 1 <= params.lanes <= _MAX_LANES or params.memory_kib < 8 * params.lanes:
        raise CryptoError(f"key derivation lanes must be 1..{_MAX_LANES}")
    if params.memory_kib > _MAX_MEMORY_KIB or params.iterations > _MAX_ITERATIONS:
        raise CryptoError("key derivation parameters are implausibly large")


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """A 32-byte key from a passphrase with Argon2id.

    The passphrase is NFC-normalised so that the same text typed on another keyboard gives the
    same key. Parameters below OWASP's minimums are refused, so editing the stored parameters
    cannot make guessing cheaper.
    """
    _check_kdf_params(params)
    kdf = Argon2id(
        salt=params.salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))


def random_key() -> bytes:
    """A fresh random 32-byte key from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


def _aesgcm(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise CryptoError(f"an AES-256 key is {KEY_BYTES} bytes, got {len(key)}")
    return AESGCM(key)


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random 96-bit nonce: version byte 0x01 + nonce + ciphertext+tag.

    Random nonces are safe for far more messages than one device ever encrypts under a key
    (NIST's 2^32 bound).
    """
    nonce = os.urandom(_NONCE_BYTES)
    return _CIPHERTEXT_VERSION + nonce + _aesgcm(key).encrypt(nonce, plaintext, aad)


def _split_ciphertext(blob: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext+tag) of an `encrypt` output; IntegrityError if malformed."""
    if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES:
        raise IntegrityError(f"ciphertext truncated ({len(blob)} bytes)")
    if blob[:1] != _CIPHERTEXT_VERSION:
        raise IntegrityError(f"unknown ciphertext format version {blob[0]}")
    return blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of `encrypt`; IntegrityError if anything (data, aad, key) does not match."""
    aesgcm = _aesgcm(key)
    nonce, body = _split_ciphertext(blob)
    try:
        return aesgcm.decrypt(nonce, body, aad)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext was altered, or belongs to another record/revision or key"
        ) from None


def wrap_key(kek: bytes, key: bytes, aad: bytes) -> bytes:
    """Encrypt a key under a key-encryption key (the only form a key may be stored in)."""
    if len(key) != KEY_BYTES:
        raise CryptoError(f"only {KEY_BYTES}-byte keys are wrapped, got {len(key)}")
    return encrypt(kek, key, aad)


def _unwrap(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    aesgcm = _aesgcm(kek)
    nonce, body = _split_ciphertext(wrapped)
    try:
        return aesgcm.decrypt(nonce, body, aad)
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase") from None


def unwrap_key(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """The key wrapped by `wrap_key`; WrongPassphrase when the key-encryption key is wrong.

    A wrapped key whose tag fails is indistinguishable from a wrong passphrase; a structurally
    broken one (truncated, unknown version) is an IntegrityError.
    """
    key = _unwrap(kek, wrapped, aad)
    if len(key) != KEY_BYTES:
        raise IntegrityError(f"unwrapped key has {len(key)} bytes, expected {KEY_BYTES}")
    return key


def _length_prefixed(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def record_aad(record_id: str, revision: str, purpose: str = "fields") -> bytes:
    """Associated data binding a ciphertext to one record, revision and purpose.

    Length-prefixed, so no two different (record_id, revision, purpose) give the same bytes:
    a ciphertext copied onto another record or revision fails to decrypt.
    """
    return b"fieldapp/record/v1" + _length_prefixed(
        purpose.encode("utf-8"), record_id.encode("utf-8"), revision.encode("utf-8")
    )


def subkey(key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey for one purpose (HKDF-SHA256), so one use cannot leak into another."""
    if not purpose:
        raise CryptoError("a subkey needs a purpose")
    return _hkdf(key, b"fieldapp/subkey/v1:" + purpose.encode("utf-8"))


def _hkdf(key_material: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    """32 bytes of HKDF-SHA256: every derived key of this module goes through here."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(
        key_material
    )


def keyed_hash(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 as hex: comparable (e.g. duplicate detection) without revealing the data."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


# --- sealing to the organisation (HPKE) -----------------------------------------------------

KemName = Literal["MLKEM768_X25519", "X25519"]

_X25519_BYTES = 32
_MLKEM768_PUBLIC_BYTES = 1184
_MLKEM768_SEED_BYTES = 64
_PUBLIC_KEY_BYTES: dict[str, int] = {
    "X25519": _X25519_BYTES,
    "MLKEM768_X25519": _MLKEM768_PUBLIC_BYTES + _X25519_BYTES,
}
_KEM_IDS: dict[str, int] = {"X25519": 1, "MLKEM768_X25519": 2}
_KEM_NAMES: dict[int, KemName] = {1: "X25519", 2: "MLKEM768_X25519"}
_KEY_ID_BYTES = 8

_PublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
_PrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


def _suite(kem: KemName) -> hpke.Suite:
    hpke_kem = hpke.KEM.X25519 if kem == "X25519" else hpke.KEM.MLKEM768_X25519
    return hpke.Suite(hpke_kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _key_id(kem: str, public_key: bytes) -> str:
    return hashlib.sha256(kem.encode("ascii") + b":" + public_key).hexdigest()[: 2 * _KEY_ID_BYTES]


def _load_public_key(kem: KemName, raw: bytes) -> _PublicKey:
    if len(raw) != _PUBLIC_KEY_BYTES[kem]:
        raise ValueError(f"a {kem} public key is {_PUBLIC_KEY_BYTES[kem]} bytes, got {len(raw)}")
    if kem == "X25519":
        return x25519.X25519PublicKey.from_public_bytes(raw)
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_BYTES]),
        x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_BYTES:]),
    )


class RecipientKey(BaseModel):
    """An organisation public key that records are sealed to (public: safe to publish).

    `key_id` is the first 16 hex digits of sha256(kem + ":" + public_key) and is checked on
    load. An MLKEM768_X25519 public key is the ML-KEM-768 key (1184 bytes) then X25519 (32).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    kem: KemName
    public_key: _B64Bytes

    @classmethod
    def from_public_key(cls, kem: KemName, public_key: bytes) -> RecipientKey:
        return cls(key_id=_key_id(kem, public_key), kem=kem, public_key=public_key)

    @model_validator(mode="after")
    def _consistent(self) -> RecipientKey:
        _load_public_key(self.kem, self.public_key)
        if self.key_id != _key_id(self.kem, self.public_key):
            raise ValueError("key_id does not match the public key")
        return self


def _envelope_info(aad: bytes) -> bytes:
    return b"fieldapp/envelope/v1" + _length_prefixed(aad)


def seal(plaintext: bytes, recipients: Sequence[RecipientKey], aad: bytes) -> bytes:
    """Seal a plaintext so that only the recipients' private keys open it.

    The plaintext is zlib-compressed (before encryption: ciphertext does not compress) and
    encrypted under a random content key; the content key is HPKE-sealed to each recipient with
    `aad` in the HPKE info, so an envelope cannot be replayed onto another record or revision.
    Below, info = b"fieldapp/envelope/v1" + 4-byte length + aad.

    Format (integers big-endian)::

        version      1 byte   0x01
        count        1 byte   number of recipients, 1..255
        count times:
          key_id     8 bytes  RecipientKey.key_id as bytes
          kem        1 byte   1 = X25519, 2 = MLKEM768_X25519
          length     2 bytes  length of the sealed content key
          sealed     HPKE(recipient, info) of the 32-byte content key (RFC 9180 base mode,
                     HKDF-SHA256, AES-256-GCM)
        payload      encrypt(content key, zlib(plaintext), info + everything above)

    The payload's associated data covers the whole header, so changing any byte of the envelope
    makes every recipient's `open` fail.
    """
    unique = list({recipient.key_id: recipient for recipient in recipients}.values())
    if not unique:
        raise CryptoError("sealing needs at least one recipient")
    if len(unique) > 255:
        raise CryptoError("an envelope holds at most 255 recipients")
    if len(plaintext) > MAX_SEALED_PLAINTEXT:
        raise CryptoError(f"cannot seal more than {MAX_SEALED_PLAINTEXT} bytes")
    content_key = random_key()
    info = _envelope_info(aad)
    header = bytearray(_ENVELOPE_VERSION + bytes([len(unique)]))
    for recipient in unique:
        public_key = _load_public_key(recipient.kem, recipient.public_key)
        sealed = _suite(recipient.kem).encrypt(content_key, public_key, info=info)
        header += bytes.fromhex(recipient.key_id)
        header += struct.pack(">BH", _KEM_IDS[recipient.kem], len(sealed))
        header += sealed
    payload = encrypt(content_key, zlib.compress(plaintext, 9), info + bytes(header))
    return bytes(header) + payload


def _header_entries(envelope: bytes) -> tuple[int, list[tuple[str, KemName, int, int]]]:
    """(header length, [(key_id, kem, start and end of the sealed content key)]) of an
    envelope, without copying its bytes; IntegrityError if malformed."""
    corrupt = IntegrityError("envelope is truncated or corrupt")
    if len(envelope) < 2:
        raise corrupt
    if envelope[:1] != _ENVELOPE_VERSION:
        raise IntegrityError(f"unknown envelope format version {envelope[0]}")
    entries: list[tuple[str, KemName, int, int]] = []
    position = 2
    for _ in range(envelope[1]):
        if len(envelope) < position + _KEY_ID_BYTES + 3:
            raise corrupt
        key_id = envelope[position : position + _KEY_ID_BYTES].hex()
        kem_id, length = struct.unpack_from(">BH", envelope, position + _KEY_ID_BYTES)
        position += _KEY_ID_BYTES + 3
        if kem_id not in _KEM_NAMES or len(envelope) < position + length:
            raise corrupt
        entries.append((key_id, _KEM_NAMES[kem_id], position, position + length))
        position += length
    if not entries:
        raise corrupt
    return position, entries


def _parse_envelope(envelope: bytes) -> tuple[bytes, list[tuple[str, KemName, bytes]], bytes]:
    """(header, [(key_id, kem, sealed content key)], payload), IntegrityError if malformed."""
    end, entries = _header_entries(envelope)
    sealed_keys = [(key_id, kem, envelope[start:stop]) for key_id, kem, start, stop in entries]
    return envelope[:end], sealed_keys, envelope[end:]


def envelope_key_ids(envelope: bytes) -> list[str]:
    """The key ids (`RecipientKey.key_id`) an envelope is sealed to, in its order, read from
    its header without opening it: a server checks them against the organisation's keys.
    IntegrityError if the envelope is malformed."""
    return [key_id for key_id, _, _, _ in _header_entries(envelope)[1]]


def _decompress_bounded(data: bytes) -> bytes:
    decompressor = zlib.decompressobj()
    try:
        plaintext = decompressor.decompress(data, MAX_SEALED_PLAINTEXT)
    except zlib.error:
        raise IntegrityError("sealed payload is not valid compressed data") from None
    if decompressor.unconsumed_tail or not decompressor.eof or decompressor.unused_data:
        raise IntegrityError("sealed payload is oversized or malformed")
    return plaintext


# --- organisation key pair ------------------------------------------------------------------


class _OrgKeyFile(BaseModel):
    """The on-disk form of an organisation key pair: the private key only ever wrapped."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["fieldapp-org-key"] = "fieldapp-org-key"
    version: Literal[1] = 1
    recipient: RecipientKey
    kdf: KdfParams
    wrapped_private_key: _B64Bytes


def _org_key_aad(recipient: RecipientKey) -> bytes:
    return b"fieldapp/org-key/v1" + _length_prefixed(
        recipient.kem.encode("ascii"), recipient.public_key
    )


class OrgKeyPair:
    """An organisation's HPKE key pair: opens envelopes sealed to its `recipient` key."""

    def __init__(self, kem: KemName, private_bytes: bytes) -> None:
        """Load from raw private bytes (X25519: 32; MLKEM768_X25519: 64-byte seed + 32)."""
        self._kem: KemName = kem
        self._private_bytes = private_bytes
        self._private_key, public_bytes = self._load_private(kem, private_bytes)
        self._recipient = RecipientKey.from_public_key(kem, public_bytes)

    @staticmethod
    def _load_private(kem: KemName, raw: bytes) -> tuple[_PrivateKey, bytes]:
        try:
            if kem == "X25519":
                key = x25519.X25519PrivateKey.from_private_bytes(raw)
                return key, key.public_key().public_bytes_raw()
            if len(raw) != _MLKEM768_SEED_BYTES + _X25519_BYTES:
                raise ValueError("wrong length")
            pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM768_SEED_BYTES])
            classic = x25519.X25519PrivateKey.from_private_bytes(raw[_MLKEM768_SEED_BYTES:])
        except ValueError:
            raise CryptoError(f"not a valid {kem} private key") from None
        public_bytes = pq.public_key().public_bytes_raw() + classic.public_key().public_bytes_raw()
        return hpke.MLKEM768X25519PrivateKey(pq, classic), public_bytes

    @classmethod
    def generate(cls, kem: KemName = "MLKEM768_X25519") -> OrgKeyPair:
        """A new key pair; the default hybrid KEM stays safe against a future quantum computer."""
        classic = x25519.X25519PrivateKey.generate().private_bytes_raw()
        if kem == "X25519":
            return cls(kem, classic)
        return cls(kem, mlkem.MLKEM768PrivateKey.generate().private_bytes_raw() + classic)

    @property
    def recipient(self) -> RecipientKey:
        return self._recipient

    def __repr__(self) -> str:
        return f"OrgKeyPair(kem={self._kem!r}, key_id={self._recipient.key_id!r})"

    def save(self, path: Path, passphrase: str) -> None:
        """Write the key pair as JSON, private key wrapped by the passphrase, mode 0o600.

        The file is written to a temporary name and renamed, so a crash leaves the old file.
        """
        check_passphrase_policy(passphrase)
        params = KdfParams.new()
        wrapped = encrypt(
            derive_key(passphrase, params), self._private_bytes, _org_key_aad(self._recipient)
        )
        document = _OrgKeyFile(recipient=self._recipient, kdf=params, wrapped_private_key=wrapped)
        temporary = path.with_name(path.name + ".tmp")
        try:
            with os.fdopen(os.open(temporary, _NEW_FILE_FLAGS, 0o600), "wb") as file:
                os.chmod(temporary, 0o600)  # the umask may have cleared bits of 0o600
                file.write(document.model_dump_json(indent=2).encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, passphrase: str) -> OrgKeyPair:
        """Read a key pair written by `save`; WrongPassphrase if the passphrase is wrong."""
        try:
            document = _OrgKeyFile.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise CryptoError(f"{path} is not a valid organisation key file") from exc
        kek = derive_key(passphrase, document.kdf)
        try:
            private_bytes = _unwrap(
                kek, document.wrapped_private_key, _org_key_aad(document.recipient)
            )
        except WrongPassphrase:
            raise WrongPassphrase(f"wrong passphrase for {path}") from None
        pair = cls(document.recipient.kem, private_bytes)
        if pair.recipient != document.recipient:
            raise IntegrityError(f"{path}: the private key does not match its public key")
        return pair

    def team_key(self, org_id: str, region: str | None) -> bytes:
        """The team key of one region of the organisation (region None: its devices without a
        region), derived from the private key: whoever guards the key file can issue it again
        for every enrolment code of that region, and nothing else needs to be kept."""
        return _hkdf(self._private_bytes, b"fieldapp/team-key/v1" + _team_scope(org_id, region))

    def open(self, envelope: bytes, aad: bytes) -> bytes:
        """The plaintext of an envelope sealed to this key pair with the same `aad`."""
        header, entries, payload = _parse_envelope(envelope)
        info = _envelope_info(aad)
        suite = _suite(self._kem)
        for key_id, kem, sealed in entries:
            if key_id != self._recipient.key_id or kem != self._kem:
                continue
            try:
                content_key = suite.decrypt(sealed, self._private_key, info=info)
            except (InvalidTag, ValueError):
                raise IntegrityError(
                    "envelope was altered, or belongs to another record/revision"
                ) from None
            if len(content_key) != KEY_BYTES:
                raise IntegrityError("envelope holds a malformed content key")
            return _decompress_bounded(decrypt(content_key, payload, info + header))
        raise IntegrityError(f"envelope is not sealed to key {self._recipient.key_id}")


# --- team key, delivered wrapped by the enrolment code ---------------------------------------

_ENROL_CODE_SALT = b"fieldapp/enrol-code/v1"


# Crockford's base32 reads O as 0 and I, L as 1: codes never hold those letters.
def enrol_code_secret(code: str) -> str:
    """The secret part of an enrolment code, canonical: its first 16 symbols. What follows is
    a check of the organisation's keys (sync.protocol.EnrolmentCode), public knowledge: the
    server looks a code up, and a team key is wrapped, by the secret alone."""
    return normalise_enrol_code(code)[:ENROL_SECRET_SYMBOLS]


def enrolment_fingerprint(recipients: Sequence[RecipientKey], server_public_key: bytes) -> bytes:
    """SHA-256 over what a device must trust at enrolment: the organisation's recipient keys
    (kem and public key, in key id order) and the server's receipt-signing public key.

    The enrolment code carries it (sync.protocol.EnrolmentCode), so a device recomputes it
    from the server's answer and refuses keys nobody issued the code with.
    """
    ordered = sorted(recipients, key=lambda r: (r.key_id, r.kem, r.public_key))
    parts = [part for r in ordered for part in (r.kem.encode("ascii"), r.public_key)]
    body = _length_prefixed(server_public_key, *parts)
    return hashlib.sha256(b"fieldapp/enrolment-fingerprint/v1" + body).digest()


def _team_scope(org_id: str, region: str | None) -> bytes:
    """Organisation and region, unambiguously (no region differs from every named one)."""
    marked = b"\x00" if region is None else b"\x01" + region.encode("utf-8")
    return _length_prefixed(org_id.encode("utf-8"), marked)


def team_aad(purpose: str, org_id: str, region: str | None, key: str = "") -> bytes:
    """Associated data binding a team ciphertext to its purpose, organisation, region and key:
    a roster entry copied to another region, organisation or entry fails to decrypt."""
    return (
        b"fieldapp/team/v1"
        + _length_prefixed(purpose.encode("utf-8"), key.encode("utf-8"))
        + _team_scope(org_id, region)
    )


def _enrol_code_key(code: str) -> bytes:
    """A key-encryption key from a one-time enrolment code (HKDF-SHA256 with a fixed salt).

    No slow hash: the code's secret has 80 random bits, beyond any search; the server keeps
    only its sha256, so it cannot derive this key from what it stores.
    """
    secret = enrol_code_secret(code)
    if not secret:
        raise CryptoError("an enrolment code is needed to wrap or unwrap a team key")
    return _hkdf(secret.encode("utf-8"), b"fieldapp/enrol-code/v1:team-key-wrap", _ENROL_CODE_SALT)


def wrap_team_key(code: str, team_key: bytes, org_id: str, region: str | None) -> bytes:
    """The team key encrypted (AES-256-GCM) under a key derived from the enrolment code, bound
    to the organisation and region the code enrols into."""
    return wrap_key(_enrol_code_key(code), team_key, team_aad("team-key", org_id, region))


def unwrap_team_key(code: str, wrapped: bytes, org_id: str, region: str | None) -> bytes:
    """The team key `wrap_team_key` wrapped; WrongEnrolCode if the code (or the organisation
    or region it was wrapped for) is not this one."""
    try:
        return unwrap_key(_enrol_code_key(code), wrapped, team_aad("team-key", org_id, region))
    except WrongPassphrase:
        raise WrongEnrolCode(
            "the team key does not open with this enrolment code (or it was wrapped for "
            "another organisation or region)"
        ) from None


# --- device signatures (Ed25519) ------------------------------------------------------------


class SigningKey:
    """A device's Ed25519 signing key."""

    def __init__(self, private_key: ed25519.Ed25519PrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        """From the 32-byte raw private key (as returned by `to_bytes`)."""
        try:
            return cls(ed25519.Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise CryptoError(f"an Ed25519 private key is 32 bytes, got {len(raw)}") from None

    def to_bytes(self) -> bytes:
        """The raw private key: store it only wrapped (`wrap_key`)."""
        return self._private_key.private_bytes_raw()

    @property
    def public_key(self) -> bytes:
        return self._private_key.public_key().public_bytes_raw()

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


def verify(public_key: bytes, signature: bytes, data: bytes) -> None:
    """Raise SignatureError unless `signature` is the Ed25519 signature of `data` by the key."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        raise SignatureError("signature does not match the data and public key") from None
