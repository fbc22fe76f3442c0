"""Case files as the office shows them (`state.office.case_files`): the key file picked, the
organisation's key unlocked or not, the records to open, and the record opened, its answers
in words. Held in memory only; `lock` forgets the key and everything opened with it.

A record's opened answers are kept here while it is shown, never written: closing it, locking
the case files, locking the device or the key's idle time drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flet as ft

from fieldapp.forms.answers import AnswerLine
from fieldapp.i18n import N_, Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.services import OfficeFailed, OfficeRecord, Services
from fieldapp.ui.services.case_files import (
    CaseFilesLocked,
    CryptoError,
    IntegrityError,
    NotACaseManager,
    NotAKeyFile,
    OpenedRecord,
    WrongKeyPassphrase,
    WrongOrganisationKey,
)

__all__ = ["CASE_FILE_MESSAGES", "CaseFilesState"]

# What the case files say, by key (translated when shown).
CASE_FILE_MESSAGES: dict[str, str] = {
    "refused": N_("Case files are for case managers and administrators only."),
    "no_key_file": N_("Choose the organisation's key file first."),
    "no_passphrase": N_("Type the key file's passphrase."),
    "not_a_key_file": N_("That file is not an organisation key file."),
    "wrong_passphrase": N_("Wrong passphrase for this key file."),
    "wrong_organisation": N_(
        "That key file belongs to another organisation: choose your organisation's key file."
    ),
    "locked": N_("The case files were locked (after some time unused): unlock them again."),
    "tampered": N_(
        "This record's sealed part was altered or damaged: it cannot be opened. Tell your"
        " administrator."
    ),
    "not_sealed_to_key": N_("This record is not sealed to this key: it cannot be opened."),
    # TRANSLATORS: {detail} is the server's or the connection's reason, in English.
    "server": N_("The record could not be fetched: {detail}"),
    "unlocked": N_("Case files unlocked. The key is held in memory until you lock them."),
    "locked_by_hand": N_("Case files locked: the key is forgotten."),
}


# What a refusal says, most specific first (a CryptoError not named here: tampered).
_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (NotACaseManager, "refused"),
    (NotAKeyFile, "not_a_key_file"),
    (WrongKeyPassphrase, "wrong_passphrase"),
    (WrongOrganisationKey, "wrong_organisation"),
    (CaseFilesLocked, "locked"),
    (IntegrityError, "tampered"),
    (CryptoError, "tampered"),
)


@ft.observable
@dataclass
class CaseFilesState:
    """The case files of this session."""

    services: Services
    lang: str = "en"
    key_file_name: str | None = None  # the file picked (its bytes held until unlocked)
    unlocked: bool = False
    records: list[OfficeRecord] = field(default_factory=list)
    next_cursor: str | None = None
    opened: OpenedRecord | None = None
    lines: list[AnswerLine] = field(default_factory=list)
    message_key: str | None = None
    message_params: dict[str, Any] = field(default_factory=dict)
    problem: bool = False
    _key_file: bytes | None = None

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    @property
    def available(self) -> bool:
        return self.services.case_files.available

    @property
    def message(self) -> str | None:
        if self.message_key is None:
            return None
        text = self.words(CASE_FILE_MESSAGES[self.message_key])
        return text.format(**self.message_params) if self.message_params else text

    def _say(self, key: str | None, *, problem: bool = False, **params: Any) -> None:
        self.message_params = params
        self.problem = problem
        self.message_key = key

    def pick_key_file(self, name: str, data: bytes) -> None:
        """The key file the person chose (its bytes, read by the browser or from its path)."""
        self.key_file_name = name
        self._key_file = data
        self._say(None)

    def _refused(self, exc: Exception, *, opening: bool = False) -> bool:
        """Say why a step failed (False, for the caller to return); re-raise the unknown."""
        if isinstance(exc, OfficeFailed):
            self._say("server", problem=True, detail=str(exc))
            return False
        if isinstance(exc, CaseFilesLocked):
            self._forget()
        for kind, key in _REFUSALS:
            if isinstance(exc, kind):
                if opening and key == "wrong_organisation":
                    key = "not_sealed_to_key"  # the key is this organisation's; the record not
                self._say(key, problem=True)
                return False
        raise exc

    def unlock(self, passphrase: str) -> bool:
        """Unlock with the picked file and `passphrase`; False (and the reason said) if not."""
        if self._key_file is None:
            self._say("no_key_file", problem=True)
            return False
        if not passphrase:
            self._say("no_passphrase", problem=True)
            return False
        try:
            self.services.case_files.unlock(self._key_file, passphrase, self.key_file_name or "")
        except (NotACaseManager, CryptoError) as exc:
            return self._refused(exc)
        self._key_file = None  # the wrapped key's bytes are not kept either
        self.unlocked = True
        self._say("unlocked")
        self.refresh()
        return True

    def refresh(self) -> None:
        """The first page of records to open."""
        self.next_cursor = None
        self.records = []
        self.more()

    def more(self) -> None:
        """The next page of records to open (the first after `refresh`)."""
        try:
            page = self.services.case_files.records(cursor=self.next_cursor)
        except (NotACaseManager, OfficeFailed) as exc:
            self._refused(exc)
            return
        self.records = [*self.records, *page.records]
        self.next_cursor = page.next_cursor

    def open(self, record_id: str) -> bool:
        """Open a record: its answers in words, sealed ones included; False (and why) if not."""
        try:
            opened = self.services.case_files.open(record_id)
        except (NotACaseManager, CryptoError, OfficeFailed) as exc:
            return self._refused(exc, opening=True)
        self.opened = opened
        self.lines = opened.head.lines(self.lang)
        self._say(None)
        return True

    def close_record(self) -> None:
        self.opened = None
        self.lines = []

    def set_language(self, lang: str) -> None:
        self.lang = lang
        if self.opened is not None:
            self.lines = self.opened.head.lines(lang)

    def lock(self) -> None:
        """ "Lock case files": the key forgotten, and everything opened with it."""
        self.services.case_files.lock()
        self._forget()
        self._say("locked_by_hand")

    def _forget(self) -> None:
        self.unlocked = False
        self.opened = None
        self.lines = []
        self.records = []
        self.next_cursor = None
        self._key_file = None

    def clear(self) -> None:
        """On the device's lock or wipe (the service has forgotten the key already)."""
        self._forget()
        self.key_file_name = None
        self._say(None)
