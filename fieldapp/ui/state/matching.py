"""People, not rows, as the office shows them: the possible duplicate victim records a case
manager merges or dismisses, and the same-name participants a coordinator confirms or
rejects, each list loaded from the server through the `Office` service (no SQL, no HTTP
here) and kept in its own observable."""

from __future__ import annotations

from dataclasses import dataclass, field

import flet as ft

from fieldapp.ui.services import DuplicatePair, OfficeFailed, PeopleReport, Services

__all__ = ["PEOPLE_FORM", "DuplicatesView", "PeopleView"]

# The form whose participants are counted as people (the built-in training register).
PEOPLE_FORM = "training_attendance"


@ft.observable
@dataclass
class DuplicatesView:
    """Open pairs of records that may be one person; `error`: the server's sentence."""

    services: Services
    pairs: list[DuplicatePair] = field(default_factory=list)
    loaded: bool = False
    decided: int = 0  # pairs decided in this session
    error: str | None = None

    def load(self) -> None:
        try:
            self.pairs = self.services.office.duplicates()
            self.error = None
        except OfficeFailed as exc:
            self.error = str(exc)
        self.loaded = True

    def decide(self, pair: str, merge: bool) -> None:
        """Merge the pair (the record received first is kept) or say it is not one person."""
        try:
            self.services.office.decide_duplicate(pair, merge)
        except OfficeFailed as exc:
            self.error = str(exc)
            return
        self.decided += 1
        self.load()


@ft.observable
@dataclass
class PeopleView:
    """The training form's attendances and people, and same-name pairs to confirm."""

    services: Services
    report: PeopleReport | None = None
    error: str | None = None

    def load(self) -> None:
        try:
            self.report = self.services.office.people(PEOPLE_FORM)
            self.error = None
        except OfficeFailed as exc:
            self.error = str(exc)

    def decide(self, pair: str, same: bool) -> None:
        try:
            self.services.office.decide_person(pair, same)
        except OfficeFailed as exc:
            self.error = str(exc)
            return
        self.load()
