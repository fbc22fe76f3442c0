"""Files attached to a form version: the CSVs behind `select_one_from_file` and `pulldata`.

A form names each by the instance name its expressions use (`provinces` for
`provinces.csv`, as pyxform names the secondary instance) and holds only its file name, size
and SHA-256: the content travels beside the spec (published by the server, cached on the
device), content-addressed, so an unchanged file is never sent twice.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FILE_NAME_RE", "MAX_FILE_BYTES", "MAX_FORM_FILES_BYTES", "FormFile"]

MAX_FILE_BYTES = 5 * 1024 * 1024  # one attached file
MAX_FORM_FILES_BYTES = 20 * 1024 * 1024  # every file of one form version
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(csv|CSV)$")


class FormFile(BaseModel):
    """One attached file: its name as the form wrote it, its size and its SHA-256 (hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=FILE_NAME_RE.pattern)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_FILE_BYTES)
