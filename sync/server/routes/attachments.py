"""Attachment chunks over HTTP: which chunks the server lacks (`POST
/v1/attachments:missing`), a chunk's upload (`PUT /v1/attachments/chunks/{sha256}`, raw
body, at most `CHUNK_CIPHERTEXT_MAX_BYTES`: a larger Content-Length is refused with 413
`chunk_too_large` before a byte of the body is read, see `CHUNK_LIMIT`) and its download
(`GET`, for the office and the devices that wrote the record).

A chunk is stored only if its sha256 is its name and a record the caller's organisation
pushed names it (storage decides, see sync/server/storage/attachments.py); stored once
however often it is sent. The server never holds a key that opens one."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sync.protocol.attachments import (
    CHUNK_CIPHERTEXT_MAX_BYTES,
    CHUNK_SHA256_RE,
    MissingChunks,
    MissingChunksRequest,
)
from sync.server.auth import SEALED_READ_ROLES
from sync.server.limits import PathLimit
from sync.server.routes.common import ApiError, Context, CurrentDevice, audit, v1_router
from sync.server.storage import NotFound

__all__ = ["CHUNK_LIMIT", "router"]

router = v1_router()

_CHUNKS = "/v1/attachments/chunks/"
# The body limit of a chunk upload, applied by the body-limit middleware from the headers.
CHUNK_LIMIT = PathLimit(_CHUNKS, CHUNK_CIPHERTEXT_MAX_BYTES, "chunk_too_large")
Digest = Annotated[
    str, Path(pattern=CHUNK_SHA256_RE.pattern, description="sha256 (hex) of the ciphertext")
]


@router.post("/attachments:missing", response_model=MissingChunks)
def missing(body: MissingChunksRequest, device: CurrentDevice, context: Context) -> MissingChunks:
    """Of these chunks, the ones the server does not hold for the device's organisation: a
    resumed upload sends only those."""
    return MissingChunks(chunks=context.storage.missing_chunks(device.org_id, body.chunks))


@router.put("/attachments/chunks/{digest}", status_code=204, response_class=Response)
async def put_chunk(
    digest: Digest, request: Request, device: CurrentDevice, context: Context
) -> Response:
    """Store a ciphertext chunk (raw body). 422 `chunk_digest_mismatch` if its sha256 is not
    its name; 404 `chunk_not_named` unless a record of the organisation names it. Storing
    it twice is harmless (204 both times)."""
    data = await request.body()
    if hashlib.sha256(data).hexdigest() != digest:
        raise ApiError(422, "chunk_digest_mismatch", "the body's sha256 is not the chunk's name")
    try:
        await run_in_threadpool(context.storage.store_chunk, device, digest, data, context.now())
    except NotFound as exc:
        raise ApiError(
            404, "chunk_not_named", "no record of this organisation names this chunk"
        ) from exc
    return Response(status_code=204)


@router.get(
    "/attachments/chunks/{digest}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_chunk(digest: Digest, device: CurrentDevice, context: Context) -> Response:
    """A chunk's ciphertext, to the office holders of the organisation's key (case
    managers, admins) of its record's region and to the devices that wrote the record; a
    coordinator, who never holds the key, is refused (403); to anyone else it does not exist
    (404). Audited."""
    storage, now = context.storage, context.now()
    if device.role == "coordinator":
        audit(context, device, "read_chunk", "refused:forbidden", now=now)
        raise ApiError(403, "forbidden", "a coordinator device may not read attachments")
    try:
        data = storage.read_chunk(device, digest)
    except NotFound as exc:
        audit(context, device, "read_chunk", "refused:not_found", now=now)
        raise ApiError(404, "chunk_not_found", "no such chunk") from exc
    outcome = "ok:office" if device.role in SEALED_READ_ROLES else "ok"
    audit(context, device, "read_chunk", outcome, now=now)
    return Response(data, media_type="application/octet-stream")
