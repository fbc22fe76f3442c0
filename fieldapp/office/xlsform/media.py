"""Media in an XLSForm: photo, signature, sound and file questions, their `parameters`
(`max-pixels`), and the media columns of a row (`media::image` shown with the label; sound,
video and autoplay, which the app does not play, imported with a warning)."""

from __future__ import annotations

from typing import Any

from fieldapp.office.xlsform.attachments import AttachedFiles, Report
from fieldapp.office.xlsform.workbook import MEDIA, Row, language_code

__all__ = ["label_media", "media_attributes"]

_DRAWN = frozenset({"signature", "draw"})


def media_attributes(row: Row, question_type: str, warn: Report, add: Report) -> dict[str, Any]:
    """The FieldSpec attributes of a media question row: its type (a `signature` or `draw`
    appearance is a signature pad), `max_pixels`; other parameters are warned about."""
    number, appearance = row.number, row.text("appearance").split()
    attributes: dict[str, Any] = {"type": question_type}
    if question_type == "image" and _DRAWN & set(appearance):
        attributes["type"] = "signature"
        appearance = [word for word in appearance if word not in _DRAWN]
    elif "annotate" in appearance:
        msg = "appearance 'annotate': the photo is attached as taken (no drawing on it)"
        warn("survey", number, row.column("appearance"), "appearance", msg)
        appearance.remove("annotate")
    attributes["appearance"] = " ".join(appearance) or None
    if "video" in row.text("type").lower():
        msg = "a video question: the app records no video; a video file can be attached"
        warn("survey", number, row.column("type"), "type:video", msg)
    for parameter in row.text("parameters").replace(";", " ").split():
        key, _, value = parameter.partition("=")
        column = row.column("parameters")
        if key.strip() == "max-pixels" and attributes["type"] in ("image", "signature"):
            if not value.strip().isdigit() or not 16 <= int(value) <= 10_000:
                msg = f"max-pixels {value!r} must be a whole number of pixels (16 to 10000)"
                add("survey", number, column, "parameters", msg)
            else:
                attributes["max_pixels"] = int(value)
        else:
            msg = f"parameter {parameter!r} is ignored (only max-pixels, on pictures, is used)"
            warn("survey", number, column, "parameters", msg)
    return attributes


def label_media(
    files: AttachedFiles, default_language: str, warn: Report, sheet: str, row: Row, *, shown: bool
) -> dict[str, str]:
    """The images shown with this row's label (`media::image`, by language) when `shown`
    (a question); every other media cell is a warning naming what the user gets instead."""
    images: dict[str, str] = {}
    for column, file in row.cells.items():
        if column.key not in MEDIA | {"autoplay"} or not file.strip():
            continue
        where = (sheet, row.number, column.header)
        if column.key in ("image", "big-image") and shown:
            language = column.language or default_language
            if files.label_image(file.strip(), warn, where):
                images.setdefault(language_code(language), file.strip())
        else:
            what = "image" if column.key in ("image", "big-image") else column.key
            msg = f"{column.header} {file!r}: the app does not show this {what}; the text is shown"
            warn(*where, f"column:{column.key}", msg)
    return images
