"""An imported form in the app's state: a version whose attached file has not come yet is
listed but cannot be started (a message saying which file, never an exception); once the
file is there, the counted repeat follows its answer and a note shows a calculation."""

from __future__ import annotations

from pathlib import Path

from fieldapp.office.xlsform import import_form
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from tests._cascade_form import write_cascade_form
from tests.conftest import PASSPHRASE


def test_a_form_without_its_file_says_so_then_works_once_it_comes(tmp_path: Path) -> None:
    services = Services(tmp_path / "device")
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    app = AppState(services=services)
    app.go("home")
    imported = import_form(write_cascade_form(tmp_path / "form"))
    store = services.device.store
    store.forms.add(imported.spec, source="server")
    assert "cascade" in [f.id for f in services.records.forms()]  # on the home screen

    app.new_record("cascade")
    assert (app.form, app.message_key) == (None, "form_file_missing")
    assert app.message_params == {"file": "provinces.csv"}
    assert "provinces.csv" in app.text("form_file_missing", **app.message_params)

    [(digest, content)] = imported.files.items()
    store.forms.files.put(digest, content)  # what the next sync does
    app.new_record("cascade")
    form = app.form
    assert form is not None
    form.set_value("country", "ug")
    form.set_value("province", "gulu")
    form.set_value("n", 3)
    assert len(form.instances("child")) == 3
    assert form.clean["capital"] == "Gulu Town"
    form.set_value("n", 1)
    assert len(form.instances("child")) == 1
