"""The device's store: one encrypted SQLite file, its rooms composed over one connection core.

Each room keeps one job (see its module): `keyring` the keys and unlocking, `settings` the
bookkeeping in clear and the server's clock, `forms` the form versions, `records` drafts,
finalised records and lists, `attachments` their photos, signatures and files, `outbox`
what waits to be sent and the server's answers,
`roster` the team roster and shared items, `consent` erasures, `conflicts` settling
conflicts, `cases` a survivor's case and the services on its timeline, `reviews` the
office's reviews of this device's records. A room is handed the rooms it needs when it is
made, always ones below it, so the dependencies run one way (checked by the `store-rooms`
import contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from fieldapp.store._attachments import Attachments
from fieldapp.store._cases import Cases
from fieldapp.store._conflicts import Conflicts
from fieldapp.store._consent import Consent
from fieldapp.store._core import Core, utc_now
from fieldapp.store._form_files import FormFiles
from fieldapp.store._forms import Forms
from fieldapp.store._keyring import (
    DEFAULT_AUTOLOCK_SECONDS,
    DEFAULT_MAX_FAILED_UNLOCKS,
    Keyring,
    check_new_keys,
)
from fieldapp.store._outbox import Outbox
from fieldapp.store._records import Records
from fieldapp.store._reviews import Reviews
from fieldapp.store._roster import ROSTER, Roster
from fieldapp.store._rows import RecordRows
from fieldapp.store._settings import Settings

__all__ = ["Store"]


class Store:
    """The device's store. Open it (`Store(path)`), then `keyring.unlock` before reading
    records, or `Store.create` a new one (unlocked). Thread-safe: every room holds the core's
    lock."""

    def __init__(
        self,
        path: str | Path,
        *,
        autolock_seconds: float = DEFAULT_AUTOLOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`clock` (monotonic) times the inactivity lock; `wall_clock` is this device's date
        and time, which the person may have set wrong: what must not depend on it (how long
        ago the server took a record) uses `settings.server_time()`."""
        self.core = Core(path, wall_clock=wall_clock)
        self.keyring = Keyring(self.core, autolock_seconds=autolock_seconds, clock=clock)
        self.settings = Settings(self.core)
        self.forms = Forms(self.core, FormFiles(self.core, self.keyring))
        self.attachments = Attachments(self.core, self.keyring)
        self.reviews = Reviews(self.core)
        rows = RecordRows(self.core, self.keyring, self.forms)
        self.outbox = Outbox(self.core, self.keyring, self.settings, rows, self.attachments)
        self.roster = Roster(self.core, self.keyring, rows)
        self.records = Records(
            self.core, self.forms, rows, self.outbox, self.roster, self.attachments
        )
        self.consent = Consent(
            self.core,
            self.keyring,
            rows,
            self.records,
            self.outbox,
            self.roster,
            self.attachments,
        )
        self.conflicts = Conflicts(self.core, rows, self.records)
        self.cases = Cases(self.core, self.forms, self.records, self.consent, self.settings)

    @classmethod
    def create(
        cls,
        path: str | Path,
        passphrase: str,
        *,
        keystore_second_factor: bool = False,
        max_failed_unlocks: int | None = DEFAULT_MAX_FAILED_UNLOCKS,
        autolock_seconds: float = DEFAULT_AUTOLOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> Store:
        """A new store protected by `passphrase`, unlocked, with the built-in forms.

        `max_failed_unlocks`: wrong passphrases before the key is erased, 1 to
        MAX_FAILED_UNLOCKS_CEILING, or None for never; anything else raises InvalidSetting,
        before any file is made (as does a weak passphrase: crypto.WeakPassphrase).
        """
        check_new_keys(
            passphrase,
            second_factor=keystore_second_factor,
            max_failed_unlocks=max_failed_unlocks,
        )
        store = cls(path, autolock_seconds=autolock_seconds, clock=clock, wall_clock=wall_clock)
        store.keyring.create(
            passphrase,
            second_factor=keystore_second_factor,
            max_failed_unlocks=max_failed_unlocks,
        )
        store.forms.install_builtin()
        return store

    @property
    def path(self) -> Path:
        return self.core.path

    @property
    def device_id(self) -> str:
        return self.core.device_id

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes as one durable commit, all or none: the sync client writes a whole
        batch's outcomes at once (on failure the records stay queued, to be re-pushed), an
        import all its rows (on failure none is saved, so running it again duplicates none)."""
        with self.core.transaction():
            yield

    def wipe(self) -> None:
        """Sign out and wipe: erase keys and every record from this device."""
        with self.core.transaction():
            for table in (
                "records",
                "sync_state",
                "recipients",
                "roster_entries",
                "reviews",
                "attachment_chunks",
                "attachments",
            ):
                self.core.db.execute(f"DELETE FROM {table}")  # noqa: S608
            self.core.db.execute("DELETE FROM shared_items WHERE kind = ?", [ROSTER])
        self.keyring.erase()

    def close(self) -> None:
        with self.core.lock:
            self.keyring.lock()
            self.core.close()
