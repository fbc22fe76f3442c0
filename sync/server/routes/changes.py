"""`GET /v1/changes`: the change log a device may see, one page after its cursor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from sync.protocol import ChangesPage
from sync.server.routes.common import (
    Context,
    CurrentDevice,
    DeviceSays,
    SelfReport,
    links,
    v1_router,
)
from sync.server.storage import Device

__all__ = ["CONTACT_RESOLUTION", "router"]

# How finely a device's last sync is kept: its pages come one after another, and a durable
# write for each would cost more than the page (a PostgreSQL commit: milliseconds).
CONTACT_RESOLUTION = timedelta(seconds=1)

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
    (a `ChangesPage`, built by the database from the stored change JSON). The device is
    noted as synced now, with what its optional headers said of it, unless that was noted
    within CONTACT_RESOLUTION already."""
    now = context.now()
    if not _noted_already(device, now, says):
        context.storage.note_device_contact(
            device.id, now, synced=True, waiting=says.waiting, app_version=says.app_version
        )
    page_limit = context.settings.changes_page_limit
    page = context.storage.changes_since_json(device, cursor, min(limit or page_limit, page_limit))
    return Response(page, media_type="application/json")


def _noted_already(device: Device, now: datetime, says: SelfReport) -> bool:
    """The device's last pull was noted less than CONTACT_RESOLUTION before `now`, and its
    headers say nothing new (what they leave out is kept anyway)."""
    return (
        device.last_sync_at is not None
        and timedelta(0) <= now - device.last_sync_at < CONTACT_RESOLUTION
        and says.waiting in (None, device.records_waiting)
        and says.app_version in (None, device.app_version)
    )
