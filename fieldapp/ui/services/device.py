"""One device's store file and its clear preferences: first run, unlock, lock, wipe.

The other rooms reach the store through `Device.store`; this one owns opening, creating and
erasing it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fieldapp import __version__, crypto
from fieldapp.errors import StoreError, StoreUnreadable
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store, StoreWiped
from fieldapp.ui.services.errors import SetupFailed

__all__ = [
    "AUTOLOCK_CHOICES",
    "DEFAULT_AUTOLOCK_MINUTES",
    "Device",
    "DeviceState",
    "Theme",
]

log = logging.getLogger(__name__)

DEFAULT_AUTOLOCK_MINUTES = 5
AUTOLOCK_CHOICES = (1, 2, 5, 10, 15, 30)

# "unreadable": the store file cannot be opened (see `Device.unreadable`); it is left as is.
DeviceState = Literal["new", "locked", "unlocked", "wiped", "unreadable"]
Theme = Literal["light", "dark"]

# Clear UI preferences kept in the store's sync_state table (never anything secret).
_PREF_LANG = "ui_lang"
_PREF_THEME = "ui_theme"
_PREF_AUTOLOCK = "ui_autolock_minutes"
_PREF_OFFLINE = "ui_offline"
_STATE_SERVER_URL = "server_url"
_STATE_SERVER_KEY_ID = "server_key_id"
_STATE_LAST_SYNC = "last_sync_at"


class Device:
    """The store file under `data_dir` (absent until the first run makes it) and the
    preferences chosen before and after it exists."""

    def __init__(
        self, data_dir: Path, *, server_url: str | None, clock: Callable[[], float]
    ) -> None:
        self.data_dir = data_dir
        self.store_path = data_dir / STORE_FILENAME
        self.default_server_url = server_url
        self._clock = clock
        self._store: Store | None = None
        self._wiped = False
        self._prefs: dict[str, str] = {}  # before the store exists (first run)
        # Why the store file cannot be opened (damaged, a folder...), or None. The app says so
        # and offers nothing that would replace the file: someone may still recover it.
        self.unreadable: str | None = None
        if self.store_path.exists():
            try:
                store = Store(self.store_path, clock=clock)
            except StoreUnreadable as exc:
                log.error("%s", exc)
                self.unreadable = str(exc)
            else:
                if store.keyring.initialised:
                    self._store = store
                    store.keyring.autolock_seconds = self.autolock_minutes * 60
                else:
                    store.close()

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def state(self) -> DeviceState:
        if self.unreadable is not None:
            return "unreadable"
        if self._wiped:
            return "wiped"
        if self._store is None:
            return "new"
        return "locked" if self._store.keyring.locked else "unlocked"

    @property
    def store(self) -> Store:
        """The device's store; raises StoreError before the first run made it."""
        if self._store is None:
            raise StoreError("this device is not set up yet")
        return self._store

    @property
    def is_set_up(self) -> bool:
        return self._store is not None

    def create(self, passphrase: str, repeated: str) -> None:
        """First run: a new encrypted store protected by `passphrase`, unlocked. Raises
        SetupFailed when the two differ, the passphrase is weak or the old file is
        unreadable (never replaced: someone may recover it)."""
        if self.unreadable is not None:
            raise SetupFailed("store_unreadable", path=str(self.store_path))
        if passphrase != repeated:
            raise SetupFailed("passphrase_mismatch")
        try:
            crypto.check_passphrase_policy(passphrase)
        except crypto.WeakPassphrase:
            raise SetupFailed("passphrase_weak") from None
        self._remove_store_files()
        self._store = Store.create(self.store_path, passphrase, clock=self._clock)
        self._wiped = False
        for key, value in self._prefs.items():
            self._store.settings.set(key, value)
        self._store.keyring.autolock_seconds = self.autolock_minutes * 60

    def unlock(self, passphrase: str) -> None:
        """Raises crypto.WrongPassphrase, or StoreWiped once too many tries erased the key."""
        try:
            self.store.keyring.unlock(passphrase)
        except StoreWiped:
            self._wiped = True
            raise

    def unlock_tries(self) -> tuple[int, int | None]:
        """(wrong passphrases tried since the last unlock, tries left before the wipe: None
        when this device never wipes itself); (0, None) before the first run."""
        if self._store is None or self._wiped:
            return 0, None
        keyring = self._store.keyring
        try:
            return keyring.failed_unlocks, keyring.unlocks_left
        except StoreWiped:
            return 0, None

    def lock(self) -> None:
        if self._store is not None:
            self._store.keyring.lock()

    def touch(self) -> None:
        """User activity: postpone the inactivity lock."""
        if self._store is not None:
            self._store.keyring.touch()

    def wipe(self) -> None:
        """Keys and records erased; the device must be set up again."""
        if self._store is not None:
            self._store.wipe()
            self._store.close()
            self._store = None
        self._remove_store_files()
        self._wiped = True

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _remove_store_files(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                self.store_path.with_name(self.store_path.name + suffix).unlink()

    # -- preferences (clear, never secret) --------------------------------------------------
    def _pref(self, key: str) -> str | None:
        if self._store is not None:
            return self._store.settings.get(key)
        return self._prefs.get(key)

    def _set_pref(self, key: str, value: str) -> None:
        self._prefs[key] = value
        if self._store is not None:
            self._store.settings.set(key, value)

    @property
    def language(self) -> str:
        return self._pref(_PREF_LANG) or "en"

    def set_language(self, lang: str) -> None:
        self._set_pref(_PREF_LANG, lang)

    @property
    def theme(self) -> Theme:
        return "dark" if self._pref(_PREF_THEME) == "dark" else "light"

    def set_theme(self, theme: Theme) -> None:
        self._set_pref(_PREF_THEME, theme)

    @property
    def autolock_minutes(self) -> int:
        stored = self._pref(_PREF_AUTOLOCK)
        return int(stored) if stored and stored.isdigit() else DEFAULT_AUTOLOCK_MINUTES

    def set_autolock_minutes(self, minutes: int) -> None:
        self._set_pref(_PREF_AUTOLOCK, str(minutes))
        if self._store is not None:
            self._store.keyring.autolock_seconds = minutes * 60

    @property
    def offline_mode(self) -> bool:
        return self._pref(_PREF_OFFLINE) == "1" and not self.enrolled

    def work_offline(self, offline: bool = True) -> None:
        self._set_pref(_PREF_OFFLINE, "1" if offline else "0")

    @property
    def version(self) -> str:
        return __version__

    # -- the server, as enrolment left it ---------------------------------------------------
    @property
    def enrolled(self) -> bool:
        if self._store is None:
            return False
        return bool(self._store.settings.get(_STATE_SERVER_URL)) and bool(
            self._store.settings.get(_STATE_SERVER_KEY_ID)
        )

    @property
    def server_url(self) -> str | None:
        return None if self._store is None else self._store.settings.get(_STATE_SERVER_URL)

    @property
    def last_sync_at(self) -> str | None:
        return None if self._store is None else self._store.settings.get(_STATE_LAST_SYNC)
