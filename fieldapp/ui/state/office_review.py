"""The office's review desk (`state.office.review`): incoming records filtered by region,
device, form, days received and review state, newest received first, a page at a time (the
server's keyset cursor: "Load more" costs one page whatever the depth); and the decision on
one record: approved, has issues or rejected, the last two with a comment the collector reads.

Network calls block: the screen runs `load`, `more` and `decide` in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import flet as ft

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, answer_nodes
from fieldapp.i18n import N_, Words
from fieldapp.ui.formats import day_range, localised_words
from fieldapp.ui.services import (
    REVIEW_STATES,
    OfficeFailed,
    OfficeRecord,
    ReviewDecision,
    ReviewState,
    Services,
)
from fieldapp.ui.state.steps import answer_text, display_value

__all__ = ["REVIEW_PAGE", "REVIEW_STATE_LABELS", "ReviewDesk"]

REVIEW_PAGE = 50
# ODK Central's words for its states (its "edited": a new version came after a decision).
REVIEW_STATE_LABELS: dict[ReviewState, str] = {
    "received": N_("Received"),
    "has_issues": N_("Has issues"),
    "edited": N_("Edited"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}
_NEEDS_COMMENT: frozenset[ReviewDecision] = frozenset({"has_issues", "rejected"})


@ft.observable
@dataclass
class ReviewDesk:
    """What the review section lists and what is being decided."""

    services: Services
    lang: str = "en"
    # the filters as typed (days as YYYY-MM-DD; "" for any)
    region: str = ""
    device: str = ""
    form_id: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # by filter, or "comment"
    filters_open: bool = False  # on a phone, the filters show (else one button)
    rows: list[OfficeRecord] = field(default_factory=list)
    next_cursor: str | None = None
    loading: bool = False
    loaded: bool = False
    selected: str | None = None  # the record whose decision is open
    comment: str = ""
    problem: str | None = None  # what the server or the connection said, in words
    done: str | None = None  # what the last decision did, in words

    @property
    def words(self) -> Words:
        return localised_words(self.lang)

    # -- the filters -------------------------------------------------------------------------
    def set_filter(self, name: str, value: str) -> None:
        """Change one filter ("region", "device", "form_id", "status", "since", "until");
        the list is loaded again by `load`."""
        if name not in ("region", "device", "form_id", "status", "since", "until"):
            raise ValueError(name)
        setattr(self, name, value)

    def show_filters(self, show: bool = True) -> None:
        self.filters_open = show

    def query(self) -> dict[str, Any] | None:
        """The filters as the office API takes them; None (each problem said by its filter)
        when one is not understood."""
        _ = self.words
        since, until, errors = day_range(
            self.since, self.until, (_("Received from"), _("Received until")), self.lang
        )
        if self.status and self.status not in REVIEW_STATES:
            errors["status"] = _("{label}: not a review state.", label=_("Review state"))
        self.errors = errors
        if errors:
            return None
        status: ReviewState | None = None
        for known in REVIEW_STATES:
            if known == self.status:
                status = known
        return {
            "region": self.region.strip() or None,
            "device": self.device.strip() or None,
            "form": self.form_id or None,
            "status": status,
            "received_from": None if since is None else datetime.combine(since, time(), UTC),
            "received_to": None
            if until is None
            else datetime.combine(until + timedelta(days=1), time(), UTC),
        }

    # -- the list ----------------------------------------------------------------------------
    def load(self) -> None:
        """The first page for the filters (blocking)."""
        self._page(None)

    def more(self) -> None:
        """The next page, added below (blocking)."""
        if self.next_cursor is not None:
            self._page(self.next_cursor)

    def _page(self, cursor: str | None) -> None:
        query = self.query()
        if query is None:
            return
        self.loading = True
        self.problem = None
        try:
            page = self.services.office.records(cursor=cursor, limit=REVIEW_PAGE, **query)
        except OfficeFailed as exc:
            self.problem = self.words("The office could not be reached: {detail}", detail=exc)
            return
        finally:
            self.loading = False
        self.rows = page.records if cursor is None else [*self.rows, *page.records]
        self.next_cursor = page.next_cursor
        self.loaded = True

    # -- how a record reads ------------------------------------------------------------------
    def form_title(self, row: OfficeRecord) -> str:
        try:
            spec = self.services.records.form(row.form_id)
        except FieldappError:
            return row.form_id
        return spec.label(spec.title, self.lang)

    def stats_lines(self, row: OfficeRecord) -> list[str]:
        """The record's statistical answers as "Question: answer", in form order (by field
        name, as sent, for a form this device does not know)."""
        try:
            spec = self.services.records.form(row.form_id, row.form_version)
        except FieldappError:
            return [f"{name}: {display_value(value)}" for name, value in row.stats.items()]
        lines: list[str] = []
        for node in answer_nodes(spec.children):
            if not isinstance(node, FieldSpec) or node.name not in row.stats:
                continue
            value = row.stats[node.name]
            if value in (None, "", []):
                continue
            label = spec.label(node.label, self.lang) or node.name
            lines.append(f"{label}: {answer_text(spec, node, value, self.lang)}")
        return lines

    # -- a decision --------------------------------------------------------------------------
    def select(self, record_id: str | None) -> None:
        """Open (or close, None) the decision on one record."""
        self.selected = record_id
        self.comment = ""
        self.errors = {k: v for k, v in self.errors.items() if k != "comment"}
        self.done = None

    def set_comment(self, text: str) -> None:
        self.comment = text
        if text.strip():
            self.errors = {k: v for k, v in self.errors.items() if k != "comment"}

    def decide(self, decision: ReviewDecision) -> bool:
        """Review the selected record (blocking). A comment is required to send a record
        back (has issues) or reject it: without one, the comment field says so."""
        _ = self.words
        if self.selected is None:
            return False
        comment = self.comment.strip()
        if decision in _NEEDS_COMMENT and not comment:
            self.errors = {
                **self.errors,
                "comment": _(
                    "{label}: required to mark a record as having issues or to reject it;"
                    " say what the collector should fix.",
                    label=_("Comment for the collector"),
                ),
            }
            return False
        try:
            result = self.services.office.review(self.selected, decision, comment or None)
        except OfficeFailed as exc:
            self.problem = _("The office could not be reached: {detail}", detail=exc)
            return False
        self.rows = [
            row.model_copy(update={"review_state": result.state})
            if str(row.id) == self.selected
            else row
            for row in self.rows
        ]
        self.done = _("Review saved: {state}.", state=_(REVIEW_STATE_LABELS[result.state]))
        self.selected = None
        self.comment = ""
        return True

    def clear(self) -> None:
        """On lock: nothing of what was listed stays in memory."""
        self.rows = []
        self.next_cursor = None
        self.loaded = False
        self.select(None)
