"""One question's control, by field type: radio buttons or a search for a long choice list,
check boxes, a text box with the keyboard its type needs. Any FormSpec's fields (built-in or
imported from XLSForm) are drawn by this module."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import flet as ft

from fieldapp.forms.choices import visible_choices
from fieldapp.forms.labels import filled
from fieldapp.forms.media import MEDIA_TYPES
from fieldapp.forms.spec import Choice, FieldSpec, Node
from fieldapp.ui.state import FormSession, answer_text, display_value
from fieldapp.ui.widgets.common import TOUCH, WRAP_LINES, error_text, keyed, typed
from fieldapp.ui.widgets.media import MediaField

__all__ = [
    "ChoiceSearch",
    "DateField",
    "choice_label",
    "field_control",
    "offered_choices",
    "path_of",
    "picked_date",
]

_RADIO_LIMIT = 12  # more choices than this get a search box instead of radio buttons
_MATCHES = 6


def _required(node: FieldSpec) -> bool:
    return node.required is True or isinstance(node.required, str)


def _field_label(form: FormSession, node: FieldSpec) -> str:
    text = form.label(node.label, node.name)
    return f"{text} *" if _required(node) else text


def path_of(node: Node, repeat: str | None, index: int | None) -> str:
    """Where an answer lives, as validation names it (`participants[1].age`)."""
    return node.name if repeat is None else f"{repeat}[{index}].{node.name}"


def choice_label(form: FormSession, node: FieldSpec, value: str) -> str:
    return form.spec.choice_label(node.choices or "", value, form.lang)


def offered_choices(
    form: FormSession, node: FieldSpec, repeat: str | None, index: int | None
) -> list[Choice]:
    """The choices a select offers now: its list narrowed by its `choice_filter` against the
    answers (a province by the country chosen). A pick the narrowing leaves out is kept and
    shown with validation's error, never cleared: changing the country back restores it."""
    if not node.choice_filter:
        return form.spec.choices.get(node.choices or "", [])
    env: Mapping[str, Any] = form.clean
    if repeat is not None and index is not None:
        env = ChainMap(form.clean_instance(repeat, index), form.clean)
    return visible_choices(form.spec, node, env)


@ft.component
def ChoiceSearch(
    form: FormSession, node: FieldSpec, repeat: str | None, index: int | None, value: Any
) -> ft.Control:
    """A long choice list (countries): type a few letters, tap the match."""
    _ = form.words
    query, set_query = ft.use_state("")
    error = form.errors.get(path_of(node, repeat, index))
    label = _field_label(form, node)

    def choose(choice: str) -> None:
        set_query("")
        form.set_value(node.name, choice, repeat=repeat, index=index)

    if value:
        return ft.Column(
            spacing=2,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                ft.Row(
                    controls=[
                        ft.Text(choice_label(form, node, str(value)), size=16, expand=True),
                        ft.TextButton(
                            _("Change"),
                            height=TOUCH,
                            on_click=lambda: form.set_value(
                                node.name, None, repeat=repeat, index=index
                            ),
                        ),
                    ]
                ),
                error_text(error),
            ],
        )
    needle = query.strip().casefold()
    matches: list[tuple[str, str]] = []
    if needle:
        options = [
            (c.value, form.spec.label(c.label, form.lang))
            for c in offered_choices(form, node, repeat, index)
        ]
        starts = [o for o in options if o[1].casefold().startswith(needle)]
        contains = [o for o in options if needle in o[1].casefold() and o not in starts]
        matches = (starts + contains)[:_MATCHES]
    return ft.Column(
        spacing=2,
        controls=[
            ft.TextField(
                label=label,
                value=query,
                hint_text=_("Search"),
                prefix_icon=ft.Icons.SEARCH,
                error=error,
                error_max_lines=WRAP_LINES,
                on_change=typed(set_query),
            ),
            *[
                ft.TextButton(
                    text,
                    height=TOUCH,
                    on_click=lambda _e=None, v=choice: choose(v),
                )
                for choice, text in matches
            ],
        ],
    )


def field_control(
    form: FormSession,
    node: FieldSpec,
    *,
    repeat: str | None = None,
    index: int | None = None,
    source: Mapping[str, Any] | None = None,
) -> ft.Control | None:
    """The control for one question; None for calculations (computed, never typed)."""
    if node.type == "calculate":
        return None
    label = _field_label(form, node)
    if node.type == "note":  # "${capital}" in it shows the answer or calculation
        env = (
            ChainMap(form.clean_instance(repeat, index or 0), form.clean) if repeat else form.clean
        )
        return ft.Container(
            content=ft.Text(filled(form.label(node.label), env)),
            padding=12,
            border_radius=8,
            bgcolor=ft.Colors.SECONDARY_CONTAINER,
        )
    values = form.values if source is None else source
    value = values.get(node.name)
    error = form.errors.get(path_of(node, repeat, index))
    if repeat is None and node.name in form.derived:
        return _derived(form, node, value)

    def put(new: Any) -> None:
        form.set_value(node.name, new, repeat=repeat, index=index)

    if node.type in MEDIA_TYPES:
        path = path_of(node, repeat, index)
        return keyed(MediaField, form, node, repeat, index, label, error, key=f"{form.key}-{path}")
    if node.type == "select_one":
        choices = offered_choices(form, node, repeat, index)
        if len(choices) > _RADIO_LIMIT or node.appearance == "autocomplete":
            return keyed(
                ChoiceSearch, form, node, repeat, index, value, key=path_of(node, repeat, index)
            )
        return ft.Column(
            spacing=0,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                ft.RadioGroup(
                    value=value,
                    on_change=typed(put),
                    content=ft.Column(
                        spacing=0,
                        controls=[
                            ft.Radio(value=c.value, label=form.spec.label(c.label, form.lang))
                            for c in choices
                        ],
                    ),
                ),
                error_text(error),
            ],
        )
    if node.type == "select_multiple":
        picked = list(value or [])
        return ft.Column(
            spacing=0,
            controls=[
                ft.Text(label, weight=ft.FontWeight.W_600),
                *[
                    ft.Checkbox(
                        label=form.spec.label(c.label, form.lang),
                        value=c.value in picked,
                        on_change=lambda _e=None, v=c.value: form.toggle_choice(
                            node.name, v, repeat=repeat, index=index
                        ),
                    )
                    for c in offered_choices(form, node, repeat, index)
                ],
                error_text(error),
            ],
        )
    if node.type == "boolean":
        return ft.Column(
            spacing=0,
            controls=[
                ft.Checkbox(
                    label=label, value=bool(value), on_change=lambda e: put(bool(e.control.value))
                ),
                error_text(error),
            ],
        )
    box = _text_box(form, node, label, value, error, path_of(node, repeat, index), put)
    if node.type == "date" and not node.read_only:
        return keyed(DateField, form, node, value, put, box, key=f"date-{box.key}")
    return box


