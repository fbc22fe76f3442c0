"""The Sync screen's offline bundles: "Export to file" saves the outbox as a signed bundle for
someone to carry to the centre, "Import from file" applies the centre's bundle (forms, shared
items, receipts). Files go through Flet's FilePicker (bytes both ways: the web client has no
paths); everything else is `services.bundles`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import flet as ft

from fieldapp.ui.context import use_app
from fieldapp.ui.messages import GOOD_NEWS, MessageKey
from fieldapp.ui.services import BundleFailed
from fieldapp.ui.widgets.common import TOUCH

__all__ = ["BundleFiles"]


@ft.component
def BundleFiles() -> ft.Control:
    state = use_app()
    _ = state.words
    enrolled = state.services.device.enrolled
    busy, set_busy = ft.use_state(False)
    progress, set_progress = ft.use_state(0.0)
    no_message: tuple[MessageKey, dict[str, Any]] | None = None
    said, set_said = ft.use_state(no_message)

    async def run(work: Callable[..., Any], *args: Any) -> Any:
        set_busy(True)
        set_progress(0.0)
        set_said(None)
        try:
            return await asyncio.to_thread(work, *args, set_progress)
        except BundleFailed as failed:
            set_said((failed.key, failed.params))
            return None
        finally:
            set_busy(False)

    async def export() -> None:
        state.touch()
        bundle = await run(state.services.bundles.export)
        if bundle is None:
            return
        saved = await ft.FilePicker().save_file(
            dialog_title=_("Export to file"), file_name=bundle.name, src_bytes=bundle.data
        )
        if saved is not None or ft.context.page.web:  # the web client downloads it
            set_said(("bundle_written", {"records": bundle.records}))

    async def import_file() -> None:
        state.touch()
        files = await ft.FilePicker().pick_files(
            dialog_title=_("Import from file"),
            with_data=True,  # bytes: no path on the web
        )
        if not files:
            return
        picked = files[0]
        data = picked.bytes
        if data is None and picked.path:
            data = await asyncio.to_thread(_read, picked.path)
        read = await run(state.services.bundles.import_, data or b"")
        if read is not None:
            set_said(
                ("bundle_read", {"changes": read.changes, "forms": read.forms, "sent": read.sent})
            )
            state.refresh_after_sync()

    key, params = said if said is not None else (None, {})
    good = key in GOOD_NEWS
    return ft.Column(
        visible=enrolled,
        controls=[
            ft.Text(_("No connection? Carry a bundle file"), weight=ft.FontWeight.W_600),
            ft.OutlinedButton(
                _("Export to file"), icon=ft.Icons.UPLOAD_FILE, height=TOUCH,
                disabled=busy, on_click=export,
            ),
            ft.OutlinedButton(
                _("Import from file"), icon=ft.Icons.FILE_OPEN, height=TOUCH,
                disabled=busy, on_click=import_file,
            ),
            ft.ProgressBar(visible=busy, value=progress or None, semantics_label=_("Bundle")),
            ft.Container(
                visible=key is not None,
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.PRIMARY_CONTAINER if good else ft.Colors.ERROR_CONTAINER,
                content=ft.Text(state.text(key, **params) if key is not None else ""),
            ),
        ],
    )  # fmt: skip


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()
