"""Files attached to a form version: the CSVs (and GeoJSON feature collections) behind
`select_one_from_file` and `pulldata`, and the images shown with labels (`media::image`).

A form names each by the instance name its expressions use (`provinces` for
`provinces.csv`, as pyxform names the secondary instance) and holds only its file name, size
and SHA-256: the content travels beside the spec (published by the server, cached on the
device), content-addressed, so an unchanged file is never sent twice.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FILE_NAME_RE",
    "MAX_FILE_BYTES",
    "MAX_FORM_FILES_BYTES",
    "AwaitedFile",
    "FormFile",
    "reads_rows",
]

MAX_FILE_BYTES = 5 * 1024 * 1024  # one attached file
MAX_FORM_FILES_BYTES = 20 * 1024 * 1024  # every file of one form version
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(?i:csv|geojson)$")
_DATA_FILE = FILE_NAME_RE.pattern
_ANY_FILE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(?i:csv|geojson|png|jpe?g|gif|webp)$"


def reads_rows(file: str) -> bool:
    """A CSV or GeoJSON (rows read by the form) rather than an image shown with a label."""
    return file.lower().endswith((".csv", ".geojson"))


class FormFile(BaseModel):
    """One attached file: its name as the form wrote it, its size and its SHA-256 (hex).
    A CSV is read as rows (`fieldapp.forms.attachments`); an image is shown with a label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=_ANY_FILE)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_FILE_BYTES)


class AwaitedFile(BaseModel):
    """A data file an imported form reads that was not given: the version is kept as a
    draft, never published, until it is attached (`fieldapp forms attach`). `reads` says
    where and how, one entry a row ("survey row 14 (type): select_one_from_file")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=_DATA_FILE)
    reads: list[str] = Field(min_length=1)
    choices: bool = False  # a select reads it: it needs names (and labels, for a CSV)
    # The import warnings its absence raised (feature "attachment:awaited"), as
    # `FormSpec.import_warnings` holds them: taken away, and no others, when it is attached.
    warnings: list[str] = Field(default_factory=list)
