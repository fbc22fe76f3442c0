"""Ingesting a push: the one path by which envelopes enter the server, whoever carried them
(`POST /v1/records:push`, an offline bundle imported at the centre, a relay).

Every envelope is checked exactly as a push checks it (the signer's enrolled key, ownership,
the organisation's recipients, the published form's rules), the accepted ones are stored in
one transaction, refusals are audited per record, and every stored outcome gets a receipt
signed by the server key (one per record, or one per batch over a Merkle tree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from fieldapp.crypto import CryptoError, SigningKey, envelope_epoch_id, epoch_id_of, verify
from fieldapp.errors import FormError
from fieldapp.forms.attachments import bind
from fieldapp.forms.spec import FormSpec
from sync.protocol import (
    MAX_BATCH_RECORDS,
    Receipt,
    ReceiptMode,
    ReceiptProof,
    RecordEnvelope,
    RecordOutcome,
    WireFieldError,
    batch_receipt_signing_bytes,
    canonical_json,
    receipt_tree,
)
from sync.server.checks import FormRules, RefusedForm, envelope_errors, recipient_key_ids
from sync.server.storage import Device, DeviceContact, NotFound, PushResult, Storage

__all__ = [
    "ReceiptSigner",
    "RulesLookup",
    "device_actor",
    "epoch_id_or_none",
    "ingest_push",
    "published_rules",
]

RulesLookup = Callable[[str, str, str], FormRules | RefusedForm | None]
"""(org id, form id, version) -> the form version's rules as published (None: not published)."""


@dataclass(frozen=True)
class ReceiptSigner:
    """The server's receipt-signing key and its id, as every receipt names it."""

    key: SigningKey
    key_id: str


def device_actor(device: Device) -> str:
    """Who the audit log says acted: the device."""
    return f"device:{device.id}"


