"""Files attached to a form version: the CSVs behind `select_one_from_file` and `pulldata`,
and the images shown with labels (`media::image`).

A form names each by the instance name its expressions use (`provinces` for
`provinces.csv`, as pyxform names the secondary instance) and holds only its file name, size
and SHA-256: the content travels beside the spec (published by the server, cached on the
device), content-addressed, so an unchanged file is never sent twice.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FILE_NAME_RE", "MAX_FILE_BYTES", "MAX_FORM_FILES_BYTES", "FormFile", "is_csv"]

MAX_FILE_BYTES = 5 * 1024 * 1024  # one attached file
MAX_FORM_FILES_BYTES = 20 * 1024 * 1024  # every file of one form version
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(csv|CSV)$")
_ANY_FILE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(?i:csv|png|jpe?g|gif|webp)$"


def is_csv(file: str) -> bool:
    """A CSV (rows read by the form) rather than an image shown with a label."""
    return file.lower().endswith(".csv")


class FormFile(BaseModel):
    """One attached file: its name as the form wrote it, its size and its SHA-256 (hex).
    A CSV is read as rows (`fieldapp.forms.attachments`); an image is shown with a label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=_ANY_FILE)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_FILE_BYTES)
