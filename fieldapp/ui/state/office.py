"""The office workspace's state (`state.office`): which section shows, who this device is to
the server (role, region), and what the last request to the server said. Each section keeps
what it lists in its own observable, held here, so that sections stay side by side.

Reached through the `Office` service only: a device of another role is refused the office
(`open` says so), whatever the screens show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flet as ft

from fieldapp.i18n import Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.messages import MESSAGES, MessageKey
from fieldapp.ui.services import NotAnOfficeDevice, Services
from fieldapp.ui.state.case_files import CaseFilesState
from fieldapp.ui.state.office_devices import DeviceBoard
from fieldapp.ui.state.office_review import ReviewDesk

__all__ = ["OfficeState"]


@ft.observable
@dataclass
class OfficeState:
    """The office as this session shows it."""

    services: Services
    lang: str = "en"
    section: str = ""  # the section shown ("" before one is chosen: the first allowed)
    role: str | None = None  # this device's role, read when the office opens
    region: str | None = None  # None: organisation-wide
    message_key: MessageKey | None = None
    message_params: dict[str, Any] = field(default_factory=dict)
    case_files: CaseFilesState = field(init=False)  # a case manager's opened records
    review: ReviewDesk = field(init=False)  # the review section's list and decision
    devices: DeviceBoard = field(init=False)  # the devices section's list and revocation

    def __post_init__(self) -> None:
        self.case_files = CaseFilesState(services=self.services, lang=self.lang)
        self.review = ReviewDesk(services=self.services, lang=self.lang)
        self.devices = DeviceBoard(services=self.services, lang=self.lang)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.review.lang = lang
        self.devices.lang = lang
        self.case_files.set_language(lang)

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    @property
    def message(self) -> str | None:
        key = self.message_key
        return None if key is None else self.words.entry(MESSAGES[key], **self.message_params)

    def say(self, key: MessageKey | None, **params: Any) -> None:
        self.message_params = params
        self.message_key = key

    @property
    def available(self) -> bool:
        """Whether this device may open the office (its role, as enrolled)."""
        return self.services.office.available

    def open(self) -> bool:
        """Open the office: False (and the reason said) for a device of another role."""
        try:
            self.role = self.services.office.require()
        except NotAnOfficeDevice:
            self.role = None
            self.say("office_refused")
            return False
        self.region = self.services.office.region
        self.say(None)
        return True

    def show(self, section: str) -> None:
        """Show `section` (its id in the registry of the office's sections)."""
        self.say(None)
        self.section = section

    def clear(self) -> None:
        """On lock or wipe: forget who this is and what was said."""
        self.role = None
        self.region = None
        self.case_files.clear()
        self.review.clear()
        self.devices.clear()
        self.say(None)
