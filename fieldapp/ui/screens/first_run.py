"""First run: the language, the passphrase that protects the device, then the organisation's
server (its address and a one-time code, typed or read from a QR image), or offline for now."""

from __future__ import annotations

import flet as ft

from fieldapp.i18n import LANGUAGES
from fieldapp.ui.context import use_app
from fieldapp.ui.services import EnrolmentLink
from fieldapp.ui.state import AppState
from fieldapp.ui.widgets.common import (
    TOUCH,
    TypedText,
    headline,
    message_box,
    page,
    server_fields,
    title,
    typed,
    use_typed_text,
)

__all__ = ["FirstRun"]


@ft.component
def FirstRun() -> ft.Control:
    """The step that shows; what was typed in the others is kept while the screen is."""
    state = use_app()
    passphrases = (use_typed_text(), use_typed_text())
    server = (use_typed_text(state.services.device.default_server_url or ""), use_typed_text())
    if state.setup_step == "language":
        return _language(state)
    if state.setup_step == "passphrase":
        return _passphrase(state, *passphrases)
    return Server(*server)


def _language(state: AppState) -> ft.Control:
    _ = state.words
    return page(
        [
            *headline(ft.Icons.SHIELD, _("Choose your language")),
            ft.RadioGroup(
                value=state.lang,
                on_change=typed(state.set_language),
                content=ft.Column([ft.Radio(value=k, label=v) for k, v in LANGUAGES.items()]),
            ),
            ft.FilledButton(
                _("Continue"), height=TOUCH, on_click=lambda: state.setup_next("passphrase")
            ),
        ]
    )


def _passphrase(state: AppState, first: TypedText, second: TypedText) -> ft.Control:
    _ = state.words

    def create() -> None:
        if state.create_device(first.latest(), second.latest()):
            first.set("")
            second.set("")

    return page(
        [
            title(_("Protect this device")),
            ft.Text(
                _(
                    "Choose a passphrase of several words. Without it nobody, not even you,"
                    " can read the records on this device."
                )
            ),
            *message_box(state),
            ft.TextField(
                label=_("Passphrase"),
                password=True,
                can_reveal_password=True,
                value=first.shown,
                on_change=first.on_change,
            ),
            ft.TextField(
                label=_("Repeat the passphrase"),
                password=True,
                can_reveal_password=True,
                value=second.shown,
                on_change=second.on_change,
                on_submit=create,
            ),
            ft.Row(
                controls=[
                    ft.OutlinedButton(
                        _("Back"), height=TOUCH, on_click=lambda: state.setup_next("language")
                    ),
                    ft.FilledButton(
                        _.pgettext("button", "Protect this device"),
                        icon=ft.Icons.LOCK,
                        height=TOUCH,
                        on_click=create,
                    ),
                ]
            ),
        ]
    )


@ft.component
def Server(url: TypedText, code: TypedText) -> ft.Control:
    state = use_app()
    _ = state.words
    # The link last scanned: its full fingerprint is checked while its code is the one typed.
    no_link: EnrolmentLink | None = None
    scanned, set_scanned = ft.use_state(no_link)
    busy, set_busy = ft.use_state(False)

    def connect() -> None:
        typed_code = code.latest()
        fingerprint = (
            scanned.fingerprint if scanned is not None and scanned.code == typed_code else None
        )
        set_busy(True)
        try:
            state.enrol(url.latest(), typed_code, fingerprint)
        finally:
            set_busy(False)

    async def scan() -> None:
        picker = ft.FilePicker()  # a service, registered with the page while it is in use
        files = await picker.pick_files(
            dialog_title=_("Scan a QR image"),
            file_type=ft.FilePickerFileType.IMAGE,
            with_data=True,  # the web client has no file path: the picture comes as bytes
        )
        if not files:
            return
        set_busy(True)
        try:
            link = await state.scan_enrolment(files[0].bytes or b"")
        finally:
            set_busy(False)
        if link is not None:
            url.set(link.server)
            code.set(link.code)
            set_scanned(link)

    return page(
        [
            title(_("Connect to your organisation")),
            ft.Text(
                _(
                    "Your coordinator gives you the server address and a one-time code of 8"
                    " groups of 4 letters and digits, or a QR image with both."
                )
            ),
            *message_box(state),
            ft.OutlinedButton(
                _("Scan a QR image"),
                icon=ft.Icons.QR_CODE_SCANNER,
                height=TOUCH,
                on_click=scan,
                disabled=busy,
            ),
            *server_fields(_, url, code, on_submit=connect),
            ft.ProgressBar(visible=busy),
            ft.FilledButton(
                _("Connect"), icon=ft.Icons.LINK, height=TOUCH, on_click=connect, disabled=busy
            ),
            ft.OutlinedButton(
                _("Work offline for now"),
                icon=ft.Icons.CLOUD_OFF,
                height=TOUCH,
                on_click=state.work_offline,
                visible=not state.services.device.enrolled,
            ),
        ]
    )
