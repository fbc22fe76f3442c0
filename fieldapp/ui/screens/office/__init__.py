"""The office workspace (coordinators, case managers, admins): a section picker (a side rail on
a laptop, a wrapping list on a phone) and the section chosen. Sections register in
`sections.SECTIONS`, one module each."""

from fieldapp.ui.screens.office.sections import SECTIONS, OfficeSection, sections_for
from fieldapp.ui.screens.office.workspace import Office

__all__ = ["SECTIONS", "Office", "OfficeSection", "sections_for"]
