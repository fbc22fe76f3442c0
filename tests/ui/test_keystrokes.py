"""A keystroke in a form is judged once: the screen's live errors and the autosaved draft come
from the same validation (it used to run two or three times: the UI's partial and strict
checks, then the store's own)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms import validate
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState, FormSession
from tests.conftest import PASSPHRASE, Clock


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call of `fieldapp.forms.validate.check`, wherever a module imported it from: the
    keyword arguments of each."""
    calls: list[dict[str, Any]] = []
    original: Callable[..., validate.Checked] = validate.check

    def counted(*args: Any, **kwargs: Any) -> validate.Checked:
        calls.append(kwargs)
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "check", None) is original:
            monkeypatch.setattr(module, "check", counted)
    return calls


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> AppState:
    services = Services(tmp_path / "device", clock=clock)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    state = AppState(services=services)
    state.go("home")
    return state


def opened(app: AppState, form_id: str) -> FormSession:
    app.new_record(form_id)
    assert app.form is not None
    return app.form


def test_a_keystroke_is_validated_once(app: AppState, checks: list[dict[str, Any]]) -> None:
    form = opened(app, "victim_screening")
    form.set_value("consent_record", "yes")
    checks.clear()
    form.set_value("case_code", "K")
    assert len(checks) == 1
    form.set_value("case_code", "KH")
    assert len(checks) == 2
    assert "case_code" in form.errors  # judged as typed (the code's pattern)
    stored = app.services.records.get(form.record_id)
    assert stored.values["case_code"] == "KH"  # and saved from that same judgement


def test_once_also_where_missing_answers_already_show(
    app: AppState, checks: list[dict[str, Any]]
) -> None:
    form = opened(app, "victim_screening")
    form.set_value("consent_share", "yes")  # the first answer writes the draft
    assert not form.next()  # consent missing: the step is now judged strictly
    assert "consent_record" in form.errors
    checks.clear()
    form.set_value("consent_record", "yes")
    assert len(checks) == 1
    assert "consent_record" not in form.errors and "consent_refer" in form.errors


def test_the_first_answer_writes_the_draft_judged_once_more_by_the_store(
    app: AppState, checks: list[dict[str, Any]]
) -> None:
    form = opened(app, "victim_screening")
    assert checks == [{"lang": "en"}]  # opened: judged, nothing written
    checks.clear()
    form.set_value("consent_record", "yes")
    assert checks == [{"lang": "en"}, {"partial": True}]  # the store's, as it creates it
    checks.clear()
    form.set_value("consent_refer", "yes")
    assert len(checks) == 1


def test_once_in_a_repeat_entry_and_for_a_ticked_choice(
    app: AppState, checks: list[dict[str, Any]]
) -> None:
    form = opened(app, "training_attendance")
    form.add_instance("participants")
    checks.clear()
    form.set_value("full_name", "Ana", repeat="participants", index=0)
    form.toggle_choice("attendance", "day1", repeat="participants", index=0)
    assert len(checks) == 2
    stored = app.services.records.get(form.record_id).values["participants"][0]
    assert (stored["full_name"], stored["attendance"]) == ("Ana", ["day1"])
