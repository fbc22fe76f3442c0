"""Media questions: a photo, a drawn signature, a sound or any file, answered by the id of an
attachment the device stored encrypted (`store.attachments`), never by the bytes.

What the form says about them: which question types take a file, which are pictures (the
app re-encodes those and honours `max_pixels`), and what an answer looks like.
"""

from __future__ import annotations

import re

__all__ = [
    "ATTACHMENT_ID_RE",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_TYPES",
    "LABEL_IMAGE_RE",
    "MEDIA_TYPES",
    "is_attachment_id",
]

MEDIA_TYPES: frozenset[str] = frozenset({"image", "signature", "audio", "file"})
# pictures: re-encoded on the device (metadata stripped), downscaled to `max_pixels`
IMAGE_TYPES: frozenset[str] = frozenset({"image", "signature"})
DEFAULT_MAX_PIXELS = 1600  # on the long side, when the form does not say
ATTACHMENT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# an image shown with a label (`media::image`), attached to the form like its CSV files
LABEL_IMAGE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(?i:png|jpe?g|gif|webp)$")


def is_attachment_id(value: object) -> bool:
    """True for what a media question's answer must be: an attachment id (32 hex)."""
    return isinstance(value, str) and ATTACHMENT_ID_RE.match(value) is not None
