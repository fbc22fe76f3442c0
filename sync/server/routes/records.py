"""Records over HTTP: a push of a batch with its signed receipts (`POST /v1/records:push`),
the check of receipted revisions (`POST /v1/receipts:check`), and every revision of one
record (`GET /v1/records/{record_id}`). Every read or write of a record is audited."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query
from fastapi.responses import Response

from sync.protocol import (
    BATCH_SIGNATURES_HEADER,
    SEALING_EPOCHS_HEADER,
    PushRequest,
    PushResponse,
    ReceiptCheck,
    ReceiptCheckResponse,
    ReceiptMode,
    RecordView,
)
from sync.server.auth import can_read_record, can_read_sealed
from sync.server.ingest import ReceiptSigner, ingest_push
from sync.server.relaying import relayed_hops, relayed_signers
from sync.server.routes.common import (
    ApiError,
    Context,
    CurrentDevice,
    DeviceSays,
    actor,
    links,
    v1_router,
)
from sync.server.storage import DeviceContact, NotFound

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
    says: DeviceSays,
    receipts: Annotated[
        ReceiptMode,
        Query(
            description="`batch`: one server signature per batch, each receipt carrying its "
            "Merkle proof (see docs/sync-protocol.md); `record`: one signature per receipt"
        ),
    ] = "record",
) -> Response:
    """Store a batch: one outcome per record, in order; the batch is one transaction, in
    which the device is also noted as seen now, with what its optional headers said of it.
    The answer's `Fieldapp-Signatures: batch` header tells the device it may sign its next
    batches once each (see docs/sync-protocol.md, *Batch signatures*)."""
    now = context.now()
    outcomes = ingest_push(
        context.storage,
        device,
        body.records,
        now=now,
        rules=context.published_rules,
        signer=ReceiptSigner(context.signing_key, context.key_id),
        receipts=receipts,
        writers=relayed_signers(context.storage, device, body),
        hops=relayed_hops(device, body, range(len(body.records))),
        epochs=body.epochs,
        contact=DeviceContact(waiting=says.waiting, app_version=says.app_version),
    )
    answer = PushResponse(outcomes=outcomes)
    return Response(
        answer.model_dump_json(),
        media_type="application/json",
        # Epoch envelopes, batch signatures and xz bodies welcome (docs/sync-protocol.md,
        # *Fewer bytes* and *Batch signatures*).
        headers={
            SEALING_EPOCHS_HEADER: "epochs",
            BATCH_SIGNATURES_HEADER: "batch",
            "Accept-Encoding": "gzip, xz",
        },
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
    """Every revision of a record, as signed: to the devices that wrote or pushed one of its
    revisions, and to the office roles of its region (or of none). Sealed parts only to the
    former and to the holders of the organisation's key (case managers, admins); a
    coordinator gets `sealed: null` on every revision and `sealed_withheld: true`. Another
    region's record, for a regional office device, is 404 as one that does not exist.
    Audited whether found or not (`ok`, `ok:statistics` when the sealed parts were withheld,
    `refused:not_found`)."""
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
    if head is None or not can_read_record(device, head.region, revisions):
        audit("refused:not_found")
        raise ApiError(404, "record_not_found", "no such record")
    sealed = can_read_sealed(device, revisions)
    audit("ok" if sealed else "ok:statistics")
    envelopes = [revision.to_envelope() for revision in revisions]
    return RecordView(
        id=head.id,
        form_id=head.form_id,
        head_revision=head.head_revision,
        deleted=head.deleted,
        in_conflict=head.in_conflict,
        siblings=head.siblings,
        revisions=(
            envelopes
            if sealed
            else [envelope.model_copy(update={"sealed": None}) for envelope in envelopes]
        ),
        sealed_withheld=not sealed,
    )