def published_rules(
    storage: Storage,
    cache: dict[int, FormRules | RefusedForm],
    org_id: str,
    form_id: str,
    version: str,
) -> FormRules | RefusedForm | None:
    """The form version as the organisation sees it, parsed once per `cache` (keyed by its
    publication seq: published versions never change); None if it is not published; refused
    if it no longer passes the form checks. Looked up every time: an organisation's own
    version may come to shadow a global one."""
    seq = storage.published_form_seq(org_id, form_id, version)
    if seq is None:
        return None
    rules = cache.get(seq)
    if rules is None:
        try:
            published = storage.get_form(org_id, form_id, version)
        except NotFound:
            return None
        try:
            spec = FormSpec.model_validate(published.spec)
            files = {
                ref.sha256: storage.get_form_file(org_id, ref.sha256)
                for ref in spec.attachments.values()
            }
            rules = FormRules(bind(spec, files))
        except ValidationError as exc:
            reasons = (str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            rules = RefusedForm("; ".join(reasons))
        except (NotFound, FormError) as exc:
            rules = RefusedForm(f"its attached files cannot be used: {exc}")
        cache[published.seq] = rules
    return rules


def ingest_push(
    storage: Storage,
    device: Device,
    envelopes: Sequence[RecordEnvelope],
    *,
    now: datetime,
    rules: RulesLookup,
    signer: ReceiptSigner,
    receipts: ReceiptMode = "record",
    action: str = "push",
    writers: Callable[[str], Device] | None = None,
    hops: Sequence[Sequence[dict[str, str]]] | None = None,
    epochs: Sequence[bytes] = (),
    contact: DeviceContact | None = None,
) -> list[RecordOutcome]:
    """Store `envelopes` pushed by `device`: one outcome per envelope, in order (see
    docs/sync-protocol.md, *Push*). The accepted ones are stored in one transaction; each
    refusal is audited under `action` (`push`, `bundle_import`).

    From a relay (`sync.server.relaying`): `writers` names the device whose enrolled key
    verifies an envelope signed as its `device_id` (else `device` itself), and `hops` gives,
    per envelope, the relays it came through. `epochs`: the sealing epoch headers the push
    carried (fieldapp.crypto.epochs), kept by the server once an envelope stored names them.
    `contact`: what the pushing device said of itself, noted in the same transaction as the
    records.

    Batch-signed envelopes (`proof`) cost one signature check per signed batch; when one
    envelope of a signed batch fails it, every envelope of that batch is refused."""
    outcomes: list[RecordOutcome | PushResult | None] = [None] * len(envelopes)
    forms: dict[tuple[str, str], FormRules | RefusedForm | None] = {}
    recipients = recipient_key_ids(storage.get_organisation(device.org_id).recipients)
    known_epochs = _epoch_headers(storage, device.org_id, envelopes, epochs)
    check_signature = _BatchSignatures()
    found: list[list[WireFieldError]] = []
    signed_bytes: list[bytes] = []
    stats_texts: list[bytes] = []  # encoded once: signed, then stored
    for envelope in envelopes:
        form_key = (envelope.form_id, envelope.form_version)
        if form_key not in forms:
            forms[form_key] = rules(device.org_id, *form_key)
        stats_json = canonical_json(envelope.stats)
        signed = envelope.signing_bytes(stats_json)
        writer = device if writers is None else writers(envelope.device_id)
        found.append(
            envelope_errors(
                envelope,
                writer.id,
                writer.public_key,
                forms[form_key],
                recipients,
                signed=signed,
                epoch_headers=known_epochs,
                check_signature=check_signature,
            )
        )
        signed_bytes.append(signed)
        stats_texts.append(stats_json)
    _refuse_broken_batches(envelopes, found)
    checked, digests, texts, positions = [], [], [], []
    for index, (envelope, errors) in enumerate(zip(envelopes, found, strict=True)):
        if errors:
            outcomes[index] = RecordOutcome(
                id=envelope.id, revision=envelope.revision, status="rejected", errors=errors
            )
            storage.append_audit(
                device_actor(device),
                action,
                f"rejected:{errors[0].code}",
                now,
                org_id=device.org_id,
                device_id=device.id,
                record_id=str(envelope.id),
            )
        else:
            checked.append(envelope)
            digests.append(hashlib.sha256(signed_bytes[index]).hexdigest())
            texts.append(stats_texts[index].decode())
            positions.append(index)
    if checked:
        used = {epoch_id_or_none(envelope.sealed) for envelope in checked}
        storage.put_epoch_headers(
            device.org_id, [header for key, header in known_epochs.items() if key in used]
        )
        paths = None if hops is None else [hops[index] for index in positions]
        results = storage.push_records(
            device,
            checked,
            now,
            content_digests=digests,
            hops=paths,
            contact=contact,
            stats_texts=texts,
        )
        for index, result in zip(positions, results, strict=True):
            outcomes[index] = result
    elif contact is not None:
        storage.note_device_contact(
            device.id, now, synced=False, waiting=contact.waiting, app_version=contact.app_version
        )
    return _signed_outcomes(signer, outcomes, receipts)


def epoch_id_or_none(sealed: bytes | None) -> str | None:
    """The sealing epoch an envelope's sealed part names; None for none or a malformed one
    (the checks name that problem)."""
    if sealed is None:
        return None
    try:
        return envelope_epoch_id(sealed)
    except CryptoError:
        return None


def _epoch_headers(
    storage: Storage, org_id: str, envelopes: Sequence[RecordEnvelope], pushed: Sequence[bytes]
) -> dict[str, bytes]:
    """The epoch headers the envelopes name, by id: pushed with them (content-addressed, so
    a header is what its id says) or stored before."""
    named = {epoch_id_or_none(envelope.sealed) for envelope in envelopes} - {None}
    if not named:
        return {}
    given = {epoch_id_of(header): header for header in pushed}
    found = {key: header for key, header in given.items() if key in named}
    missing = [key for key in named if key is not None and key not in found]
    if missing:
        found.update(storage.epoch_headers(org_id, missing))
    return found


class _BatchSignatures:
    """`verify`, remembering what it verified: the envelopes of a batch-signed push share
    one (key, signature, root) and are checked once."""

    def __init__(self) -> None:
        self._verified: set[tuple[bytes, bytes, bytes]] = set()

    def __call__(self, public_key: bytes, signature: bytes, message: bytes) -> None:
        key = (public_key, signature, message)
        if key not in self._verified:
            verify(public_key, signature, message)
            self._verified.add(key)


def _refuse_broken_batches(
    envelopes: Sequence[RecordEnvelope], found: list[list[WireFieldError]]
) -> None:
    """A signed batch stands or falls whole: when one envelope's proof fails (a swapped or
    reordered record, a forged root), the others signed with it are refused too, so nothing
    of a tampered batch is stored."""
    broken = {
        (envelope.device_id, envelope.signature)
        for envelope, errors in zip(envelopes, found, strict=True)
        if envelope.proof is not None and errors and errors[0].code == "bad_batch_proof"
    }
    if not broken:
        return
    for index, envelope in enumerate(envelopes):
        if not found[index] and (envelope.device_id, envelope.signature) in broken:
            found[index] = [
                WireFieldError(
                    field="proof",
                    path="proof",
                    code="batch_refused",
                    message="another record signed in the same batch failed its inclusion"
                    " proof: the whole batch is refused",
                )
            ]


def _signed_outcomes(
    signer: ReceiptSigner, results: list[RecordOutcome | PushResult | None], mode: ReceiptMode
) -> list[RecordOutcome]:
    """Outcomes in order, stored ones with a receipt: each signed alone (`record`), or signed
    once per MAX_BATCH_RECORDS as the leaves of a Merkle tree, each with its proof (`batch`)."""
    receipts = [
        _unsigned_receipt(signer, result)
        for result in results
        if isinstance(result, PushResult) and result.status != "rejected"
    ]
    if mode == "batch":
        # One tree per MAX_BATCH_RECORDS receipts (a bundle's records are stored at once).
        for start in range(0, len(receipts), MAX_BATCH_RECORDS):
            tree = receipts[start : start + MAX_BATCH_RECORDS]
            root, paths = receipt_tree([receipt.entry_bytes() for receipt in tree])
            size = len(tree)
            signature = signer.key.sign(batch_receipt_signing_bytes(root, size, signer.key_id))
            for index, (receipt, path) in enumerate(zip(tree, paths, strict=True)):
                receipt.proof = ReceiptProof.model_construct(index=index, size=size, path=path)
                receipt.signature = signature
    else:
        for receipt in receipts:
            receipt.signature = signer.key.sign(receipt.signing_bytes())
    # Built from what this server stored and signed: constructed, not validated again
    # (every field given: pydantic inspects a default factory's signature on each use).
    signed = iter(receipts)
    outcomes = []
    for result in results:
        if isinstance(result, RecordOutcome):
            outcomes.append(result)
        elif isinstance(result, PushResult) and result.status == "rejected":
            outcomes.append(
                RecordOutcome.model_construct(
                    id=result.record_id,
                    revision=result.revision,
                    status="rejected",
                    errors=result.errors,
                    receipt=None,
                    current_revision=None,
                )
            )
        elif isinstance(result, PushResult):
            outcomes.append(
                RecordOutcome.model_construct(
                    id=result.record_id,
                    revision=result.revision,
                    status=result.status,
                    errors=[],
                    receipt=next(signed),
                    current_revision=result.current_revision,
                )
            )
    return outcomes


def _unsigned_receipt(signer: ReceiptSigner, result: PushResult) -> Receipt:
    if result.seq is None or result.received_at is None or result.content_digest is None:
        raise RuntimeError("storage returned a stored outcome without its receipt data")
    return Receipt(
        record_id=result.record_id,
        revision=result.revision,
        content_digest=result.content_digest,
        seq=result.seq,
        received_at=result.received_at,
        server_key_id=signer.key_id,
        signature=b"",
    )