def _derived(form: FormSession, node: FieldSpec, value: Any) -> ft.Control:
    """An answer that follows from others (the age from the date of birth): shown, not
    asked, so it can never disagree with them."""
    _ = form.words
    return ft.Column(
        spacing=0,
        controls=[
            ft.Text(form.label(node.label, node.name), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
            ft.Text(answer_text(form.spec, node, value, form.lang), size=16),
            ft.Text(
                _("Worked out from the answers above."),
                size=12,
                color=ft.Colors.ON_SURFACE_VARIANT,
            ),
        ],
    )


# The picker gives the day picked as the phone's local midnight, sent over in UTC; the server
# does not know the phone's time zone. Local midnight of day D is UTC D 00:00 minus the
# zone's offset: shifted by this much, it falls on D for every offset from -10:00 (Hawaii)
# to +13:45 (Chatham Islands in summer, New Zealand and Tonga at +13).
_PICKER_SHIFT = timedelta(hours=13, minutes=45)


def picked_date(value: Any) -> date | None:
    """The day a date picker gave (see `_PICKER_SHIFT`); a date or ISO text as it is."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return (value.astimezone(UTC).replace(tzinfo=None) + _PICKER_SHIFT).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return picked_date(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _date_limits(node: FieldSpec) -> tuple[date, date]:
    """The picker's first and last days: up to today for a date that cannot be later."""
    today = date.today()
    constraint = (node.constraint or "").replace(" ", "")
    last = today if ".<=today()" in constraint else date(today.year + 50, 12, 31)
    return date(1900, 1, 1), last


@ft.component
def DateField(
    form: FormSession, node: FieldSpec, value: Any, put: Callable[[Any], None], box: ft.Control
) -> ft.Control:
    """A date: typed as YYYY-MM-DD in `box`, or picked on a calendar (the button beside it)."""
    _ = form.words
    picking, set_picking = ft.use_state(False)
    first, last = _date_limits(node)
    shown = picked_date(value) if isinstance(value, str) and len(value) == 10 else None
    initial = shown if shown is not None and first <= shown <= last else min(date.today(), last)

    def chosen(e: ft.Event[ft.DatePicker]) -> None:
        day = picked_date(e.control.value)
        set_picking(False)
        if day is not None:
            put(day.isoformat())

    ft.use_dialog(
        ft.DatePicker(
            value=initial,
            first_date=first,
            last_date=last,
            current_date=date.today(),
            help_text=form.label(node.label, node.name),
            cancel_text=_("Cancel"),
            confirm_text=_("OK"),
            date_picker_mode=(
                ft.DatePickerMode.YEAR
                if shown is None and last == date.today()
                else ft.DatePickerMode.DAY
            ),
            on_change=chosen,
            on_dismiss=lambda: set_picking(False),
        )
        if picking
        else None
    )
    return ft.Row(
        vertical_alignment=ft.CrossAxisAlignment.START,
        controls=[
            ft.Container(content=box, expand=True),
            ft.Semantics(
                label=_("Pick a date"),
                button=True,
                content=ft.IconButton(
                    icon=ft.Icons.CALENDAR_MONTH,
                    height=TOUCH,
                    width=TOUCH,
                    on_click=lambda: set_picking(True),
                ),
            ),
        ],
    )


def _text_box(
    form: FormSession,
    node: FieldSpec,
    label: str,
    value: Any,
    error: str | None,
    key: str,
    put: Any,
) -> ft.Control:
    """A typed answer, with the keyboard and hint its type needs."""
    _ = form.words
    keyboard = {
        "integer": ft.KeyboardType.NUMBER,
        "decimal": ft.KeyboardType.NUMBER,
        "date": ft.KeyboardType.DATETIME,
        "datetime": ft.KeyboardType.DATETIME,
    }.get(node.type, ft.KeyboardType.TEXT)
    hint = form.label(node.hint) or None
    if node.type in ("date", "datetime"):
        hint = hint or _("YYYY-MM-DD")
    elif node.type == "geopoint":
        hint = hint or _("latitude longitude")
    multiline = node.appearance == "multiline"
    return ft.TextField(
        key=key,
        label=label,
        value=display_value(value),
        hint_text=hint,
        hint_max_lines=WRAP_LINES,
        error=error,
        error_max_lines=WRAP_LINES,
        keyboard_type=ft.KeyboardType.MULTILINE if multiline else keyboard,
        multiline=multiline,
        min_lines=3 if multiline else None,
        read_only=node.read_only,
        on_change=typed(put),
    )
