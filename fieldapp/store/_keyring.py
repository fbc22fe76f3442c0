"""The keyring: the random data key every record is encrypted under, kept on disk only wrapped
by the passphrase key (Argon2id); the device's signing key, wrapped by the data key; unlocking
(each failure counted, the keys erased at the policy's limit), locking after inactivity, and
secrets such as the server's token, encrypted under the data key.

One room holds the keys so that one place decides when they are in memory: every other room
asks it for the data key (`require_key`) and fails with StoreLocked when it is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fieldapp import crypto
from fieldapp.errors import StoreError, StoreLocked
from fieldapp.store._core import Core
from fieldapp.store._types import InvalidSetting, StoreWiped

__all__ = [
    "DEFAULT_AUTOLOCK_SECONDS",
    "DEFAULT_MAX_FAILED_UNLOCKS",
    "MAX_FAILED_UNLOCKS_CEILING",
    "Keyring",
    "check_new_keys",
]

log = logging.getLogger(__name__)

DEFAULT_AUTOLOCK_SECONDS = 300
DEFAULT_MAX_FAILED_UNLOCKS = 10
# A wipe after more wrong passphrases than this no longer stops a patient guesser.
MAX_FAILED_UNLOCKS_CEILING = 100
_KEY_AAD = b"fieldapp/store/data-key/v1"
_SIGNING_AAD = b"fieldapp/store/signing-key/v1"
_SECRET_PREFIX = "secret:"  # noqa: S105 (secrets are kept in sync_state under this prefix)


def check_new_keys(passphrase: str, *, second_factor: bool, max_failed_unlocks: int | None) -> None:
    """Refuse a weak passphrase (crypto.WeakPassphrase) or a failed-unlock limit out of its
    range, 1 to MAX_FAILED_UNLOCKS_CEILING or None for never (InvalidSetting): checked
    before a store file is made."""
    limit = max_failed_unlocks
    if limit is not None and not 1 <= limit <= MAX_FAILED_UNLOCKS_CEILING:
        raise InvalidSetting(
            f"max_failed_unlocks must be a whole number from 1 to"
            f" {MAX_FAILED_UNLOCKS_CEILING} (or None: never erase), not {limit}"
        )
    crypto.check_passphrase_policy(passphrase, keystore_second_factor=second_factor)


class Keyring:
    """The device's keys. `clock` (monotonic) times the inactivity lock."""

    def __init__(self, core: Core, *, autolock_seconds: float, clock: Callable[[], float]) -> None:
        self._core = core
        self._clock = clock
        self.autolock_seconds = autolock_seconds
        self._key: bytes | None = None
        self._signing: crypto.SigningKey | None = None
        self._last_used = clock()

    @property
    def initialised(self) -> bool:
        with self._core.lock:
            return bool(self._core.db.execute("SELECT count(*) FROM keyring").fetchone()[0])

    def create(
        self, passphrase: str, *, second_factor: bool, max_failed_unlocks: int | None
    ) -> None:
        """New keys, wrapped by `passphrase` (see `check_new_keys`), and held: the store is
        unlocked."""
        with self._core.lock:
            if self.initialised:
                raise StoreError(f"{self._core.path} already holds a store")
            params = crypto.KdfParams.new()
            key = crypto.random_key()
            signing = crypto.SigningKey.generate()
            self._core.db.execute(
                "INSERT INTO keyring (id, kdf, wrapped_key, wrapped_signing_key,"
                " max_failed_unlocks, second_factor) VALUES (1, ?, ?, ?, ?, ?)",
                [
                    params.model_dump_json(),
                    crypto.wrap_key(crypto.derive_key(passphrase, params), key, _KEY_AAD),
                    crypto.encrypt(key, signing.to_bytes(), _SIGNING_AAD),
                    max_failed_unlocks,
                    int(second_factor),
                ],
            )
            self._hold(key, signing)

    # -- locking ------------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        with self._core.lock:
            if self._key is not None and self._clock() - self._last_used > self.autolock_seconds:
                self.lock()
            return self._key is None

    def lock(self) -> None:
        """Forget the keys; records stay readable only after `unlock`."""
        with self._core.lock:
            self._key = None
            self._signing = None

    def touch(self) -> None:
        """Note user activity, postponing the inactivity lock."""
        with self._core.lock:
            if not self.locked:
                self._last_used = self._clock()

    def unlock(self, passphrase: str) -> None:
        """Unwrap the data key. Each failure counts; at the policy's limit the key is erased."""
        with self._core.lock:
            row = self._keyring()
            # Count the attempt durably *before* trying it: killing the app mid-check must
            # not give an attacker free guesses.
            self._core.db.execute(
                "UPDATE keyring SET failed_unlocks = failed_unlocks + 1 WHERE id = 1"
            )
            params = crypto.KdfParams.model_validate_json(row["kdf"])
            try:
                key = crypto.unwrap_key(
                    crypto.derive_key(passphrase, params), row["wrapped_key"], _KEY_AAD
                )
            except crypto.WrongPassphrase:
                limit = row["max_failed_unlocks"]
                if limit is not None and row["failed_unlocks"] + 1 >= limit:
                    self.erase()
                    raise StoreWiped(
                        f"{limit} failed unlocks: the key was erased and the data on this "
                        "device can no longer be read"
                    ) from None
                raise
            self._core.db.execute("UPDATE keyring SET failed_unlocks = 0 WHERE id = 1")
            log.debug("store %s unlocked", self._core.path.name)
            signing = crypto.decrypt(key, row["wrapped_signing_key"], _SIGNING_AAD)
            self._hold(key, crypto.SigningKey.from_bytes(signing))

    @property
    def unlocks_left(self) -> int | None:
        """How many wrong passphrases may still be tried before the key is erased (the last
        one erases it), or None when the policy never erases. Readable while locked."""
        with self._core.lock:
            row = self._keyring()
            limit = row["max_failed_unlocks"]
            return None if limit is None else max(int(limit) - int(row["failed_unlocks"]), 0)

    @property
    def failed_unlocks(self) -> int:
        """Wrong passphrases tried since the last unlock."""
        with self._core.lock:
            return int(self._keyring()["failed_unlocks"])

    def change_passphrase(self, old: str, new: str) -> None:
        with self._core.lock:
            crypto.check_passphrase_policy(
                new, keystore_second_factor=bool(self._keyring()["second_factor"])
            )
            self.unlock(old)
            params = crypto.KdfParams.new()
            wrapped = crypto.wrap_key(crypto.derive_key(new, params), self.require_key(), _KEY_AAD)
            self._core.db.execute(
                "UPDATE keyring SET kdf = ?, wrapped_key = ? WHERE id = 1",
                [params.model_dump_json(), wrapped],
            )
            self._core.checkpoint()

    def erase(self) -> None:
        """Erase the wrapped keys from the file (and the WAL) and forget them: nothing on this
        device can be decrypted any more."""
        with self._core.lock:
            self._core.db.execute(
                "UPDATE keyring SET wrapped_key = NULL, wrapped_signing_key = NULL WHERE id = 1"
            )
            self.lock()
            self._core.checkpoint()

    # -- the keys, for the other rooms ---------------------------------------------------
    def require_key(self) -> bytes:
        """The data key (the store must be unlocked); counts as activity."""
        with self._core.lock:
            if self.locked or self._key is None:
                raise StoreLocked("the store is locked: unlock it with the passphrase")
            self._last_used = self._clock()
            return self._key

    def sign(self, message: bytes) -> bytes:
        """This device's signature over `message` (the store must be unlocked)."""
        with self._core.lock:
            self.require_key()
            assert self._signing is not None
            return self._signing.sign(message)

    def sign_unattended(self, message: bytes) -> bytes:
        """As `sign`, for a background sync signing its batches: not counted as activity, so
        the store still locks when the person is away. Raises StoreLocked."""
        with self._core.lock:
            if self.locked or self._signing is None:
                raise StoreLocked("the store is locked: unlock it with the passphrase")
            return self._signing.sign(message)

    @property
    def public_key(self) -> bytes:
        with self._core.lock:
            self.require_key()
            assert self._signing is not None
            return self._signing.public_key

    # -- secrets --------------------------------------------------------------------------
    def secret(self, name: str) -> str | None:
        """A secret (a bearer token, the team key) stored encrypted under the data key."""
        with self._core.lock:
            data_key = self.require_key()
            stored = self._core.state(_SECRET_PREFIX + name)
            if stored is None:
                return None
            return crypto.decrypt(data_key, bytes.fromhex(stored), _secret_aad(name)).decode()

    def set_secret(self, name: str, value: str) -> None:
        with self._core.lock:
            blob = crypto.encrypt(self.require_key(), value.encode(), _secret_aad(name))
            self._core.set_state(_SECRET_PREFIX + name, blob.hex())

    def has_secret(self, name: str) -> bool:
        """Whether a secret is kept (works while locked: nothing is decrypted)."""
        return self._core.state(_SECRET_PREFIX + name) is not None

    def forget_secret(self, name: str) -> None:
        self._core.delete_state(_SECRET_PREFIX + name)

    def _hold(self, key: bytes, signing: crypto.SigningKey) -> None:
        self._key, self._signing = key, signing
        self._last_used = self._clock()

    def _keyring(self) -> dict[str, Any]:
        row = next(self._core.db.query("SELECT * FROM keyring WHERE id = 1"), None)
        if row is None:
            raise StoreError(f"{self._core.path} has no keyring: create the store first")
        if row["wrapped_key"] is None:
            raise StoreWiped("the key of this store was erased: its data can no longer be read")
        return row


def _secret_aad(name: str) -> bytes:
    return b"fieldapp/store/secret/" + name.encode()
