"""A case manager opening a record: its sealed part fetched from the server (audited there)
and opened on this device with the organisation's key (`fieldapp.crypto.CaseFileKey`), in
memory only, joined with its statistical fields into the whole record's answers.

Nothing opened is written anywhere: not to the store, not to a log, not to a temporary file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from fieldapp.crypto import CaseFileKey, CaseFilesLocked, CryptoError
from fieldapp.forms.answers import AnswerLine, answer_lines
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.values import join_parts
from sync.client._office import OfficeClient
from sync.protocol import SealedAttachment, sealed_attachments, without_attachment_keys

__all__ = ["OpenedRecord", "OpenedRevision", "open_record"]


@dataclass(frozen=True, slots=True)
class OpenedRevision:
    """One revision as the case manager reads it: `values` the whole record (statistical and
    sealed answers joined), `sealed` the sealed part alone; `erased` when a consent withdrawal
    (or a deletion) left nothing sealed, so `values` holds the statistics only; `attachments`
    what opens each of its attachments (content key and file name), by attachment id."""

    revision: str
    form_version: str
    device_id: str
    updated_at: datetime
    spec: FormSpec
    values: Mapping[str, Any]
    sealed: Mapping[str, Any]
    erased: bool
    attachments: Mapping[str, SealedAttachment] = field(default_factory=dict)

    def lines(self, lang: str) -> list[AnswerLine]:
        """The answers labelled in `lang`, in form order, sealed ones marked."""
        return answer_lines(self.spec, self.values, lang, sealed=self.sealed)


@dataclass(frozen=True, slots=True)
class OpenedRecord:
    """A record opened by a case manager: its head revision first in `revisions` when asked
    for the head only; every revision, oldest first, with `history`."""

    id: UUID
    form_id: str
    region: str | None
    head_revision: str
    consent_withdrawn: bool
    revisions: list[OpenedRevision]

    @property
    def head(self) -> OpenedRevision:
        return next(r for r in self.revisions if r.revision == self.head_revision)


def open_record(
    client: OfficeClient,
    key: CaseFileKey,
    record_id: str,
    forms: Callable[[str, str], FormSpec],
    *,
    history: bool = False,
) -> OpenedRecord:
    """Fetch and open one record (`forms(form_id, version)` gives the form version it
    answers). Raises what the client raises (ServerRefused: not a case manager, no such
    record) and what `CaseFileKey.open` raises (locked, another organisation's key, tampered),
    and CaseFilesLocked before asking the server when the key is already forgotten."""
    if key.locked:
        raise CaseFilesLocked("the case files are locked: unlock them with the key file")
    view = client.sealed_record(record_id, history=history)
    opened: list[OpenedRevision] = []
    for envelope in view.revisions:
        spec = forms(envelope.form_id, envelope.form_version)
        secret: dict[str, Any] = {}
        openers: dict[str, SealedAttachment] = {}
        if envelope.sealed is not None:
            opened_part = key.open(str(envelope.id), envelope.revision, envelope.sealed)
            openers = sealed_attachments(opened_part)
            secret = without_attachment_keys(opened_part)
        elif not (envelope.deleted or envelope.consent_withdrawn or view.consent_withdrawn):
            raise CryptoError(f"record {view.id} revision {envelope.revision} has no sealed part")
        opened.append(
            OpenedRevision(
                revision=envelope.revision,
                form_version=envelope.form_version,
                device_id=envelope.device_id,
                updated_at=envelope.updated_at,
                spec=spec,
                values=join_parts(spec, envelope.stats, secret),
                sealed=secret,
                erased=envelope.sealed is None,
                attachments=openers,
            )
        )
    return OpenedRecord(
        id=view.id,
        form_id=view.form_id,
        region=view.region,
        head_revision=view.head_revision,
        consent_withdrawn=view.consent_withdrawn,
        revisions=opened,
    )
