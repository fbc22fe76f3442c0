"""What a `type` cell means: a field, a group or repeat boundary, or a feature the engine
does not have."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fieldapp.forms.spec import METADATA_TYPES
from fieldapp.office.xlsform.typed_text import TYPED_TEXT

_FIELD_TYPES = {
    "text": "text",
    "string": "text",
    "integer": "integer",
    "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "datetime": "datetime",
    "geopoint": "geopoint",
    "note": "note",
    "calculate": "calculate",
    "acknowledge": "boolean",
    "trigger": "boolean",  # pyxform's older name of acknowledge (the same <trigger> control)
}
_BEGIN = {"begin group": "group", "begin_group": "group", "begin repeat": "repeat"}
_BEGIN["begin_repeat"] = "repeat"
_END = {"end group": "group", "end_group": "group", "end repeat": "repeat", "end_repeat": "repeat"}
_END |= {"end loop": "loop", "end_loop": "loop"}
# a type cell -> the question type; video is picked as a file (the app records none)
MEDIA_QUESTION_TYPES = {
    "image": "image",
    "photo": "image",
    "add image prompt": "image",
    "add photo prompt": "image",
    "audio": "audio",
    "add audio prompt": "audio",
    "file": "file",
    "add file prompt": "file",
    "video": "file",
    "add video prompt": "file",
}
_MEDIA_TYPES = frozenset({"background-audio", "add barcode prompt"})
_METADATA_TYPES = frozenset(
    {"start", "end", "today", "deviceid", "imei", "phonenumber", "phone number", "username"}
    | {"email", "simserial", "subscriberid", "audit", "start-geopoint", "background-geopoint"}
    | {"uri:deviceid", "uri:email", "uri:phonenumber", "uri:simserial", "uri:subscriberid"}
    | {"uri:username", "get start time", "get end time", "get today", "get device id"}
    | {"get phone number", "get sim id", "get subscriber id"}
)
METADATA_ALIASES = {
    "uri:deviceid": "deviceid",
    "get device id": "deviceid",
    "uri:username": "username",
    "uri:email": "email",
    "phone number": "phonenumber",
    "uri:phonenumber": "phonenumber",
    "get phone number": "phonenumber",
    "uri:simserial": "simserial",
    "get sim id": "simserial",
    "uri:subscriberid": "subscriberid",
    "get subscriber id": "subscriberid",
    "get start time": "start",
    "get end time": "end",
    "get today": "today",
}
_SELECT = re.compile(
    r"(?P<kind>select_one|select1|select one|select_multiple|select all that apply"
    r"|add select one prompt using|add select multiple prompt using)"
    r"(?:\s+from)?\s+(?P<list>\S+)(?P<rest>.*)",
    re.IGNORECASE,
)
_EXTERNAL_SELECT = re.compile(
    r"select[ _](?P<kind>one|multiple)(?P<how>[ _]from[ _]file|_external)\s+(?P<list>\S+)$", re.I
)


@dataclass(frozen=True)
class QuestionType:
    """What a `type` cell means: a field, a group boundary, or an unsupported feature."""

    role: str  # "field", "begin", "end" or "unsupported"
    value: str  # FieldType, "group" / "repeat" / "loop", or the feature
    choices: str | None = None
    message: str = ""
    metadata: str | None = None
    from_file: bool = False  # `choices` names an attached CSV (select_one_from_file)
    or_other: bool = False  # pyxform's `or_other`: an "other" choice and a text to specify it
    typed: str | None = None  # a type the app has no widget for, typed as text (typed_text.py)


def classify(type_text: str) -> QuestionType:
    text = " ".join(type_text.split())
    lower = text.lower()
    if lower in _FIELD_TYPES:
        return QuestionType("field", _FIELD_TYPES[lower])
    if lower in _BEGIN:
        return QuestionType("begin", _BEGIN[lower])
    if lower in _END:
        return QuestionType("end", _END[lower])
    if lower.startswith("begin loop") or lower.startswith("begin_loop"):
        return QuestionType("begin", "loop")
    external = _EXTERNAL_SELECT.match(text)
    if external:
        kind = "select_one" if external["kind"].lower() == "one" else "select_multiple"
        if external["how"].lower().endswith("file"):
            file = external["list"]
            if not file.lower().endswith((".csv", ".geojson")):
                msg = (
                    f"choices from {file!r} (items): fieldapp reads choices from CSV and"
                    f" GeoJSON files only ({text!r})"
                )
                # `choices` names the file: its instance is this row's, not a missing CSV
                return QuestionType("unsupported", "type:external-choices", file, msg)
            return QuestionType("field", kind, choices=external["list"], from_file=True)
        return QuestionType("field", kind, choices=external["list"])  # external_choices sheet
    select = _SELECT.fullmatch(text)
    if select:
        rest = select["rest"].strip().lower()
        or_other = rest in ("or_other", "or specify other", "or other")
        if rest and not or_other:
            return _unsupported("type:unknown", f"unknown question type {text!r}")
        many = any(word in select["kind"].lower() for word in ("multiple", "all"))
        kind = "select_multiple" if many else "select_one"
        return QuestionType("field", kind, choices=select["list"], or_other=or_other)
    head = lower.split(" ")[0]
    if lower in TYPED_TEXT:
        return QuestionType("field", "text", typed=lower)
    if lower in MEDIA_QUESTION_TYPES:
        return QuestionType("field", MEDIA_QUESTION_TYPES[lower])
    if lower in _MEDIA_TYPES:
        return _unsupported(f"type:{lower}", f"unsupported question type {text!r} (media)")
    metadata = METADATA_ALIASES.get(lower, lower)
    if metadata in METADATA_TYPES:
        return QuestionType("field", METADATA_TYPES[metadata], metadata=metadata)
    if lower in _METADATA_TYPES:
        return _unsupported(
            f"type:{lower}", f"unsupported metadata type {text!r} (collected automatically)"
        )
    if head in ("geotrace", "geoshape", "range", "rank", "time", "hidden"):
        return _unsupported(f"type:{head}", f"unsupported question type {text!r}")
    if head in ("xml-external", "csv-external"):
        return _unsupported("type:external-data", f"unsupported external data {text!r}")
    return _unsupported("type:unknown", f"unknown question type {text!r}")


def _unsupported(feature: str, message: str) -> QuestionType:
    return QuestionType("unsupported", feature, message=message)
