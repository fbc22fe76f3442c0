"""Media questions in the form spec: photo, signature, sound and file questions answered by
an attachment id; `max_pixels`; images shown with labels, attached to the form like its CSVs."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pydantic import ValidationError

from fieldapp.forms.attachments import AttachmentError, bind
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import check

ID = "0123456789abcdef0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\nnot really"


def _form(*children: dict[str, Any], **extra: Any) -> FormSpec:
    return FormSpec.model_validate(
        {"id": "m", "version": "1", "title": {"en": "M"}, "children": list(children), **extra}
    )


MEDIA = _form(
    {"name": "photo", "type": "image", "label": {"en": "Document"}, "max_pixels": 800},
    {"name": "consent", "type": "signature", "label": {"en": "Signature"}, "required": True},
    {"name": "voice", "type": "audio", "label": {"en": "Voice"}},
    {"name": "scan", "type": "file", "label": {"en": "Scan"}},
)


def test_an_answer_is_an_attachment_id() -> None:
    checked = check(MEDIA, {"photo": ID, "consent": ID, "voice": ID, "scan": ID})
    assert checked.ok, checked.errors
    assert checked.values["photo"] == ID


@pytest.mark.parametrize("bad", ["photo.jpg", "0123", ID.upper(), 12, ["x"], {"id": ID}])
def test_anything_else_is_refused_naming_the_question(bad: object) -> None:
    checked = check(MEDIA, {"consent": ID, "photo": bad})
    assert [(e.field, e.code) for e in checked.errors] == [("photo", "type")]
    assert "Document" in checked.errors[0].message
    assert "attach" in checked.errors[0].message


def test_a_required_signature_must_be_drawn() -> None:
    checked = check(MEDIA, {"photo": ID})
    assert [(e.field, e.code) for e in checked.errors] == [("consent", "required")]


def test_max_pixels_is_kept_and_only_for_pictures() -> None:
    assert MEDIA.model_dump(mode="json")["children"][0]["max_pixels"] == 800
    assert "max_pixels" not in MEDIA.model_dump(mode="json")["children"][1]
    with pytest.raises(ValidationError, match="max_pixels is for image questions"):
        _form({"name": "a", "type": "audio", "max_pixels": 800})


def test_a_media_question_cannot_be_statistical() -> None:
    with pytest.raises(ValidationError, match="cannot be statistical"):
        _form({"name": "p", "type": "image", "sensitivity": "statistical"})


def _with_label_image(data: bytes = PNG) -> FormSpec:
    sha = hashlib.sha256(data).hexdigest()
    return _form(
        {"name": "q", "type": "text", "label": {"en": "Q"}, "label_image": {"en": "map.png"}},
        attachments={"map": {"file": "map.png", "sha256": sha, "size": len(data)}},
    )


def test_a_label_image_travels_as_a_form_file() -> None:
    spec = _with_label_image()
    assert spec.model_dump(mode="json")["attachments"]["map"]["file"] == "map.png"
    bound = bind(spec, {hashlib.sha256(PNG).hexdigest(): PNG})
    assert "map" not in bound.choices  # an image is not read as a choice list


def test_a_label_image_must_be_attached_and_match_its_digest() -> None:
    with pytest.raises(ValidationError, match=r"label image 'map.png' is not attached"):
        _form({"name": "q", "type": "text", "label_image": {"en": "map.png"}})
    with pytest.raises(ValidationError, match=r"must be a \.png"):
        _form({"name": "q", "type": "text", "label_image": {"en": "map.exe"}})
    spec = _with_label_image()
    with pytest.raises(AttachmentError, match=r"map\.png: its content does not match"):
        bind(spec, {hashlib.sha256(PNG).hexdigest(): b"other"})
