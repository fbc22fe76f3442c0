"""The office's exports: a form, a format (CSV, XLSX, HTCDS, anonymised micro-data), codes or
labels in a language; the records streamed from the server a page at a time into the file, a
progress bar while it runs, then the file saved through the browser's download (web) or a
save dialog (desktop)."""

from __future__ import annotations

import asyncio

import flet as ft

from fieldapp.i18n import N_
from fieldapp.ui.context import use_office
from fieldapp.ui.services.office_tools import EXPORT_FORMATS
from fieldapp.ui.state.office_figures import ExportsState
from fieldapp.ui.widgets.common import TOUCH, banner, page, title

__all__ = ["Exports"]

_FORMAT_NAMES = {
    "csv": "CSV",
    "xlsx": "XLSX (Excel)",
    "htcds": "HTCDS (CSV)",
    "microdata": N_("Anonymised micro-data (CSV)"),
}
_LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español", "ar": "العربية"}


@ft.component
def Exports() -> ft.Control:
    office = use_office()
    fresh: ExportsState = ExportsState(services=office.services, lang=office.lang)
    state, _set = ft.use_state(fresh)  # the first draw's: kept
    _ = state.words
    ft.use_effect(state.open, [])

    if state.missing:
        return page(
            [
                title(_("Exports")),
                banner(_("Exports need the office tools of a laptop."), error=True),
                ft.Text(state.missing, selectable=True),
            ]
        )

    async def export(_e: ft.Event[ft.Button] | None = None) -> None:
        made = await asyncio.to_thread(state.run)
        if made is not None:
            await ft.FilePicker().save_file(file_name=made.name, src_bytes=made.data)
            state.set(saved=made.name)

    controls: list[ft.Control] = [
        title(_("Exports")),
        ft.Text(_("What the office may see of a form's records: statistical fields only.")),
        ft.Dropdown(
            label=_("Form"),
            value=state.form,
            options=[ft.DropdownOption(key=i, text=t) for i, t, _l in state.forms],
            on_select=lambda e: state.set(form=e.control.value or ""),
        ),
        ft.Dropdown(
            label=_("Format"),
            value=state.kind,
            options=[ft.DropdownOption(key=k, text=_(_FORMAT_NAMES[k])) for k in EXPORT_FORMATS],
            on_select=lambda e: state.set(kind=e.control.value or "xlsx"),
        ),
        ft.Switch(
            label=_("Labels instead of codes"),
            value=state.labels,
            on_change=lambda e: state.set(labels=bool(e.control.value)),
        ),
        ft.Dropdown(
            label=_("Labels in"),
            value=state.label_lang,
            disabled=not state.labels,
            options=[
                ft.DropdownOption(key=code, text=_LANGUAGE_NAMES.get(code, code))
                for code in state.languages()
            ],
            on_select=lambda e: state.set(label_lang=e.control.value or "en"),
        ),
        ft.FilledButton(
            _("Export"),
            icon=ft.Icons.DOWNLOAD,
            height=TOUCH,
            disabled=state.running or not state.form,
            on_click=export,
        ),
    ]
    if state.running:
        controls += [
            ft.ProgressBar(),
            ft.Text(
                _.ngettext(
                    "{n} record written", "{n} records written", state.written, n=state.written
                )
            ),
        ]
    if state.problem:
        controls.append(banner(state.problem, error=True))
    if state.made is not None and not state.running:
        made = state.made
        controls.append(
            banner(
                _.ngettext(
                    "{n} record exported to {file}",
                    "{n} records exported to {file}",
                    made.records,
                    n=made.records,
                    file=made.name,
                ),
                icon=ft.Icons.CHECK_CIRCLE,
            )
        )
    return page(controls)
