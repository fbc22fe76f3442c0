"""What the store's rooms hand out and raise, kept apart from any of them: the rooms share
these types (a record, a page of summaries, an outbox entry, a server's answer) and
`fieldapp.store` exports them, so no caller needs to know which room made one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from fieldapp.errors import StoreError
from fieldapp.forms.validate import FieldError

__all__ = [
    "FormFileMissing",
    "FormUnusable",
    "InvalidSetting",
    "OutboxEntry",
    "Outcome",
    "Page",
    "Record",
    "RecordSummary",
    "Status",
    "StoreWiped",
    "TeamKey",
    "ValidationFailed",
]

Status = Literal["draft", "final", "queued", "sent", "rejected", "conflict"]


class StoreWiped(StoreError):
    """The wrapped key was erased (too many failed unlocks, or a wipe): the data is unreadable."""


class InvalidSetting(StoreError):
    """A store setting is out of its range; the message names the setting and the range."""


class FormUnusable(StoreError):
    """A form stored on this device no longer passes today's form checks (they grew stricter
    since it was stored): it is left out of the forms list, and its records stay listed."""


class FormFileMissing(FormUnusable):
    """A form version's attached file (a CSV of choices) is not on this device yet: the form
    cannot be started until a sync fetches it. `files`: the file names."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class ValidationFailed(StoreError):
    """A submission cannot be finalised; `errors` lists every problem, field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class Record(BaseModel):
    """A record as its author sees it, sensitive values decrypted."""

    id: str
    form_id: str
    form_version: str
    status: Status
    created_at: str
    updated_at: str
    device_id: str
    revision: str
    base_revision: str | None
    values: dict[str, Any]
    problems: list[dict[str, Any]] = Field(default_factory=list)
    server_revision: str | None = None
    purged: bool = False  # the local copy was erased after the server's receipt
    consent_withdrawn: bool = False  # the person withdrew consent: sensitive part erased
    # The user settled a conflict over this record here (kept their version or merged): the
    # office has yet to resolve it on the server (see `Conflicts.settle`).
    conflict_settled: bool = False


class RecordSummary(BaseModel):
    """What a list shows without decrypting anything."""

    id: str
    form_id: str
    form_version: str
    status: Status
    created_at: str
    updated_at: str
    stats: dict[str, Any]
    problem_count: int
    consent_withdrawn: bool = False


class Page(BaseModel):
    items: list[RecordSummary]
    next_after: str | None  # pass back as `after` for the next page; None on the last


class OutboxEntry(NamedTuple):
    """A signed envelope waiting to be sent, with what its receipt must name: its revision
    and content digest, kept beside it when it was signed (None: the envelope was damaged on
    this device; it cannot be sent)."""

    record_id: str
    revision: str | None
    content_digest: str | None
    envelope: bytes


class Outcome(NamedTuple):
    """What the server said about one pushed revision (see `Outbox.record_outcomes`)."""

    record_id: str
    revision: str
    status: Literal["sent", "rejected", "conflict"]
    problems: list[dict[str, Any]] | None = None
    receipt: str | None = None
    server_revision: str | None = None
    received_at: datetime | None = None  # the receipt's: when the server took the revision


class TeamKey(NamedTuple):
    """The key a region's devices share their rosters with, and the scope it was issued for
    (the associated data of every roster entry names both)."""

    key: bytes
    org_id: str
    region: str | None
