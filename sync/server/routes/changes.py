"""`GET /v1/changes`: the change log a device may see, one page after its cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from sync.protocol import ChangesPage
from sync.server.routes.common import Context, CurrentDevice, DeviceSays, links, v1_router

__all__ = ["router"]

router = v1_router()


@router.get(
    "/changes",
    response_model=ChangesPage,
    openapi_extra=links(
        NextPage=("GET /changes", {"parameters": {"query.cursor": "$response.body#/next_cursor"}}),
        FirstChangedForm=(
            "GET /forms/{form_id}/{version}",
            {
                "parameters": {
                    "path.form_id": "$response.body#/changes/0/data/form_id",
                    "path.version": "$response.body#/changes/0/data/version",
                }
            },
        ),
    ),
)
def changes(
    device: CurrentDevice,
    context: Context,
    says: DeviceSays,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """Changes after `cursor` that this device may see, oldest first, one page at a time
    (a `ChangesPage`, spliced from the stored change JSON). The device is noted as synced
    now, with what its optional headers said of it."""
    context.storage.note_device_contact(
        device.id,
        context.now(),
        synced=True,
        waiting=says.waiting,
        app_version=says.app_version,
    )
    page_limit = context.settings.changes_page_limit
    page = context.storage.changes_since_json(device, cursor, min(limit or page_limit, page_limit))
    return Response(page, media_type="application/json")
