"""Passphrases: the policy that refuses guessable ones, and Argon2id key derivation with
parameters a tampered keyring cannot weaken."""

from __future__ import annotations

import os
import unicodedata
from typing import Literal

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from pydantic import BaseModel, ConfigDict

from fieldapp.crypto._encoding import B64Bytes
from fieldapp.crypto.errors import CryptoError, WeakPassphrase
from fieldapp.crypto.symmetric import KEY_BYTES

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


class KdfParams(BaseModel):
    """Argon2id parameters stored next to a wrapped key (the salt is not secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["argon2id"] = "argon2id"
    memory_kib: int = _MIN_MEMORY_KIB
    iterations: int = _MIN_ITERATIONS
    lanes: int = 1
    salt: B64Bytes

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
