"""Records over HTTP: a push of a batch with its signed receipts (`POST /v1/records:push`),
the check of receipted revisions (`POST /v1/receipts:check`), and every revision of one
record (`GET /v1/records/{record_id}`). Every read or write of a record is audited."""

from __future__ import annotations

import hashlib
from typing import Annotated
from uuid import UUID

from fastapi import Query
from fastapi.responses import Response

from sync.protocol import (
    PushRequest,
    PushResponse,
    Receipt,
    ReceiptCheck,
    ReceiptCheckResponse,
    ReceiptMode,
    ReceiptProof,
    RecordOutcome,
    RecordView,
    batch_receipt_signing_bytes,
    receipt_tree,
)
from sync.server.auth import can_read_record
from sync.server.checks import FormRules, RefusedForm, envelope_errors, recipient_key_ids
from sync.server.relaying import relayed_hops, relayed_signers
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    ServerContext,
    actor,
    links,
    v1_router,
)
from sync.server.storage import NotFound, PushResult

__all__ = ["router"]

router = v1_router()


@router.post(
    "/records:push",
    response_model=PushResponse,
    openapi_extra=links(
        ReadPushedRecord=(
            "GET /records/{record_id}",
            {"parameters": {"path.record_id": "$response.body#/outcomes/0/id"}},
        )
    ),
)
def push(
    body: PushRequest,
    device: CurrentDevice,
    context: Context,
    receipts: Annotated[
        ReceiptMode,
        Query(
            description="`batch`: one server signature per batch, each receipt carrying its "
            "Merkle proof (see docs/sync-protocol.md); `record`: one signature per receipt"
        ),
    ] = "record",
) -> Response:
    """Store a batch: one outcome per record, in order; the batch is one transaction."""
    storage, now = context.storage, context.now()
    outcomes: list[RecordOutcome | PushResult | None] = [None] * len(body.records)
    forms: dict[tuple[str, str], FormRules | RefusedForm | None] = {}
    recipients = recipient_key_ids(storage.get_organisation(device.org_id).recipients)
    signer = relayed_signers(storage, device, body)
    checked, digests, positions = [], [], []
    for index, envelope in enumerate(body.records):
        form_key = (envelope.form_id, envelope.form_version)
        if form_key not in forms:
            forms[form_key] = context.published_rules(device.org_id, *form_key)
        signed = envelope.signing_bytes()
        writer = signer(envelope.device_id)
        errors = envelope_errors(
            envelope, writer.id, writer.public_key, forms[form_key], recipients, signed=signed
        )
        if errors:
            outcomes[index] = RecordOutcome(
                id=envelope.id, revision=envelope.revision, status="rejected", errors=errors
            )
            storage.append_audit(
                actor(device),
                "push",
                f"rejected:{errors[0].code}",
                now,
                org_id=device.org_id,
                device_id=device.id,
                record_id=str(envelope.id),
            )
        else:
            checked.append(envelope)
            digests.append(hashlib.sha256(signed).hexdigest())
            positions.append(index)
    if checked:
        hops = relayed_hops(device, body, positions)
        results = storage.push_records(device, checked, now, content_digests=digests, hops=hops)
        for index, result in zip(positions, results, strict=True):
            outcomes[index] = result
    answer = PushResponse(outcomes=_signed_outcomes(context, outcomes, receipts))
    return Response(answer.model_dump_json(), media_type="application/json")


def _signed_outcomes(
    context: ServerContext, results: list[RecordOutcome | PushResult | None], mode: ReceiptMode
) -> list[RecordOutcome]:
    """Outcomes in order, stored ones with a receipt: each signed alone (`record`), or all
    of them signed once as the leaves of a Merkle tree, each with its proof (`batch`)."""
    receipts = [
        _unsigned_receipt(context, result)
        for result in results
        if isinstance(result, PushResult) and result.status != "rejected"
    ]
    if mode == "batch" and receipts:
        root, paths = receipt_tree([receipt.entry_bytes() for receipt in receipts])
        size = len(receipts)
        signature = context.signing_key.sign(
            batch_receipt_signing_bytes(root, size, context.key_id)
        )
        for index, (receipt, path) in enumerate(zip(receipts, paths, strict=True)):
            receipt.proof = ReceiptProof(index=index, size=size, path=path)
            receipt.signature = signature
    else:
        for receipt in receipts:
            receipt.signature = context.signing_key.sign(receipt.signing_bytes())
    signed = iter(receipts)
    outcomes = []
    for result in results:
        if isinstance(result, RecordOutcome):
            outcomes.append(result)
        elif isinstance(result, PushResult) and result.status == "rejected":
            outcomes.append(
                RecordOutcome(
                    id=result.record_id,
                    revision=result.revision,
                    status="rejected",
                    errors=result.errors,
                )
            )
        elif isinstance(result, PushResult):
            outcomes.append(
                RecordOutcome(
                    id=result.record_id,
                    revision=result.revision,
                    status=result.status,
                    receipt=next(signed),
                    current_revision=result.current_revision,
                )
            )
    return outcomes


def _unsigned_receipt(context: ServerContext, result: PushResult) -> Receipt:
    if result.seq is None or result.received_at is None or result.content_digest is None:
        raise RuntimeError("storage returned a stored outcome without its receipt data")
    return Receipt(
        record_id=result.record_id,
        revision=result.revision,
        content_digest=result.content_digest,
        seq=result.seq,
        received_at=result.received_at,
        server_key_id=context.key_id,
        signature=b"",
    )


@router.post("/receipts:check", response_model=ReceiptCheckResponse)
def check_receipts(
    body: ReceiptCheck, device: CurrentDevice, context: Context
) -> ReceiptCheckResponse:
    """Which of these revisions the server still holds: the device sends again any it left
    out. Only records the device may read count (as for `GET /v1/records/{id}`); audited
    once per request, with counts only."""
    storage = context.storage
    held = storage.held_revisions(device, [(ref.id, ref.revision) for ref in body.revisions])
    answer = [ref for ref in body.revisions if (ref.id, ref.revision) in held]
    storage.append_audit(
        actor(device),
        "check_receipts",
        f"held:{len(answer)},missing:{len(body.revisions) - len(answer)}",
        context.now(),
        org_id=device.org_id,
        device_id=device.id,
    )
    return ReceiptCheckResponse(held=answer)


@router.get("/records/{record_id}", response_model=RecordView)
def record(record_id: UUID, device: CurrentDevice, context: Context) -> RecordView:
    """Every revision of a record (sealed, as signed); audited whether found or not."""
    storage, now = context.storage, context.now()

    def audit(outcome: str) -> None:
        storage.append_audit(
            actor(device),
            "read_record",
            outcome,
            now,
            org_id=device.org_id,
            device_id=device.id,
            record_id=str(record_id),
        )

    try:
        head = storage.get_record(device.org_id, record_id)
        revisions = storage.list_revisions(device.org_id, record_id)
    except NotFound:
        head = None
        revisions = []
    if head is None or not can_read_record(device, revisions):
        audit("refused:not_found")
        raise ApiError(404, "record_not_found", "no such record")
    audit("ok")
    return RecordView(
        id=head.id,
        form_id=head.form_id,
        head_revision=head.head_revision,
        deleted=head.deleted,
        in_conflict=head.in_conflict,
        siblings=head.siblings,
        revisions=[revision.to_envelope() for revision in revisions],
    )
