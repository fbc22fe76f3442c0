"""The records list (`state.records`): the records on this device a page at a time, newest
first, by status group, searched by case code or title and filtered by form and the days they
last changed; with what names each line (its title, a few clear answers) and the uploads of
the sent ones still going up.

Its own observable, held by the app's state (which clears it on lock): the records screen
subscribes to it, so a new page redraws the list alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flet as ft

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, answer_nodes
from fieldapp.i18n import Words
from fieldapp.ui.formats import day_range, format_day, format_number, localised_words
from fieldapp.ui.services import (
    AttachmentsStored,
    RecordQuery,
    RecordSummary,
    Services,
    StatusGroup,
)

__all__ = ["PAGE_SIZE", "RecordsList"]

PAGE_SIZE = 20


@ft.observable
@dataclass
class RecordsList:
    """One status group's records as listed: the page shown, how to page on, the search."""

    services: Services
    lang: str = "en"
    group: StatusGroup = "draft"
    items: list[RecordSummary] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)  # the pages before this one
    next_after: str | None = None  # the cursor of the next page (None: this is the last)
    total: int = 0
    # the sent records whose attachments are still going up (services.attachments.uploads)
    uploads: dict[str, AttachmentsStored] = field(default_factory=dict)
    # the search and filters (typed as they are: the days as YYYY-MM-DD), what is wrong with
    # them by filter ("since", "until"), and the titles of the records listed by id
    text: str = ""
    form_id: str | None = None
    since: str = ""
    until: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    filters_open: bool = False  # the form and day filters show (else one button)
    titles: dict[str, str | None] = field(default_factory=dict)

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    def load(self, group: StatusGroup, *, after: str | None = None, back: bool = False) -> None:
        """List the page of `group` after the cursor `after` (the first page without one)."""
        if group != self.group or (after is None and not back):
            self.cursors = []
        self.group = group
        query = self.query()
        page = self.services.records.search(query, after=after, limit=PAGE_SIZE)
        self.items = [item.summary for item in page.items]
        self.titles = {item.summary.id: item.title for item in page.items}
        self.next_after = page.next_after
        self.total = self.services.records.count_matching(query)
        self.uploads = self.services.attachments.uploads()

    def reload(self) -> None:
        """The first page of the group shown, as it is now."""
        self.load(self.group)

    def clear(self) -> None:
        """Forget what was listed (its titles were decrypted): the device locked or wiped."""
        self.items = []
        self.titles = {}

    def filter(
        self,
        *,
        text: str | None = None,
        form_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        """Change the search words, form ("" for every form) or days, and list the first
        page of what they find."""
        self.services.device.touch()
        if text is not None:
            self.text = text
        if form_id is not None:
            self.form_id = form_id or None
        if since is not None:
            self.since = since
        if until is not None:
            self.until = until
        self.reload()

    def show_filters(self, show: bool = True) -> None:
        self.filters_open = show

    def clear_filters(self) -> None:
        self.text, self.form_id = "", None
        self.since = self.until = ""
        self.reload()

    def query(self) -> RecordQuery:
        """The list's query; a day that is no date is left out, and said so by its field."""
        _ = self.words
        since, until, errors = day_range(
            self.since, self.until, (_("Changed from"), _("Changed until")), self.lang
        )
        self.errors = errors
        return RecordQuery(
            group=self.group, text=self.text, form_id=self.form_id, since=since, until=until
        )

    @property
    def filtered(self) -> bool:
        return bool(self.text.strip() or self.form_id or self.since.strip() or self.until.strip())

    def next_page(self) -> None:
        if self.next_after is None:
            return
        cursors = [*self.cursors, self.next_after]
        self.load(self.group, after=self.next_after, back=True)
        self.cursors = cursors

    def first_page(self) -> None:
        self.reload()

    @property
    def offset(self) -> int:
        return len(self.cursors) * PAGE_SIZE

    @staticmethod
    def is_superseded(item: RecordSummary) -> bool:
        """A sent record listed with problems is one the office set aside for another
        device's version: the store clears a record's problems when it is finalised or
        accepted, and only the office's resolution leaves one on a `sent` record."""
        return item.status == "sent" and item.problem_count > 0

    def form_title(self, form_id: str) -> str:
        try:
            spec = self.services.records.form(form_id)
        except FieldappError:
            return form_id
        return spec.label(spec.title, self.lang)

    def title(self, item: RecordSummary) -> str:
        """A record's name in a list: its case code, `instance_name` or event title as the last
        page of records read them (decrypted in memory, the device being unlocked), else its
        form's title."""
        return self.titles.get(item.id) or self.form_title(item.form_id)

    def line(self, item: RecordSummary, limit: int = 3) -> str:
        """A few of a record's clear (statistical) answers in words, in form order: enough
        to tell records apart in a list without decrypting anything."""
        try:
            spec = self.services.records.form(item.form_id, item.form_version)
        except FieldappError:
            return ""
        found: list[str] = []
        for node in answer_nodes(spec.children):
            value = item.stats.get(node.name)
            if not isinstance(node, FieldSpec) or value in (None, "", []):
                continue
            if node.type == "select_one":
                found.append(spec.choice_label(node.choices or "", str(value), self.lang))
            elif node.type == "integer" and isinstance(value, int):
                found.append(format_number(value, self.lang))
            elif node.type == "date":
                found.append(format_day(value, self.lang))
            if len(found) == limit:
                break
        return " · ".join(found)
