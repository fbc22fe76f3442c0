"""Media in XLSForms: photo, signature, sound, file and video questions, `max-pixels`, and
images shown with labels (attached like the CSVs a form reads)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fieldapp.forms.spec import FieldSpec
from fieldapp.office.xlsform import XLSFormError, import_xlsform
from tests.test_xlsform import write_xlsform

PNG = b"\x89PNG\r\n\x1a\n a map"


def _field(spec: object, name: str) -> FieldSpec:
    node = spec.node(name)  # type: ignore[attr-defined]
    assert isinstance(node, FieldSpec)
    return node


def test_media_questions_import_with_their_types(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "appearance", "parameters"],
            ["image", "doc", "Document", None, "max-pixels=800"],
            ["photo", "face", "Injury"],
            ["image", "consent", "Sign here", "signature"],
            ["audio", "voice", "Voice"],
            ["file", "scan", "Scan"],
            ["video", "clip", "Clip"],
        ],
    )
    spec = import_xlsform(path)
    types = {name: _field(spec, name).type for name in ("doc", "face", "consent", "voice")}
    assert types == {"doc": "image", "face": "image", "consent": "signature", "voice": "audio"}
    assert (_field(spec, "scan").type, _field(spec, "clip").type) == ("file", "file")
    assert _field(spec, "doc").max_pixels == 800
    assert _field(spec, "face").max_pixels is None
    assert _field(spec, "consent").appearance is None
    assert any("row 7" in w and "records no video" in w for w in spec.import_warnings)


def test_a_parameter_other_than_max_pixels_is_warned_about(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label", "parameters"], ["audio", "v", "V", "quality=low"]],
    )
    [warning] = import_xlsform(path).import_warnings
    assert warning.startswith("survey row 2: parameter 'quality=low' is ignored")


def test_a_bad_max_pixels_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label", "parameters"], ["image", "p", "P", "max-pixels=big"]],
    )
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(path)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.feature) == (2, "parameters", "parameters")
    assert "max-pixels 'big' must be a whole number" in problem.message


def test_a_label_image_beside_the_form_is_attached(tmp_path: Path) -> None:
    (tmp_path / "map.png").write_bytes(PNG)
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "media::image", "media::audio", "media::image::French (fr)"],
            ["text", "where", "Where?", "map.png", "where.mp3", "missing.png"],
        ],
    )
    spec = import_xlsform(path)
    assert _field(spec, "where").label_image == {"en": "map.png"}
    [ref] = spec.attachments.values()
    assert (ref.file, ref.sha256, ref.size) == (
        "map.png",
        hashlib.sha256(PNG).hexdigest(),
        len(PNG),
    )
    warnings = "\n".join(spec.import_warnings)
    assert "media::audio 'where.mp3': the app does not show this audio" in warnings
    assert "missing.png is not attached" in warnings
