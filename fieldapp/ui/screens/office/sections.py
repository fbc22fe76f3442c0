"""The office's sections: one line each, in the order the picker shows them. A section is a
component of no arguments in its own module (`fieldapp/ui/screens/office/<section>.py`),
reaching the office's state with `use_office()` and the app's with `use_app()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import flet as ft

from fieldapp.i18n import N_
from fieldapp.ui.screens.office import dashboard, exports
from fieldapp.ui.screens.office.case_files import CaseFiles
from fieldapp.ui.screens.office.devices import DevicesSection
from fieldapp.ui.screens.office.duplicates import Duplicates
from fieldapp.ui.screens.office.people import People
from fieldapp.ui.screens.office.review import ReviewSection
from fieldapp.ui.services import CASE_FILE_ROLES, DUPLICATE_ROLES, OFFICE_ROLES

__all__ = ["SECTIONS", "OfficeSection", "sections_for"]


@dataclass(frozen=True)
class OfficeSection:
    """One section of the office: its `id` (kept in `OfficeState.section`), its icon and label
    (`N_`: translated when drawn), the component drawing it, and the roles that see it."""

    id: str
    icon: ft.IconData
    label: str
    component: Callable[[], ft.Control]
    roles: frozenset[str] = OFFICE_ROLES


SECTIONS: tuple[OfficeSection, ...] = (
    OfficeSection("review", ft.Icons.RATE_REVIEW, N_("Review"), ReviewSection, OFFICE_ROLES),
    OfficeSection("devices", ft.Icons.DEVICES, N_("Devices"), DevicesSection, OFFICE_ROLES),
    OfficeSection("dashboard", ft.Icons.BAR_CHART, N_("Dashboard"), dashboard.Dashboard),
    OfficeSection("exports", ft.Icons.DOWNLOAD, N_("Exports"), exports.Exports),
    OfficeSection("case_files", ft.Icons.FOLDER_SHARED, N_("Case files"), CaseFiles,
                  CASE_FILE_ROLES),
    OfficeSection("duplicates", ft.Icons.PEOPLE_OUTLINE, N_("Possible duplicates"), Duplicates,
                  DUPLICATE_ROLES),
    OfficeSection("people", ft.Icons.GROUPS, N_("People"), People),
)  # fmt: skip


def sections_for(role: str | None) -> tuple[OfficeSection, ...]:
    """The sections a device of `role` sees, in order (none for a role outside the office)."""
    return tuple(section for section in SECTIONS if role in section.roles)
