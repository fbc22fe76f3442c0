"""A media question: "Take photo" / "Choose file" through Flet's file picker (on a phone the
picker offers the camera; in a browser the picked file's bytes come with it), a signature
pad drawn with a finger or the mouse, then the thumbnail or "Attached (size)" with Remove.
The limits are said before anything is picked."""

from __future__ import annotations

import mimetypes

import flet as ft
import flet.canvas as cv

from fieldapp.forms.spec import FieldSpec
from fieldapp.media.signatures import PAD_HEIGHT, PAD_WIDTH
from fieldapp.ui.state import FormSession
from fieldapp.ui.state.media import MediaAnswer
from fieldapp.ui.widgets.common import TOUCH, error_text

__all__ = ["MediaField"]

_PICKED = {
    "image": ft.FilePickerFileType.IMAGE,
    "audio": ft.FilePickerFileType.AUDIO,
    "file": ft.FilePickerFileType.ANY,
}
_THUMBNAIL = 120


@ft.component
def MediaField(
    form: FormSession,
    node: FieldSpec,
    repeat: str | None,
    index: int | None,
    label: str,
    error: str | None,
) -> ft.Control:
    _ = form.words
    answer, _set = ft.use_state(MediaAnswer(form=form, node=node, repeat=repeat, index=index))

    async def pick() -> None:
        files = await ft.FilePicker().pick_files(
            dialog_title=label,
            file_type=_PICKED.get(node.type, ft.FilePickerFileType.ANY),
            with_data=True,  # the web client has no file path: the file comes as bytes
        )
        if files:
            picked = files[0]
            answer.attach(picked.bytes, picked.name, _media_type(picked.name))

    controls: list[ft.Control] = [ft.Text(label, weight=ft.FontWeight.W_600)]
    hint = form.label(node.hint)
    if hint:
        controls.append(ft.Text(hint, size=13, color=ft.Colors.ON_SURFACE_VARIANT))
    attached = answer.attached
    if attached is not None:
        picture = answer.thumbnail()
        if picture is not None:
            controls.append(
                ft.Image(src=picture, width=_THUMBNAIL, height=_THUMBNAIL, fit=ft.BoxFit.CONTAIN)
            )
        controls.append(ft.Text(_("Attached ({size})", size=answer.size(attached))))
        if form.editable:
            controls.append(
                ft.OutlinedButton(
                    _("Remove"), icon=ft.Icons.DELETE_OUTLINE, height=TOUCH, on_click=answer.remove
                )
            )
    elif answer.drawing:
        controls.append(_pad(answer))
    elif form.editable:
        controls.append(ft.Text(answer.limits(), size=13, color=ft.Colors.ON_SURFACE_VARIANT))
        buttons: list[ft.Control]
        if node.type == "signature":
            buttons = [
                ft.OutlinedButton(
                    _("Sign"), icon=ft.Icons.DRAW, height=TOUCH, on_click=answer.open_pad
                )
            ]
        else:
            take = _("Take photo") if node.type == "image" else _("Record or choose a sound")
            buttons = [
                ft.OutlinedButton(
                    take if node.type in ("image", "audio") else _("Choose file"),
                    icon=ft.Icons.PHOTO_CAMERA if node.type == "image" else ft.Icons.ATTACH_FILE,
                    height=TOUCH,
                    on_click=pick,
                    disabled=answer.busy,
                )
            ]
            if node.type == "image":
                buttons.append(
                    ft.OutlinedButton(
                        _("Choose file"),
                        icon=ft.Icons.PHOTO_LIBRARY,
                        height=TOUCH,
                        on_click=pick,
                        disabled=answer.busy,
                    )
                )
        controls.append(ft.Row(wrap=True, controls=buttons))
    controls.append(ft.ProgressBar(visible=answer.busy))
    controls.append(error_text(answer.problem or error))
    return ft.Column(spacing=6, controls=controls)


def _pad(answer: MediaAnswer) -> ft.Control:
    """The signature pad: strokes drawn as the finger or mouse moves, then Save."""
    _ = answer.form.words
    pen = ft.Paint(stroke_width=3, color=ft.Colors.BLACK, style=ft.PaintingStyle.STROKE)
    shapes: list[cv.Shape] = [
        cv.Points(points=list(stroke), point_mode=cv.PointMode.POLYGON, paint=pen)
        for stroke in answer.strokes
    ]
    return ft.Column(
        controls=[
            ft.Semantics(
                label=_("Signature pad: sign here"),
                container=True,  # its own node, found by its label
                image=True,
                content=ft.Container(
                    width=PAD_WIDTH,
                    height=PAD_HEIGHT,
                    bgcolor=ft.Colors.WHITE,
                    border=ft.Border.all(1, ft.Colors.OUTLINE),
                    content=ft.GestureDetector(
                        on_pan_start=lambda e: answer.start_stroke(_point(e.local_position)),
                        on_pan_update=lambda e: answer.extend_stroke(_point(e.local_position)),
                        content=cv.Canvas(width=PAD_WIDTH, height=PAD_HEIGHT, shapes=shapes),
                    ),
                ),
            ),
            ft.Row(
                wrap=True,
                controls=[
                    ft.FilledButton(
                        _("Save signature"), height=TOUCH, on_click=answer.save_signature
                    ),
                    ft.TextButton(_("Clear"), height=TOUCH, on_click=answer.open_pad),
                    ft.TextButton(_("Cancel"), height=TOUCH, on_click=answer.close_pad),
                ],
            ),
        ]
    )


def _point(offset: ft.Offset) -> tuple[float, float]:
    return (
        min(max(offset.x, 0.0), float(PAD_WIDTH)),
        min(max(offset.y, 0.0), float(PAD_HEIGHT)),
    )


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
