"""A picture answering a form's question, made ready to keep: re-encoded as that question
asks (a signature as a PNG, a photo as a JPEG, scaled to its max-pixels). The app's capture
and the spreadsheet import both go through here, so a picture is kept the same either way."""

from __future__ import annotations

from fieldapp.forms.media import DEFAULT_MAX_PIXELS
from fieldapp.forms.spec import FieldSpec
from fieldapp.media.images import CleanImage, ImageKind, reencode_image

__all__ = ["clean_picture"]


def clean_picture(node: FieldSpec, data: bytes) -> CleanImage:
    """`data` re-encoded for the image or signature question `node`, metadata stripped.
    Raises MediaRejected naming the question when it is not an accepted image."""
    kind: ImageKind = "signature" if node.type == "signature" else "photo"
    max_pixels = node.max_pixels or DEFAULT_MAX_PIXELS
    return reencode_image(data, field=node.name, kind=kind, max_pixels=max_pixels)
