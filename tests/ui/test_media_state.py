"""A media question's state over a real store: a photo attached to a form not yet saved
writes its draft first; a file that is no picture is refused in the person's language; taken
again or removed, a draft's old attachment is erased; an empty signature pad is refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from fieldapp.forms.spec import FieldSpec
from fieldapp.ui.state import AppState
from fieldapp.ui.state.media import MediaAnswer
from tests._media import exif_photo
from tests.ui.test_form_state import app, consent, screening  # noqa: F401  (fixture, helpers)


def _answer(app: AppState, name: str) -> MediaAnswer:  # noqa: F811
    form = screening(app)
    node = form.spec.node(name)
    assert isinstance(node, FieldSpec)
    return MediaAnswer(form=form, node=node)


def test_a_photo_on_an_unsaved_form_writes_the_draft_and_is_kept_encrypted(
    app: AppState,  # noqa: F811
    tmp_path: Path,
) -> None:
    answer = _answer(app, "document_photo")
    assert not answer.form.created
    assert answer.limits() == "At most 10.0\u00a0MB per file and 40.0\u00a0MB per record."
    photo = exif_photo(tmp_path / "p.jpg", 5).read_bytes()
    assert answer.attach(photo, "p.jpg", "image/jpeg")
    assert answer.form.created and answer.form.record_id
    attached = answer.attached
    assert attached is not None and answer.form.values["document_photo"] == attached.id
    with Image.open(io.BytesIO(answer.thumbnail() or b"")) as image:
        assert max(image.size) == 1600 and not image.getexif()
    store = app.services.device.store
    assert [ref.id for ref in store.attachments.for_record(answer.form.record_id)] == [attached.id]


def test_a_file_that_is_no_picture_is_refused_in_the_persons_language(
    app: AppState,  # noqa: F811
) -> None:
    app.set_language("fr")
    answer = _answer(app, "document_photo")
    assert not answer.attach(b"%PDF-1.4 not a picture", "scan.pdf", "application/pdf")
    assert "n'est pas une image" in answer.problem
    assert "document_photo" not in answer.form.values


def test_taking_again_and_removing_erase_the_drafts_old_attachment(
    app: AppState,  # noqa: F811
    tmp_path: Path,
) -> None:
    answer = _answer(app, "document_photo")
    assert answer.attach(exif_photo(tmp_path / "a.jpg", 6).read_bytes(), "a.jpg", "image/jpeg")
    first = answer.value
    assert answer.attach(exif_photo(tmp_path / "b.jpg", 7).read_bytes(), "b.jpg", "image/jpeg")
    store = app.services.device.store
    assert [ref.id for ref in store.attachments.for_record(answer.form.record_id)] == [answer.value]
    assert answer.value != first
    answer.remove()
    assert answer.attached is None and store.attachments.for_record(answer.form.record_id) == []


@pytest.mark.parametrize("strokes", [[], [[(10.0, 10.0)]]])
def test_an_empty_signature_pad_is_refused(
    app: AppState,  # noqa: F811
    strokes: list[list[tuple[float, float]]],
) -> None:
    answer = _answer(app, "consent_signature")
    answer.open_pad()
    for stroke in strokes:
        answer.start_stroke(stroke[0])
    answer.save_signature()
    assert answer.problem == "Sign on the pad first." and answer.drawing


def test_a_drawn_signature_is_kept_as_a_png(app: AppState) -> None:  # noqa: F811
    answer = _answer(app, "consent_signature")
    consent(answer.form)
    answer.open_pad()
    answer.start_stroke((10.0, 20.0))
    for x in range(20, 200, 20):
        answer.extend_stroke((float(x), 40.0 + x % 40))
    answer.save_signature()
    attached = answer.attached
    assert not answer.drawing and attached is not None and attached.media_type == "image/png"
