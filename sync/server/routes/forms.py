"""`GET /v1/forms/{form_id}/{version}`: a form version published for the device's
organisation; `GET /v1/form-files/{sha256}`: a file attached to one (content-addressed, so
a device fetches a file once whatever number of versions name it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

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


@router.get(
    "/form-files/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def form_file(
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    device: CurrentDevice,
    context: Context,
) -> Response:
    """A file attached to a form version published for the device's organisation (or for
    all), by its SHA-256; immutable, so it may be cached for good."""
    try:
        content = context.storage.get_form_file(device.org_id, sha256)
    except NotFound:
        raise ApiError(404, "form_file_not_found", "no such file is attached to a form") from None
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )
