"""The office's device list (`state.office.devices`): every device of the organisation (the
region's, for a regional office) with its last sync, records waiting and app version as its
last sync said, the silent ones (no sync for more than the chosen number of days, 14 unless
set) first and highlighted; and revoking one, after a confirmation.

Network calls block: the screen runs `load` and `revoke` in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.services import OfficeDevice, OfficeFailed, Services, is_silent

__all__ = ["DeviceBoard"]

MAX_SILENT_DAYS = 3650


@ft.observable
@dataclass
class DeviceBoard:
    """What the devices section lists, and the revocation being confirmed."""

    services: Services
    lang: str = "en"
    rows: list[OfficeDevice] = field(default_factory=list)
    silent_days: int = 0  # read from the device's settings when loaded
    silent_typed: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    loaded: bool = False
    loading: bool = False
    confirm: str | None = None  # the device whose revocation is being confirmed
    problem: str | None = None
    done: str | None = None

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    def load(self) -> None:
        """The devices, silent ones first (blocking)."""
        self.silent_days = self.services.office.silent_days
        self.silent_typed = self.silent_typed or str(self.silent_days)
        self.loading = True
        self.problem = None
        try:
            listed = self.services.office.devices()
        except OfficeFailed as exc:
            self.problem = self.words("The office could not be reached: {detail}", detail=exc)
            return
        finally:
            self.loading = False
        self.rows = sorted(listed, key=lambda d: (not self.silent(d), d.revoked_at is not None))
        self.loaded = True

    def silent(self, device: OfficeDevice) -> bool:
        return is_silent(device, self.silent_days, datetime.now(UTC))

    @property
    def silent_count(self) -> int:
        return sum(1 for d in self.rows if self.silent(d))

    def set_silent_days(self, typed: str) -> bool:
        """The number of days after which a device is silent, kept on this device."""
        _ = self.words
        self.silent_typed = typed
        text = typed.strip()
        if not text.isdigit() or not 0 <= int(text) <= MAX_SILENT_DAYS:
            self.errors = {
                "silent_days": _(
                    "{label}: a whole number of days from 0 to {most}.",
                    label=_("Silent after (days)"),
                    most=MAX_SILENT_DAYS,
                )
            }
            return False
        self.errors = {}
        self.silent_days = int(text)
        self.services.office.set_silent_days(self.silent_days)
        self.rows = sorted(self.rows, key=lambda d: (not self.silent(d), d.revoked_at is not None))
        return True

    def ask_revoke(self, device_id: str | None) -> None:
        """Ask to confirm revoking `device_id` (None: the question is closed)."""
        self.confirm = device_id
        self.done = None

    def revoke(self) -> bool:
        """Revoke the device being confirmed (blocking)."""
        _ = self.words
        device_id, self.confirm = self.confirm, None
        if device_id is None:
            return False
        try:
            revoked = self.services.office.revoke(device_id)
        except OfficeFailed as exc:
            self.problem = _("The device was not revoked: {detail}", detail=exc)
            return False
        self.rows = [
            row.model_copy(update={"revoked_at": revoked.revoked_at})
            if row.id == device_id
            else row
            for row in self.rows
        ]
        self.done = _("{device} is revoked: it can no longer sync.", device=device_id)
        return True

    def clear(self) -> None:
        self.rows = []
        self.loaded = False
        self.confirm = None
        self.problem = self.done = None
