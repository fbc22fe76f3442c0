"""Symmetric keys: random keys, AES-256-GCM field encryption bound to its record, key
wrapping, HKDF subkeys and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fieldapp.crypto._encoding import length_prefixed
from fieldapp.crypto.errors import CryptoError, IntegrityError, WrongPassphrase

KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_CIPHERTEXT_VERSION = b"\x01"


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


_SINGLE_USE_NONCE = bytes(_NONCE_BYTES)


def encrypt_single_use(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM under a key that encrypts exactly one message (derived for it alone, as
    an epoch envelope's), so a fixed nonce is safe and none is stored: ciphertext + tag."""
    return _aesgcm(key).encrypt(_SINGLE_USE_NONCE, plaintext, aad)


def decrypt_single_use(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of `encrypt_single_use`; IntegrityError if anything does not match."""
    try:
        return _aesgcm(key).decrypt(_SINGLE_USE_NONCE, blob, aad)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext was altered, or belongs to another record/revision or key"
        ) from None


def wrap_key(kek: bytes, key: bytes, aad: bytes) -> bytes:
    """Encrypt a key under a key-encryption key (the only form a key may be stored in)."""
    if len(key) != KEY_BYTES:
        raise CryptoError(f"only {KEY_BYTES}-byte keys are wrapped, got {len(key)}")
    return encrypt(kek, key, aad)


def unwrap_bytes(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
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
    key = unwrap_bytes(kek, wrapped, aad)
    if len(key) != KEY_BYTES:
        raise IntegrityError(f"unwrapped key has {len(key)} bytes, expected {KEY_BYTES}")
    return key


def record_aad(record_id: str, revision: str, purpose: str = "fields") -> bytes:
    """Associated data binding a ciphertext to one record, revision and purpose.

    Length-prefixed, so no two different (record_id, revision, purpose) give the same bytes:
    a ciphertext copied onto another record or revision fails to decrypt.
    """
    return b"fieldapp/record/v1" + length_prefixed(
        purpose.encode("utf-8"), record_id.encode("utf-8"), revision.encode("utf-8")
    )


def subkey(key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey for one purpose (HKDF-SHA256), so one use cannot leak into another."""
    if not purpose:
        raise CryptoError("a subkey needs a purpose")
    return hkdf(key, b"fieldapp/subkey/v1:" + purpose.encode("utf-8"))


def hkdf(key_material: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    """32 bytes of HKDF-SHA256: every derived key of fieldapp.crypto goes through here."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(
        key_material
    )


def keyed_hash(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 as hex: comparable (e.g. duplicate detection) without revealing the data."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()
