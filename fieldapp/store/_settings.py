"""Settings: what the device keeps in clear besides its records (the sync client's bookkeeping:
server URL, server key, cursor, last sync; the app's preferences) and the time as the server
tells it.

The device's own clock may be set wrong by the person holding it; what must not depend on
it (how long ago the server took a record) goes by the server's clock, as the last sync
measured its offset. Never anything secret here: secrets are the keyring's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fieldapp.store._core import Core

__all__ = ["Settings"]

_CLOCK_OFFSET = "server_clock_offset"  # seconds, the server's clock minus this device's


class Settings:
    def __init__(self, core: Core) -> None:
        self._core = core

    def get(self, key: str) -> str | None:
        """Sync bookkeeping in clear (cursor, server URL, last sync time): never secrets."""
        return self._core.state(key)

    def set(self, key: str, value: str) -> None:
        self._core.set_state(key, value)

    @property
    def wall_clock(self) -> Callable[[], datetime]:
        """This device's date and time (which the person may have set wrong)."""
        return self._core.wall_clock

    def clock_offset(self) -> timedelta | None:
        """The server's clock minus this device's, as the last sync measured it (None before
        any sync did): see `server_time`."""
        stored = self.get(_CLOCK_OFFSET)
        return None if stored is None else timedelta(seconds=float(stored))

    def set_clock_offset(self, offset: timedelta) -> None:
        self.set(_CLOCK_OFFSET, repr(offset.total_seconds()))

    def server_time(self) -> datetime:
        """The server's time as this device can tell it: its own clock corrected by the offset
        the last sync measured (its clock alone before any). If the person changes the
        device's clock, it is off by as much until the next sync measures again."""
        return self._core.wall_clock() + (self.clock_offset() or timedelta(0))
