"""A picture answering a form's question, made ready to keep: re-encoded as that question
asks (a signature as a PNG, a photo as a JPEG, scaled to its max-pixels). The app's capture
and the spreadsheet import both go through here, so a picture is kept the same either way."""

from __future__ import annotations

from fieldapp.media.images import DEFAULT_MAX_PIXELS, CleanImage, ImageKind, reencode_image

__all__ = ["clean_picture"]


def clean_picture(
    field: str, question_type: str, max_pixels: int | None, data: bytes
) -> CleanImage:
    """`data` re-encoded for the image or signature question `field` (its form's max-pixels,
    or 1,600), metadata stripped. Raises MediaRejected naming the question when it is not an
    accepted image."""
    kind: ImageKind = "signature" if question_type == "signature" else "photo"
    return reencode_image(data, field=field, kind=kind, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
