"""Case files (case managers and admins): "Unlock case files" with the organisation's key file
and its passphrase, the records to open, a record's answers (sealed ones included) as the
review shows them, and "Lock case files". Coordinators never see this section, and the
service refuses them if they reach it anyway.

The key file is read as bytes (`with_data`: the web client has no path) and handed to the
state; nothing of it, of the passphrase or of an opened record is written anywhere.
"""

from __future__ import annotations

from pathlib import Path

import flet as ft

from fieldapp.ui.context import use_office
from fieldapp.ui.services import OfficeRecord
from fieldapp.ui.state import CASE_FILE_MESSAGES, CaseFilesState
from fieldapp.ui.widgets.common import TOUCH, banner, page, title, use_typed_text, when
from fieldapp.ui.widgets.review import answer_controls

__all__ = ["CaseFiles"]


def _said(files: CaseFilesState) -> list[ft.Control]:
    text = files.message
    return [] if not text else [banner(text, error=files.problem)]


@ft.component
def _Unlock(files: CaseFilesState) -> ft.Control:
    _ = files.words
    passphrase = use_typed_text()
    busy, set_busy = ft.use_state(False)

    async def pick() -> None:
        picker = ft.FilePicker()  # a service, registered with the page while it is in use
        found = await picker.pick_files(
            dialog_title=_("Choose the organisation's key file"),
            with_data=True,  # the web client has no file path: the file comes as bytes
        )
        if not found:
            return
        chosen = found[0]
        data = chosen.bytes
        if data is None and chosen.path:  # a desktop window may give the path only
            data = Path(chosen.path).read_bytes()
        files.pick_key_file(chosen.name, data or b"")

    def unlock() -> None:
        set_busy(True)
        try:
            if files.unlock(passphrase.latest()):
                passphrase.set("")
        finally:
            set_busy(False)

    return page(
        [
            title(_("Case files")),
            ft.Text(
                _(
                    "Victims' identifying answers are sealed for the organisation. To read them,"
                    " unlock the case files with the organisation's key file and its passphrase."
                    " The key stays in this app's memory only, until you lock the case files,"
                    " the device locks, or it is left unused."
                )
            ),
            *_said(files),
            ft.OutlinedButton(
                _("Choose the key file"), icon=ft.Icons.KEY, height=TOUCH, on_click=pick
            ),
            ft.Text(
                _("Key file: {name}").format(name=files.key_file_name)
                if files.key_file_name
                else _("No key file chosen yet.")
            ),
            ft.TextField(
                label=_("Key file passphrase"),
                password=True,
                can_reveal_password=True,
                value=passphrase.shown,
                on_change=passphrase.on_change,
                on_submit=unlock,
            ),
            ft.FilledButton(
                _("Unlock case files"),
                icon=ft.Icons.LOCK_OPEN,
                height=TOUCH,
                on_click=unlock,
                disabled=busy,
            ),
            ft.ProgressBar(visible=busy),
        ]
    )


def _record_row(files: CaseFilesState, record: OfficeRecord) -> ft.Control:
    _ = files.words
    record_id = str(record.id)
    details = [
        record.form_id,
        record.region or _("no region"),
        when(record.received_at.isoformat(), files.lang),
    ]
    return ft.Row(
        controls=[
            ft.Column(
                spacing=0,
                expand=True,
                controls=[
                    ft.Text(record_id[:8], weight=ft.FontWeight.W_600),
                    ft.Text(" · ".join(details), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
                ],
            ),
            ft.TextButton(
                _("Open"),
                icon=ft.Icons.FOLDER_OPEN,
                height=TOUCH,
                on_click=lambda _e=None: files.open(record_id),
            ),
        ]
    )


def _opened(files: CaseFilesState) -> list[ft.Control]:
    _ = files.words
    opened = files.opened
    if opened is None:
        return []
    head = opened.head
    notes: list[ft.Control] = []
    if head.erased:
        notes.append(banner(_("Consent was withdrawn: the sealed answers were erased.")))
    return [
        ft.Row(
            controls=[
                ft.Text(
                    _("Record {id}").format(id=str(opened.id)[:8]),
                    size=18,
                    weight=ft.FontWeight.W_600,
                    expand=True,
                ),
                ft.TextButton(
                    _("Close record"),
                    icon=ft.Icons.CLOSE,
                    height=TOUCH,
                    on_click=lambda _e=None: files.close_record(),
                ),
            ]
        ),
        *notes,
        ft.Card(
            content=ft.Container(
                padding=12,
                # Not selectable: a victim's answers are read here, not copied to the clipboard.
                content=ft.Column(
                    spacing=6, controls=answer_controls(files.lines, selectable=False)
                ),
            )
        ),
    ]


@ft.component
def CaseFiles() -> ft.Control:
    """The case files section: unlock, then open records; lock when done."""
    # Handed on as a prop: a component re-draws when an observable it was given changes.
    return _Section(use_office().case_files)


@ft.component
def _Section(files: CaseFilesState) -> ft.Control:
    _ = files.words
    if not files.available:
        return page([title(_("Case files")), banner(_(CASE_FILE_MESSAGES["refused"]), error=True)])
    if not files.unlocked:
        return _Unlock(files)
    return _Opened(files)


@ft.component
def _Opened(files: CaseFilesState) -> ft.Control:
    _ = files.words
    body: list[ft.Control] = [
        ft.Row(
            controls=[
                ft.Text(_("Case files"), size=22, weight=ft.FontWeight.BOLD, expand=True),
                ft.FilledTonalButton(
                    _("Lock case files"),
                    icon=ft.Icons.LOCK,
                    height=TOUCH,
                    on_click=lambda _e=None: files.lock(),
                ),
            ],
        ),
        *_said(files),
    ]
    if files.opened is not None:
        body.extend(_opened(files))
    else:
        body.append(ft.Text(_("Records to open"), size=17, weight=ft.FontWeight.W_600))
        body.extend(_record_row(files, record) for record in files.records)
        if not files.records:
            body.append(ft.Text(_("No records yet.")))
        if files.next_cursor is not None:
            body.append(
                ft.TextButton(_("More"), height=TOUCH, on_click=lambda _e=None: files.more())
            )
    return page(body)
