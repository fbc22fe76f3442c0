"""`GET /v1/forms/{form_id}/{version}`: a form version published for the device's
organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from sync.protocol import PublishedForm
from sync.server.routes.common import ApiError, Context, CurrentDevice, v1_router
from sync.server.storage import NotFound

__all__ = ["router"]

router = v1_router()


@router.get("/forms/{form_id}/{version}", response_model=PublishedForm)
def form(
    form_id: Annotated[str, Path(min_length=1, max_length=64)],
    version: Annotated[str, Path(min_length=1, max_length=32)],
    device: CurrentDevice,
    context: Context,
) -> PublishedForm:
    """A form version published for the device's organisation (or for all)."""
    try:
        published = context.storage.get_form(device.org_id, form_id, version)
    except NotFound:
        raise ApiError(404, "form_not_found", "no such form version is published") from None
    return PublishedForm(form_id=published.form_id, version=published.version, spec=published.spec)
