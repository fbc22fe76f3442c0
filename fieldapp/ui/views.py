"""The app's screens as components over `AppState`: first run, unlock, home, records, training,
sync, settings, and the shell that frames them (mobile first: 360 px wide, 48 px targets)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import flet as ft

from fieldapp.ui.form_view import TOUCH, FormScreen, keyed, typed
from fieldapp.ui.services import AUTOLOCK_CHOICES, TRAINING_FORM, VICTIM_FORM
from fieldapp.ui.state import AppState, MergeSession
from fieldapp.ui.strings import LANGUAGES, is_rtl
from sync.protocol import EnrolmentLink

__all__ = ["ARABIC_FONT", "FONTS", "AppContext", "Shell", "app_theme"]

AppContext: ft.ContextProvider[AppState | None] = ft.create_context(None)

# Bundled (assets/fonts, SIL OFL): the web client works offline, so it cannot fetch a font for
# Arabic script from the internet, and Roboto has none.
ARABIC_FONT = "Noto Sans Arabic"
FONTS = {ARABIC_FONT: "fonts/NotoSansArabic-Regular.ttf"}


def app_theme() -> ft.Theme:
    """One calm palette for light and dark.

    The Arabic font is the theme's font in every language: it has no Latin letters, so those
    fall back to the built-in Roboto. (Set on the page from the start: in Flet 1.0.5 a font
    set later, or a container's theme or theme mode, does not reach every control.)
    """
    return ft.Theme(
        color_scheme_seed=ft.Colors.INDIGO,
        visual_density=ft.VisualDensity.STANDARD,
        font_family=ARABIC_FONT,
    )


_STATUS_ICONS = {
    "draft": ft.Icons.EDIT_NOTE,
    "waiting": ft.Icons.OUTBOX,
    "sent": ft.Icons.CLOUD_DONE,
    "rejected": ft.Icons.REPORT,
    "conflict": ft.Icons.CALL_SPLIT,
}


def _state() -> AppState:
    state = ft.use_context(AppContext)
    assert isinstance(state, AppState)
    return state


def _when(iso: str | None, lang: str) -> str:
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M")


def _title(text: str) -> ft.Control:
    return ft.Text(text, size=22, weight=ft.FontWeight.BOLD)


def _server_fields(
    text: Callable[..., str],
    url: str,
    code: str,
    set_url: Callable[[str], None],
    set_code: Callable[[str], None],
    on_submit: Callable[[], None] | None = None,
) -> list[ft.Control]:
    """The server address and the one-time enrolment code (first run and settings)."""
    return [
        ft.TextField(
            label=text("server_url"),
            value=url,
            keyboard_type=ft.KeyboardType.URL,
            on_change=typed(set_url),
        ),
        ft.TextField(
            label=text("enrol_code"), value=code, on_change=typed(set_code), on_submit=on_submit
        ),
    ]


def _message(state: AppState) -> list[ft.Control]:
    text = state.message
    if not text:
        return []
    bad = state.message_key not in (
        "connected_ok",
        "finalised",
        "kept_mine",
        "left_for_office",
        "consent_withdrawn_done",
        "qr_read",
        "merge_sent",
    )
    return [
        ft.Container(
            padding=12,
            border_radius=8,
            bgcolor=ft.Colors.ERROR_CONTAINER if bad else ft.Colors.PRIMARY_CONTAINER,
            content=ft.Text(
                text, color=ft.Colors.ON_ERROR_CONTAINER if bad else ft.Colors.ON_PRIMARY_CONTAINER
            ),
        )
    ]


def _page(controls: list[ft.Control]) -> ft.Control:
    return ft.ListView(controls=controls, spacing=14, padding=16, expand=True)


def _big_button(text: str, icon: Any, on_click: Any, *, filled: bool = True) -> ft.Control:
    kind = ft.FilledButton if filled else ft.FilledTonalButton
    return kind(text, icon=icon, height=60, on_click=on_click, expand=True)


# -- first run, lock ---------------------------------------------------------------------------
@ft.component
def Setup() -> ft.Control:
    state = _state()
    first, set_first = ft.use_state("")
    second, set_second = ft.use_state("")
    url, set_url = ft.use_state(state.services.default_server_url or "")
    code, set_code = ft.use_state("")
    # The link last scanned: its full fingerprint is checked while its code is the one typed.
    no_link: EnrolmentLink | None = None
    scanned, set_scanned = ft.use_state(no_link)
    busy, set_busy = ft.use_state(False)
    text = state.text
    if state.setup_step == "language":
        return _page(
            [
                ft.Icon(ft.Icons.SHIELD, size=56, color=ft.Colors.PRIMARY),
                _title(text("setup_language")),
                ft.RadioGroup(
                    value=state.lang,
                    on_change=typed(state.set_language),
                    content=ft.Column([ft.Radio(value=k, label=v) for k, v in LANGUAGES.items()]),
                ),
                ft.FilledButton(
                    text("continue"),
                    height=TOUCH,
                    on_click=lambda: state.setup_next("passphrase"),
                ),
            ]
        )
    if state.setup_step == "passphrase":

        def create() -> None:
            if state.create_device(first, second):
                set_first("")
                set_second("")

        return _page(
            [
                _title(text("setup_passphrase")),
                ft.Text(text("passphrase_help")),
                *_message(state),
                ft.TextField(
                    label=text("passphrase"),
                    password=True,
                    can_reveal_password=True,
                    value=first,
                    on_change=typed(set_first),
                ),
                ft.TextField(
                    label=text("passphrase_again"),
                    password=True,
                    can_reveal_password=True,
                    value=second,
                    on_change=typed(set_second),
                    on_submit=create,
                ),
                ft.Row(
                    controls=[
                        ft.OutlinedButton(
                            text("back"),
                            height=TOUCH,
                            on_click=lambda: state.setup_next("language"),
                        ),
                        ft.FilledButton(
                            text("protect"), icon=ft.Icons.LOCK, height=TOUCH, on_click=create
                        ),
                    ]
                ),
            ]
        )

    def connect() -> None:
        fingerprint = scanned.fingerprint if scanned is not None and scanned.code == code else None
        set_busy(True)
        try:
            state.enrol(url, code, fingerprint)
        finally:
            set_busy(False)

    async def scan() -> None:
        picker = ft.FilePicker()  # a service, registered with the page while it is in use
        files = await picker.pick_files(
            dialog_title=text("scan_qr"),
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
            set_url(link.server)
            set_code(link.code)
            set_scanned(link)

    return _page(
        [
            _title(text("setup_server")),
            ft.Text(text("server_help")),
            *_message(state),
            ft.OutlinedButton(
                text("scan_qr"),
                icon=ft.Icons.QR_CODE_SCANNER,
                height=TOUCH,
                on_click=scan,
                disabled=busy,
            ),
            *_server_fields(text, url, code, set_url, set_code, on_submit=connect),
            ft.ProgressBar(visible=busy),
            ft.FilledButton(
                text("connect"), icon=ft.Icons.LINK, height=TOUCH, on_click=connect, disabled=busy
            ),
            ft.OutlinedButton(
                text("work_offline"),
                icon=ft.Icons.CLOUD_OFF,
                height=TOUCH,
                on_click=state.work_offline,
                visible=not state.services.enrolled,
            ),
        ]
    )


@ft.component
def Unlock() -> ft.Control:
    state = _state()
    passphrase, set_passphrase = ft.use_state("")

    def unlock() -> None:
        value = passphrase
        set_passphrase("")
        state.unlock(value)

    return _page(
        [
            ft.Icon(ft.Icons.LOCK, size=56, color=ft.Colors.PRIMARY),
            _title(state.text("locked_title")),
            ft.Text(state.text("locked_help")),
            *_message(state),
            ft.TextField(
                label=state.text("passphrase"),
                password=True,
                can_reveal_password=True,
                value=passphrase,
                autofocus=True,
                on_change=typed(set_passphrase),
                on_submit=unlock,
            ),
            ft.FilledButton(
                state.text("unlock"), icon=ft.Icons.LOCK_OPEN, height=TOUCH, on_click=unlock
            ),
        ]
    )


@ft.component
def Wiped() -> ft.Control:
    state = _state()
    return _page(
        [
            ft.Icon(ft.Icons.DELETE_FOREVER, size=56, color=ft.Colors.ERROR),
            _title(state.text("wiped_title")),
            ft.Text(state.text("wiped_help")),
            ft.FilledButton(state.text("set_up_again"), height=TOUCH, on_click=state.start_again),
        ]
    )


@ft.component
def Unreadable() -> ft.Control:
    """The store file cannot be opened: say so, and offer nothing that would replace it."""
    state = _state()
    return _page(
        [
            ft.Icon(ft.Icons.ERROR_OUTLINE, size=56, color=ft.Colors.ERROR),
            _title(state.text("store_unreadable_title")),
            ft.Text(state.text("store_unreadable", path=str(state.services.store_path))),
        ]
    )


# -- home ---------------------------------------------------------------------------------------
def _status_tile(state: AppState, group: str) -> ft.Control:
    count = state.counts.get(group, 0)

    def open_group() -> None:
        state.records_group = group
        state.go("records")

    return ft.ListTile(
        leading=ft.Icon(_STATUS_ICONS[group]),
        title=ft.Text(state.text(f"status_{group}")),
        trailing=ft.Text(str(count), size=18, weight=ft.FontWeight.BOLD),
        min_height=TOUCH,
        on_click=open_group,
    )


@ft.component
def Home() -> ft.Control:
    state = _state()
    text = state.text
    services = state.services
    if services.offline_mode:
        link = text("offline_mode")
        link_icon = ft.Icons.CLOUD_OFF
    elif state.online is None:
        link, link_icon = text("server"), ft.Icons.CLOUD_QUEUE
    else:
        link = text("online" if state.online else "offline")
        link_icon = ft.Icons.CLOUD_DONE if state.online else ft.Icons.CLOUD_OFF
    last = (
        text("last_sync", when=_when(state.last_sync, state.lang))
        if state.last_sync
        else text("never_synced")
    )
    attention = [g for g in ("draft", "waiting", "rejected", "conflict") if state.counts.get(g, 0)]
    other_forms = (
        [f for f in services.forms() if f.id not in (VICTIM_FORM, TRAINING_FORM)]
        if state.device == "unlocked"
        else []
    )
    return _page(
        [
            *_message(state),
            ft.Container(
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST,
                content=ft.Row(
                    controls=[
                        ft.Icon(link_icon, color=ft.Colors.PRIMARY),
                        ft.Column(
                            spacing=0,
                            expand=True,
                            controls=[
                                ft.Text(link, weight=ft.FontWeight.W_600),
                                ft.Text(last, size=13),
                            ],
                        ),
                        ft.TextButton(
                            text("sync"),
                            icon=ft.Icons.SYNC,
                            height=TOUCH,
                            on_click=lambda: state.go("sync"),
                        ),
                    ]
                ),
            ),
            ft.Row(
                controls=[
                    _big_button(
                        text("new_screening"),
                        ft.Icons.PERSON_SEARCH,
                        lambda: state.new_record(VICTIM_FORM),
                    ),
                ]
            ),
            ft.Row(
                controls=[
                    _big_button(
                        text("training"),
                        ft.Icons.GROUPS,
                        lambda: state.go("training"),
                        filled=False,
                    ),
                ]
            ),
            *[
                ft.OutlinedButton(
                    f.label(f.title, state.lang),
                    height=TOUCH,
                    on_click=lambda _e=None, fid=f.id: state.new_record(fid),
                )
                for f in other_forms
            ],
            ft.Text(text("attention"), size=17, weight=ft.FontWeight.W_600),
            *(
                [_status_tile(state, g) for g in attention]
                if attention
                else [ft.Text(text("all_clear"))]
            ),
        ]
    )


# -- records ------------------------------------------------------------------------------------
@ft.component
def Records() -> ft.Control:
    state = _state()
    text = state.text
    groups = ("draft", "waiting", "sent", "rejected", "conflict")
    rows: list[ft.Control] = []
    for item in state.records:
        stats = state.record_line(item)
        subtitle = _when(item.updated_at, state.lang)
        icon = _STATUS_ICONS.get(state.records_group, ft.Icons.DESCRIPTION)
        if item.consent_withdrawn:
            subtitle += " · " + text("withdrawn_marker")
            icon = ft.Icons.PERSON_OFF
        elif state.is_superseded(item):
            subtitle += " · " + text("superseded_marker")
            icon = ft.Icons.HISTORY
        elif item.problem_count:
            subtitle += " · " + text("problem_count", n=item.problem_count)
        rows.append(
            ft.ListTile(
                leading=ft.Icon(icon),
                title=ft.Text(state.form_title(item.form_id)),
                subtitle=ft.Text(f"{subtitle}\n{stats}" if stats else subtitle),
                min_height=TOUCH,
                on_click=lambda _e=None, rid=item.id: state.open_record(rid),
            )
        )
    first = state.records_offset + 1 if state.records else 0
    last = state.records_offset + len(state.records)
    return _page(
        [
            _title(text("records")),
            ft.Row(
                wrap=True,  # every status in sight on a phone, none scrolled away
                controls=[
                    (ft.FilledButton if g == state.records_group else ft.OutlinedButton)(
                        f"{text(f'status_{g}')} ({state.counts.get(g, 0)})",
                        height=TOUCH,
                        on_click=lambda _e=None, grp=g: state.load_records(grp),
                    )
                    for g in groups
                ],
            ),
            *(rows or [ft.Text(text("no_records"))]),
            ft.Text(text("page_info", first=first, last=last, total=state.records_total)),
            ft.Row(
                controls=[
                    ft.OutlinedButton(
                        text("first_page"),
                        height=TOUCH,
                        disabled=not state.records_cursors,
                        on_click=state.first_records_page,
                    ),
                    ft.FilledButton(
                        text("next_page"),
                        height=TOUCH,
                        disabled=state.records_next is None,
                        on_click=state.next_records_page,
                    ),
                ]
            ),
        ]
    )


# -- training -----------------------------------------------------------------------------------
@ft.component
def Training() -> ft.Control:
    state = _state()
    text = state.text
    rows: list[ft.Control] = []
    for row in state.events:
        if row.shared_key is not None:
            subtitle = f"{row.start_date} · {text('status_shared')}"
            icon, action = ft.Icons.CLOUD_DOWNLOAD, partial(state.open_shared_event, row.shared_key)
        else:
            subtitle = (
                f"{row.start_date} · {text('participants_count', n=row.participants)}"
                f" · {text('status_' + _group(row.status))}"
            )
            icon, action = ft.Icons.EVENT, partial(state.open_record, row.record_id)
        rows.append(
            ft.ListTile(
                leading=ft.Icon(icon),
                title=ft.Text(row.title),
                subtitle=ft.Text(subtitle),
                min_height=TOUCH,
                on_click=lambda _e=None, act=action: act(),
            )
        )
    return _page(
        [
            *_message(state),
            _title(text("events")),
            ft.FilledButton(
                text("new_event"),
                icon=ft.Icons.ADD,
                height=TOUCH,
                on_click=lambda: state.new_record(TRAINING_FORM),
            ),
            *(rows or [ft.Text(text("no_events"))]),
        ]
    )


def _group(status: str) -> str:
    return {"final": "waiting", "queued": "waiting"}.get(status, status)


# -- merging a conflict -------------------------------------------------------------------------
@ft.component
def Merge(state: AppState, merge: MergeSession) -> ft.Control:
    """The differences between this device's version of a record in conflict and the other
    one, as far as this device may see them: a choice for each, then one button sends."""
    text = state.text
    rows = merge.rows()
    additions = merge.additions()
    body: list[ft.Control] = [_title(text("merge_title")), ft.Text(text("merge_help"))]
    if merge.office_only_details:
        body.append(
            ft.Container(
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.PRIMARY_CONTAINER,
                content=ft.Row(
                    controls=[
                        ft.Icon(ft.Icons.LOCK, color=ft.Colors.ON_PRIMARY_CONTAINER),
                        ft.Text(
                            text("merge_office_note"),
                            expand=True,
                            color=ft.Colors.ON_PRIMARY_CONTAINER,
                        ),
                    ]
                ),
            )
        )
    if not rows and not additions:
        body.append(ft.Text(text("merge_same")))
    for row in rows:
        body.append(
            ft.Card(
                content=ft.Container(
                    padding=12,
                    content=ft.Column(
                        spacing=4,
                        controls=[
                            ft.Text(row.label, weight=ft.FontWeight.W_600),
                            ft.RadioGroup(
                                value=merge.choices[row.key],
                                on_change=typed(partial(merge.choose, row.key)),
                                content=ft.Column(
                                    spacing=0,
                                    controls=[
                                        ft.Radio(
                                            value="mine",
                                            label=text("merge_mine", value=row.mine),
                                        ),
                                        ft.Radio(
                                            value="theirs",
                                            label=text("merge_theirs", value=row.theirs),
                                        ),
                                    ],
                                ),
                            ),
                        ],
                    ),
                )
            )
        )
    if additions:
        body.append(ft.Text(text("merge_only_theirs"), size=17, weight=ft.FontWeight.W_600))
    for addition in additions:
        body.append(
            ft.Column(
                spacing=0,
                controls=[
                    ft.Checkbox(
                        label=addition.label,
                        value=merge.choices[addition.key] == "theirs",
                        on_change=lambda _e=None, key=addition.key: merge.toggle(key),
                    ),
                    ft.Text(addition.summary, size=13, color=ft.Colors.ON_SURFACE_VARIANT),
                ],
            )
        )
    buttons = ft.Container(
        padding=ft.Padding.symmetric(horizontal=12, vertical=8),
        content=ft.Row(
            alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
            controls=[
                ft.OutlinedButton(text("cancel"), height=TOUCH, on_click=state.close_merge),
                ft.FilledButton(
                    text("send_merge"),
                    icon=ft.Icons.SEND,
                    height=TOUCH,
                    on_click=state.send_merge,
                ),
            ],
        ),
    )
    return ft.Column(expand=True, spacing=0, controls=[_page(body), buttons])


# -- sync ---------------------------------------------------------------------------------------
def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


@ft.component
def Sync() -> ft.Control:
    state = _state()
    text = state.text
    done, total, sent = state.progress

    def start() -> None:
        ft.context.page.run_thread(state.sync_now)

    message = (
        text(state.sync_message_key, **state.sync_message_params) if state.sync_message_key else ""
    )
    failed = state.sync_message_key in (
        "sync_unreachable",
        "sync_refused",
        "sync_problem",
        "not_enrolled",
        "server_degraded",
        "storage_full",
    )
    return _page(
        [
            _title(text("sync")),
            ft.Text(state.services.server_url or text("not_connected")),
            ft.Text(
                text("last_sync", when=_when(state.last_sync, state.lang))
                if state.last_sync
                else text("never_synced")
            ),
            ft.FilledButton(
                text("sync_now"),
                icon=ft.Icons.SYNC,
                height=60,
                disabled=state.syncing or not state.services.enrolled,
                on_click=start,
            ),
            ft.ProgressBar(
                value=(done / total) if total else (None if state.syncing else 0),
                semantics_label=text("sync"),
            ),
            ft.Text(text("sync_progress", done=done, total=total, size=_size(sent))),
            ft.Container(
                visible=bool(message),
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.ERROR_CONTAINER if failed else ft.Colors.PRIMARY_CONTAINER,
                content=ft.Text(message),
            ),
            ft.Text(text("not_enrolled"), visible=not state.services.enrolled),
            ft.OutlinedButton(
                text("settings"),
                height=TOUCH,
                visible=not state.services.enrolled,
                on_click=lambda: state.go("settings"),
            ),
        ]
    )


# -- settings -----------------------------------------------------------------------------------
@ft.component
def Settings() -> ft.Control:
    state = _state()
    text = state.text
    services = state.services
    url, set_url = ft.use_state(services.server_url or services.default_server_url or "")
    code, set_code = ft.use_state("")
    return _page(
        [
            _title(text("settings")),
            *_message(state),
            ft.Text(text("language"), weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=state.lang,
                on_change=typed(state.set_language),
                content=ft.Column([ft.Radio(value=k, label=v) for k, v in LANGUAGES.items()]),
            ),
            ft.Text(text("theme"), weight=ft.FontWeight.W_600),
            ft.RadioGroup(
                value=state.theme,
                on_change=typed(state.set_theme),
                content=ft.Row(
                    [
                        ft.Radio(value="light", label=text("theme_light")),
                        ft.Radio(value="dark", label=text("theme_dark")),
                    ]
                ),
            ),
            ft.Dropdown(
                label=text("autolock"),
                value=str(state.autolock_minutes),
                options=[
                    ft.DropdownOption(key=str(m), text=text("minutes", n=m))
                    for m in AUTOLOCK_CHOICES
                ],
                on_select=lambda e: state.set_autolock(int(e.control.value)),
            ),
            ft.Text(text("server"), weight=ft.FontWeight.W_600),
            ft.Text(services.server_url or text("not_connected")),
            *_server_fields(text, url, code, set_url, set_code),
            ft.OutlinedButton(
                text("connect"), height=TOUCH, on_click=lambda: state.enrol(url, code)
            ),
            ft.Text(text("about"), weight=ft.FontWeight.W_600),
            ft.Text(text("version", v=services.version)),
            ft.Text(text("about_text"), size=13),
            ft.OutlinedButton(
                text("lock_now"), icon=ft.Icons.LOCK, height=TOUCH, on_click=state.lock
            ),
            ft.FilledButton(
                text("wipe"),
                icon=ft.Icons.DELETE_FOREVER,
                height=TOUCH,
                bgcolor=ft.Colors.ERROR,
                color=ft.Colors.ON_ERROR,
                visible=not state.confirm_wipe,
                on_click=lambda: state.ask_wipe(True),
            ),
            ft.Container(
                visible=state.confirm_wipe,
                padding=12,
                border_radius=8,
                bgcolor=ft.Colors.ERROR_CONTAINER,
                content=ft.Column(
                    [
                        ft.Text(text("wipe_confirm"), color=ft.Colors.ON_ERROR_CONTAINER),
                        ft.Row(
                            wrap=True,
                            controls=[
                                ft.OutlinedButton(
                                    text("cancel"),
                                    height=TOUCH,
                                    on_click=lambda: state.ask_wipe(False),
                                ),
                                ft.FilledButton(
                                    text("wipe_yes"),
                                    height=TOUCH,
                                    bgcolor=ft.Colors.ERROR,
                                    color=ft.Colors.ON_ERROR,
                                    on_click=state.wipe,
                                ),
                            ],
                        ),
                    ]
                ),
            ),
        ]
    )


# -- the shell ----------------------------------------------------------------------------------
def _header(state: AppState) -> ft.Control:
    text = state.text
    unlocked = state.device == "unlocked"
    title = text("app_name")
    if state.screen in ("form", "merge") and state.form is not None:
        title = state.form.title
    on_primary = ft.ButtonStyle(color=ft.Colors.ON_PRIMARY, icon_color=ft.Colors.ON_PRIMARY)
    back = ft.TextButton(
        text("back"),
        icon=ft.Icons.ARROW_BACK,
        style=on_primary,
        height=TOUCH,
        visible=unlocked and state.screen in ("form", "merge"),
        on_click=state.close_merge if state.screen == "merge" else state.close_record,
    )
    return ft.Container(
        bgcolor=ft.Colors.PRIMARY,
        padding=ft.Padding.symmetric(horizontal=8, vertical=4),
        content=ft.Row(
            controls=[
                back,
                ft.Icon(
                    ft.Icons.SHIELD,
                    color=ft.Colors.ON_PRIMARY,
                    visible=state.screen not in ("form", "merge"),
                ),
                ft.Text(
                    title,
                    size=18,
                    weight=ft.FontWeight.BOLD,
                    color=ft.Colors.ON_PRIMARY,
                    expand=True,
                    max_lines=1,
                    overflow=ft.TextOverflow.ELLIPSIS,
                ),
                ft.TextButton(
                    text("lock_now"),
                    icon=ft.Icons.LOCK,
                    style=on_primary,
                    height=TOUCH,
                    visible=unlocked,
                    on_click=state.lock,
                ),
            ]
        ),
    )


def _bottom_nav(state: AppState) -> ft.Control:
    items = (
        ("home", ft.Icons.HOME),
        ("records", ft.Icons.LIST_ALT),
        ("sync", ft.Icons.SYNC),
        ("settings", ft.Icons.SETTINGS),
    )
    return ft.Container(
        bgcolor=ft.Colors.SURFACE_CONTAINER,
        content=ft.Row(
            spacing=0,
            controls=[
                ft.TextButton(
                    content=ft.Column(
                        spacing=0,
                        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                        controls=[
                            ft.Icon(
                                icon,
                                color=ft.Colors.PRIMARY if state.screen == name else None,
                            ),
                            ft.Text(state.text(name), size=12),
                        ],
                    ),
                    height=60,
                    expand=True,
                    on_click=lambda _e=None, n=name: state.go(n),
                )
                for name, icon in items
            ],
        ),
    )


@ft.component
def Shell() -> ft.Control:
    """Header, the current screen, bottom navigation; right-to-left for Arabic; theme."""
    state = _state()
    screen = state.screen
    mode = ft.ThemeMode.DARK if state.theme == "dark" else ft.ThemeMode.LIGHT

    def apply_theme_mode() -> None:
        # On the page: a container's theme mode does not follow later changes in Flet 1.0.5.
        page = ft.context.page
        if page.theme_mode != mode:
            page.theme_mode = mode
            page.update()

    ft.use_effect(apply_theme_mode, [mode])
    body: ft.Control
    if state.device == "unreadable":
        body = Unreadable()
    elif state.device == "wiped" and screen != "setup":
        body = Wiped()
    elif screen == "setup":
        body = Setup()
    elif state.device != "unlocked":
        body = Unlock()  # nothing about any record is drawn while locked
    elif screen == "form" and state.form is not None:
        body = keyed(FormScreen, state, state.form, key=state.form.record_id)
    elif screen == "merge" and state.merge is not None:
        body = keyed(Merge, state, state.merge, key=f"merge-{state.merge.offer.record_id}")
    elif screen == "records":
        body = Records()
    elif screen == "training":
        body = Training()
    elif screen == "sync":
        body = Sync()
    elif screen == "settings":
        body = Settings()
    else:
        body = Home()
    show_nav = state.device == "unlocked" and screen not in ("form", "merge", "setup")
    controls = [_header(state), body]
    if show_nav:
        controls.append(_bottom_nav(state))
    return ft.Container(
        expand=True,
        rtl=is_rtl(state.lang),
        bgcolor=ft.Colors.SURFACE,
        content=ft.Column(spacing=0, expand=True, controls=controls),
    )
