"""Case files: the organisation's private key unlocked for one office session, opening the
sealed parts of records, and forgotten on `close()` or after some idle minutes.

A case manager picks the organisation's key file (`fieldapp keys init` wrote it, its private
key wrapped by a passphrase with Argon2id) and types its passphrase; `CaseFileKey.unlock`
reads the bytes given (a web page has no path), and keeps only the private key, in this
object's memory: nothing is written anywhere, in any form, and the passphrase is not kept.
Python cannot wipe memory for certain; `close()` drops every reference this object holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from fieldapp.crypto.epochs import envelope_key_ids
from fieldapp.crypto.errors import (
    CaseFilesLocked,
    CryptoError,
    IntegrityError,
    WrongOrganisationKey,
)
from fieldapp.crypto.org_key import OrgKeyPair
from fieldapp.crypto.sealing import RecipientKey
from fieldapp.crypto.symmetric import record_aad

__all__ = ["DEFAULT_IDLE_MINUTES", "CaseFileKey"]

# A case manager's key is forgotten after this long without opening a record.
DEFAULT_IDLE_MINUTES = 15.0


class CaseFileKey:
    """The organisation's private key for one session: `open` the sealed parts of records,
    `close` to forget it (also after `idle_minutes` without use: a timer forgets it, and any
    use after that time finds it locked even if the timer has not run)."""

    def __init__(
        self,
        pair: OrgKeyPair,
        *,
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> None:
        """Prefer `unlock`. `clock` (seconds) decides idleness; `timer` False leaves the
        forgetting to the next use (tests that move a clock by hand)."""
        if idle_minutes <= 0:
            raise ValueError("idle_minutes must be positive")
        self._pair: OrgKeyPair | None = pair
        self._key_id = pair.recipient.key_id
        self._idle = idle_minutes * 60
        self._clock = clock
        self._last_used = clock()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._use_timer = timer
        self._arm()

    @classmethod
    def unlock(
        cls,
        key_file: bytes,
        passphrase: str,
        *,
        organisation: Sequence[RecipientKey] = (),
        source: str = "the key file",
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> CaseFileKey:
        """The key in `key_file` (the bytes of an organisation key file), unwrapped with
        `passphrase`. NotAKeyFile, WrongPassphrase; WrongOrganisationKey if `organisation`
        (the recipient keys this device enrolled with) does not list it."""
        pair = OrgKeyPair.from_file_bytes(key_file, passphrase, source)
        known = [recipient.key_id for recipient in organisation]
        if known and pair.recipient.key_id not in known:
            raise WrongOrganisationKey(
                f"{source} holds key {pair.recipient.key_id}, which is not one of this"
                f" organisation's keys ({', '.join(known)}): pick your organisation's key file"
            )
        return cls(pair, idle_minutes=idle_minutes, clock=clock, timer=timer)

    @property
    def key_id(self) -> str:
        """The id of the organisation key this session holds (public)."""
        return self._key_id

    @property
    def locked(self) -> bool:
        """Whether the key is forgotten (by `close`, or because it sat idle too long)."""
        with self._lock:
            self._expire_locked()
            return self._pair is None

    def open(
        self, record_id: str, revision: str, sealed: bytes, epoch_header: bytes | None = None
    ) -> dict[str, Any]:
        """The sensitive answers sealed in one revision of one record (an epoch envelope with
        its `epoch_header`, as the server gives it: crypto.epochs). CaseFilesLocked once
        forgotten; WrongOrganisationKey if the record is not sealed to this key;
        IntegrityError (EpochHeaderMissing, EpochHeaderMismatch) if the envelope or its epoch
        header was altered or belongs to another record/revision."""
        pair = self._in_use()
        try:
            sealed_to = envelope_key_ids(sealed, epoch_header)
        except IntegrityError as exc:
            raise type(exc)(f"record {record_id}: {exc}") from None
        if self._key_id not in sealed_to:
            raise WrongOrganisationKey(
                f"record {record_id} is not sealed to key {self._key_id} (it is sealed to"
                f" {', '.join(sealed_to)}): another organisation's key, or one retired"
            )
        try:
            plaintext = pair.open(sealed, record_aad(record_id, revision, "sealed"), epoch_header)
        except IntegrityError as exc:
            raise IntegrityError(f"record {record_id} revision {revision}: {exc}") from None
        try:
            answers = json.loads(plaintext)
        except ValueError:
            answers = None
        if not isinstance(answers, dict):
            raise CryptoError(f"record {record_id}: the sealed part holds no answers")
        self._arm()
        return answers

    def open_envelope(self, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of another envelope sealed to this key with `aad` (an incoming
        referral's). CaseFilesLocked once forgotten; IntegrityError as `OrgKeyPair.open`."""
        plaintext = self._in_use().open(sealed, aad)
        self._arm()
        return plaintext

    def _in_use(self) -> OrgKeyPair:
        """The key pair, its use noted; CaseFilesLocked once forgotten."""
        with self._lock:
            self._expire_locked()
            pair = self._pair
            if pair is None:
                raise CaseFilesLocked("the case files are locked: unlock them with the key file")
            self._last_used = self._clock()
        return pair

    def close(self) -> None:
        """Forget the key (idempotent)."""
        with self._lock:
            self._forget_locked()

    def __enter__(self) -> CaseFileKey:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "locked" if self._pair is None else "unlocked"
        return f"CaseFileKey(key_id={self._key_id!r}, {state})"

    # -- idle time ---------------------------------------------------------------------------

    def _expire_locked(self) -> None:
        if self._pair is not None and self._clock() - self._last_used >= self._idle:
            self._forget_locked()

    def _forget_locked(self) -> None:
        self._pair = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        """(Re)start the timer that forgets the key once idle."""
        if not self._use_timer:
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._pair is None:
                return
            self._timer = threading.Timer(self._idle, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._expire_locked()
            left = None if self._pair is None else self._idle - (self._clock() - self._last_used)
        if left is not None:  # used since the timer started: wait for the rest
            with self._lock:
                self._timer = threading.Timer(max(left, 0.01), self._on_timer)
                self._timer.daemon = True
                self._timer.start()
