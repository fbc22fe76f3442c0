"""Offline bundles on the device: the outbox written to a file for someone to carry to the
centre, and the centre's bundle (changes, and the answers to an earlier bundle) applied as a
pull would apply them.

Exporting marks nothing: a record stays waiting (`final` or `queued`) until a receipt that
verifies with the server key comes back, by network or in the centre's answer bundle. A
network sync after an export pushes the same envelopes again and the server answers
`duplicate` with the receipt it gave the bundle's copy; an answer bundle arriving after that
finds the records already sent and leaves them so (see docs/sync-protocol.md, *Offline
bundles*). Nothing is ever lost or stored twice: `(id, revision)` is the identity on both
sides.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fieldapp import crypto
from fieldapp.store import Store
from sync.client._changes import apply_change
from sync.client._errors import NotEnrolled
from sync.client._outcomes import (
    Outgoing,
    ReceiptVerifier,
    epochs_tail,
    outcome_of,
    sealed_epoch_id,
)
from sync.client._report import SyncReport
from sync.client._state import (
    STATE_CURSOR,
    STATE_ORGANISATION,
    STATE_REGION,
    STATE_ROLE,
    STATE_SERVER_KEY_ID,
    STATE_SERVER_PUBLIC_KEY,
)
from sync.protocol import (
    ROSTER_ROLES,
    BundledChunk,
    BundleError,
    RecordOutcome,
    RosterEntry,
    pack_bundle,
    read_bundle,
)

__all__ = ["BundleProgress", "ExportedBundle", "export_bundle", "import_bundle"]

BundleProgress = Callable[[int, int], None]
"""Called with (done, total) as records are read or applied."""

_PAGE = 500


@dataclass(frozen=True)
class ExportedBundle:
    """A bundle file's bytes and what it holds."""

    data: bytes
    records: int
    roster: int
    chunks: int = 0


def export_bundle(store: Store, *, on_progress: BundleProgress | None = None) -> ExportedBundle:
    """The outbox as a device bundle signed with this device's key (the store must be
    unlocked); nothing is marked sent. NotEnrolled before enrolment."""
    org_id = store.settings.get(STATE_ORGANISATION)
    if org_id is None:
        raise NotEnrolled("enrol this device before writing a bundle: the centre must know it")
    total, _ = store.outbox.waiting()
    envelopes: list[bytes] = []
    after = ""
    while page := store.outbox.pending(after=after, limit=_PAGE):
        envelopes.extend(e.envelope for e in page if e.revision is not None)
        after = page[-1].record_id
        if on_progress is not None:
            on_progress(len(envelopes), max(total, len(envelopes)))
    roster: list[bytes] = []
    if store.settings.get(STATE_ROLE) in ROSTER_ROLES:
        after = ""
        while entries := store.roster.pending(after=after, limit=_PAGE):
            roster.extend(
                RosterEntry(key=uuid.UUID(key), sealed=sealed).model_dump_json().encode()
                for key, _, sealed in entries
            )
            after = entries[-1][0]
    # The attachments' chunks the centre may lack: sent again by network, it keeps one copy.
    chunks = [
        BundledChunk(digest=digest, data=store.attachments.chunk(digest)).model_dump_json().encode()
        for digest in store.attachments.unsent_finalised()
    ]
    counts = {"records": len(envelopes), "roster": len(roster)}
    payload = b'{"records":[' + b",".join(envelopes) + b'],"roster":[' + b",".join(roster)
    if chunks:
        counts["chunks"] = len(chunks)
        payload += b'],"chunks":[' + b",".join(chunks)
    named = {epoch for envelope in envelopes if (epoch := sealed_epoch_id(envelope))}
    payload += epochs_tail(store.outbox.epoch_headers(named))  # closes the last list
    data = pack_bundle(
        "device",
        writer_id=store.device_id,
        org_id=org_id,
        created_at=store.settings.wall_clock(),
        counts=counts,
        payload=payload,
        sign=store.keyring.sign,
    )
    return ExportedBundle(data, len(envelopes), len(roster), len(chunks))


def import_bundle(
    store: Store, data: bytes, *, on_progress: BundleProgress | None = None
) -> SyncReport:
    """Apply a server bundle meant for this device (or its region): its changes as a pull
    applies them, then the outcomes of this device's records it answers, each turning `sent`
    only with a receipt that verifies with the server key this device enrolled with.
    BundleError (nothing applied) for a damaged bundle, one not signed by that key, or one
    meant for another device, region or organisation. Importing it again changes nothing."""
    key, key_id = (
        store.settings.get(STATE_SERVER_PUBLIC_KEY),
        store.settings.get(STATE_SERVER_KEY_ID),
    )
    if key is None or key_id is None:
        raise NotEnrolled("enrol this device before importing a bundle: its signature is checked")
    signed = read_bundle(data)
    header = signed.header
    if header.kind != "server":
        raise BundleError("this bundle was written by a device: import it at the centre")
    server_key = base64.b64decode(key)
    if header.writer_id != key_id:
        raise BundleError("this bundle was written by another server than this device's")
    try:
        crypto.verify(server_key, signed.signature, header.signing_bytes())
    except crypto.SignatureError:
        raise BundleError(
            "this bundle is not signed by the server: it was altered or forged"
        ) from None
    if header.org_id != store.settings.get(STATE_ORGANISATION):
        raise BundleError("this bundle is for another organisation")
    if header.for_device is not None and header.for_device != store.device_id:
        raise BundleError(f"this bundle is for device {header.for_device}, not this one")
    if header.for_region is not None and header.for_region != store.settings.get(STATE_REGION):
        raise BundleError(f"this bundle is for region {header.for_region}, not this device's")
    payload = signed.server_payload()
    report = SyncReport(started_at=store.settings.wall_clock())
    total = len(payload.changes) + len(payload.outcomes)
    for done, change in enumerate(payload.changes, 1):
        apply_change(store, change, report)
        if on_progress is not None and done % 100 == 0:
            on_progress(done, total)
    report.pulled += len(payload.changes)
    cursor = int(store.settings.get(STATE_CURSOR) or 0)
    # Only a bundle for this very device holds every change it may see (its reviews too).
    if header.for_device is not None and payload.from_cursor <= cursor < payload.next_cursor:
        store.settings.set(STATE_CURSOR, str(payload.next_cursor))
    _apply_outcomes(store, payload.outcomes, report, ReceiptVerifier(server_key, key_id))
    if on_progress is not None:
        on_progress(total, total)
    report.finished_at = store.settings.wall_clock()
    return report


def _apply_outcomes(
    store: Store, outcomes: list[RecordOutcome], report: SyncReport, receipts: ReceiptVerifier
) -> None:
    """Write back the answers for the records still waiting at exactly the answered
    revision; one sent since (by network) or edited since is left as it is."""
    waiting: dict[str, tuple[str, str]] = {}
    after = ""
    while page := store.outbox.pending(after=after, limit=_PAGE):
        for entry in page:
            if entry.revision is not None and entry.content_digest is not None:
                waiting[entry.record_id] = (entry.revision, entry.content_digest)
        after = page[-1].record_id
    updates = []
    receipts.read_answer(o.receipt for o in outcomes if o.receipt is not None)
    for outcome in outcomes:
        current = waiting.get(str(outcome.id))
        if current is None or current[0] != outcome.revision:
            continue
        item = Outgoing(str(outcome.id), current[0], current[1], b"")
        update = outcome_of(item, outcome, report, receipts)
        if update is not None:
            updates.append(update)
    store.outbox.record_outcomes(updates)
