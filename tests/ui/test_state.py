"""The app's behaviour without a browser: observable state and services over a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flet as ft
import pytest
from flet.utils import get_param_count

from fieldapp.forms.spec import FormSpec
from fieldapp.store import Store
from fieldapp.ui.screens.shell import _header
from fieldapp.ui.services import Services
from fieldapp.ui.state import REVIEW, AppState, FormSession, event_summary
from fieldapp.ui.widgets.record import withdraw_button, withdraw_dialog
from tests.conftest import PASSPHRASE, Clock, screening_values
from tests.ui._records import sent_record


@pytest.fixture
def services(tmp_path: Path, clock: Clock) -> Services:
    made = Services(tmp_path / "device", clock=clock)
    made.device.create(PASSPHRASE, PASSPHRASE)
    made.device.work_offline()
    return made


@pytest.fixture
def app(services: Services) -> AppState:
    state = AppState(services=services)
    state.go("home")
    return state


def screening(app: AppState) -> FormSession:
    app.new_record("victim_screening")
    assert app.form is not None
    return app.form


def stored(services: Services, form: FormSession) -> dict[str, Any]:
    return services.records.get(form.record_id).values


def test_first_run_refuses_mismatched_and_weak_passphrases(tmp_path: Path) -> None:
    app = AppState(services=Services(tmp_path / "device"))
    assert (app.screen, app.device) == ("setup", "new")
    assert not app.create_device(PASSPHRASE, PASSPHRASE + "x")
    assert app.message_key == "passphrase_mismatch"
    assert not app.create_device("123456", "123456")
    assert app.message_key == "passphrase_weak"
    assert app.create_device(PASSPHRASE, PASSPHRASE)
    assert (app.device, app.setup_step) == ("unlocked", "server")
    app.work_offline()
    assert app.screen == "home" and app.services.device.offline_mode


def test_enrolment_refuses_clear_http_to_another_machine(app: AppState) -> None:
    assert not app.enrol("http://192.0.2.10:8000", "CODE")
    assert app.message_key == "insecure_url"


def test_consent_step_is_enforced_and_errors_are_in_the_users_language(app: AppState) -> None:
    app.set_language("fr")
    form = screening(app)
    assert form.steps[0].name == "consent" and form.step == 0
    assert not form.next()
    assert form.message_key == "consent_first"
    assert form.step == 0
    assert "obligatoire" in form.errors["consent_record"]
    for name in ("consent_record", "consent_refer", "consent_share"):
        form.set_value(name, "yes")
    assert form.errors == {}
    assert form.next() and form.step == 1


def test_constraints_and_relevance_are_live_and_every_change_is_saved(app: AppState) -> None:
    form = screening(app)
    form.set_value("consent_record", "no")
    assert not form.relevant(form.spec.node("given_name"))
    form.set_value("consent_record", "yes")
    assert form.relevant(form.spec.node("given_name"))
    form.set_value("case_code", "kh")
    assert "case_code" in form.errors  # judged as typed, before any Next
    form.set_value("case_code", "KH-2026-0042")
    assert "case_code" not in form.errors
    assert stored(app.services, form)["case_code"] == "KH-2026-0042"


def test_a_minor_raises_the_child_protection_prompt(app: AppState) -> None:
    form = screening(app)
    form.set_value("consent_record", "yes")
    form.set_value("age_years", "34")
    assert not form.child_alert
    assert not form.relevant(form.spec.node("child_protection_referral"))
    form.set_value("age_years", "15")
    assert form.child_alert
    assert form.relevant(form.spec.node("child_protection_referral"))


def test_finalise_jumps_to_the_first_step_with_a_problem(app: AppState) -> None:
    form = screening(app)
    values = screening_values()
    for name, value in values.items():
        if name != "case_code":
            form.set_value(name, value)
    form.go_to(REVIEW)
    assert not app.finalise()
    assert form.steps[form.step].name == "identity"
    assert "case_code" in form.errors
    form.set_value("case_code", "KH-2026-0042")
    assert app.finalise()
    assert app.services.records.counts()["waiting"] == 1
    assert app.message_key == "finalised" and app.form is None


def test_locking_forgets_answers_and_unlocking_resumes_the_draft(
    app: AppState, clock: Clock
) -> None:
    form = screening(app)
    form.set_value("consent_record", "yes")
    record_id = form.record_id
    clock.now += app.services.device.autolock_minutes * 60 + 1
    assert app.check_lock()
    assert (app.screen, app.form) == ("unlock", None)
    assert not app.unlock("not the passphrase")
    assert app.message_key == "wrong_passphrase_tries" and app.form is None
    assert app.unlock(PASSPHRASE)
    assert app.form is not None and app.form.record_id == record_id
    assert app.form.values["consent_record"] == "yes"


def test_a_record_survives_closing_the_app(tmp_path: Path, app: AppState) -> None:
    form = screening(app)
    form.set_value("consent_record", "yes")
    app.services.close()
    again = AppState(services=Services(app.services.device.data_dir))
    assert again.screen == "unlock"
    assert again.unlock(PASSPHRASE)
    again.records.group = "draft"
    again.go("records")
    [summary] = again.records.items
    again.open_record(summary.id)
    assert again.form is not None and again.form.values["consent_record"] == "yes"


def test_records_page_through_a_group_of_two_statuses(services: Services) -> None:
    store = services.device.store
    ids = [
        store.records.create_final("victim_screening", screening_values(f"Name{i}")).id
        for i in range(5)
    ]
    store.outbox.mark_queued({i: store.records.get(i).revision for i in ids[:2]})
    app = AppState(services=services)
    app.go("home")
    assert app.counts["waiting"] == 5
    app.records.group = "waiting"
    app.go("records")
    seen = [r.id for r in app.records.items]
    while app.records.next_after is not None:
        app.records.next_page()
        seen += [r.id for r in app.records.items]
    assert sorted(seen) == sorted(ids)
    app.records.first_page()
    assert app.records.offset == 0


def test_paging_is_by_page_size(services: Services) -> None:
    for i in range(3):
        services.records.new_draft("victim_screening", {"case_code": f"KH-{i:04}"})
    page = services.records.list_records("draft", limit=2)
    assert len(page.items) == 2 and page.next_after is not None
    rest = services.records.list_records("draft", after=page.next_after, limit=2)
    assert len(rest.items) == 1 and rest.next_after is None


def test_training_registration_check_in_and_summary(app: AppState) -> None:
    app.new_record("training_attendance")
    form = app.form
    assert form is not None
    for name, value in {
        "title": "Identifying victims at borders",
        "programme_type": "training_technical_assistance",
        "country": "KH",
        "start_date": "2026-11-02",
        "end_date": "2026-11-04",
    }.items():
        form.set_value(name, value)
    assert form.event_days == 3
    people = [("Ana", "female", "police"), ("Bo", "male", "judge"), ("Chea", "female", "police")]
    form.add_instance("participants")
    for n, (name, sex, job) in enumerate(people):
        form.set_value("full_name", name, repeat="participants", index=n)
        form.set_value("sex", sex, repeat="participants", index=n)
        form.set_value("profession", job, repeat="participants", index=n)
        if n < len(people) - 1:
            assert form.save_and_next()
    assert form.close_instance()
    form.toggle_attendance(0, 1)
    form.toggle_attendance(2, 1)
    form.toggle_attendance(2, 3)
    summary = form.summary()
    assert summary.participants == 3
    assert {r.value: r.count for r in summary.by_sex} == {"female": 2, "male": 1}
    assert {r.value: r.count for r in summary.by_profession} == {"police": 2, "judge": 1}
    assert summary.present_by_day == [2, 0, 1]
    assert app.finalise()
    app.go("training")
    [event] = app.events
    assert (event.title, event.participants, event.status) == (
        "Identifying victims at borders",
        3,
        "final",
    )


def test_an_incomplete_participant_cannot_be_closed(app: AppState) -> None:
    app.new_record("training_attendance")
    form = app.form
    assert form is not None
    form.add_instance("participants")
    form.set_value("full_name", "Ana", repeat="participants", index=0)
    assert not form.save_and_next()
    assert "participants[0].sex" in form.errors
    assert form.editing == ("participants", 0)


def test_event_summary_ignores_missing_scores() -> None:
    summary = event_summary(
        {"participants": [{"pre_score": 40, "post_score": 80}, {"pre_score": 60}]}, days=1
    )
    assert (summary.average_pre, summary.average_post) == (50.0, 80.0)


def test_sign_out_and_wipe_leaves_nothing_readable(app: AppState) -> None:
    form = screening(app)
    form.set_value("case_code", "KH-2026-0042")
    path = app.services.device.store_path
    app.ask_wipe()
    app.wipe()
    assert (app.screen, app.device) == ("wiped", "wiped")
    assert not path.exists() or not Store(path).keyring.initialised
    app.start_again()
    assert app.screen == "setup"
    assert app.create_device(PASSPHRASE, PASSPHRASE)
    assert app.services.records.counts()["draft"] == 0


def test_sync_without_a_server_says_so(app: AppState) -> None:
    app.sync_now()
    assert app.sync_message_key == "not_enrolled"
    assert not app.syncing


# -- consent withdrawn (security check 19) -------------------------------------------------


def test_withdrawing_consent_asks_first_then_erases_and_the_list_says_so(app: AppState) -> None:
    store = app.services.device.store
    record = sent_record(store, "victim_screening", screening_values())
    app.open_record(record.id)
    assert app.form is not None and app.form.reviewing
    assert app.form.can_withdraw_consent and app.form.editable

    assert not app.withdraw_consent()  # never without the confirmation
    app.ask_withdraw()
    assert app.confirm_withdraw
    app.ask_withdraw(False)  # "Cancel"
    assert not app.confirm_withdraw and not app.withdraw_consent()
    assert not app.services.records.get(record.id).consent_withdrawn
    app.ask_withdraw()
    assert app.withdraw_consent()

    assert (app.screen, app.message_key, app.confirm_withdraw) == (
        "home",
        "consent_withdrawn_done",
        False,
    )
    erased = app.services.records.get(record.id)
    assert erased.consent_withdrawn and "given_name" not in erased.values
    assert erased.values["age_band"] == "25_34"  # the statistics stay
    assert app.counts["waiting"] == 1  # the withdrawal waits for the next sync
    app.records.group = "waiting"
    app.go("records")
    assert [(item.id, item.consent_withdrawn) for item in app.records.items] == [(record.id, True)]

    app.open_record(record.id)
    form = app.form
    assert form is not None and form.consent_withdrawn and form.reviewing
    assert not form.editable and not form.can_withdraw_consent
    app.ask_withdraw()
    assert not app.confirm_withdraw and not app.withdraw_consent()


def test_a_sent_record_edited_again_is_erased_in_place_and_opens_on_its_review(
    app: AppState,
) -> None:
    record = sent_record(app.services.device.store, "victim_screening", screening_values())
    app.open_record(record.id)
    assert app.form is not None
    app.form.edit_step(1)
    app.form.set_value("given_name", "Zorblaxqua")
    assert app.services.records.get(record.id).status == "draft"
    app.ask_withdraw()
    assert app.withdraw_consent()
    app.open_record(record.id)
    assert app.form is not None and app.form.step == REVIEW and not app.form.editable
    assert "given_name" not in app.form.values


def test_only_victim_records_offer_it(app: AppState) -> None:
    app.new_record("training_attendance")
    assert app.form is not None and not app.form.can_withdraw_consent
    app.ask_withdraw()
    assert not app.confirm_withdraw and not app.withdraw_consent()


def test_the_dialog_says_what_goes_and_that_it_is_final_in_every_language(
    app: AppState,
) -> None:
    form = screening(app)
    texts = {}
    for lang in ("en", "fr", "es", "ar"):
        app.set_language(lang)
        button, dialog = withdraw_button(app, form), withdraw_dialog(app, form)
        assert isinstance(button, ft.OutlinedButton) and button.content
        assert isinstance(dialog.content, ft.Text) and isinstance(dialog.content.value, str)
        texts[lang] = dialog.content.value
    english = texts["en"]
    assert "cannot be undone" in english and "server" in english and "statistics" in english
    assert len(set(texts.values())) == 4


def test_lock_now_locks_the_device_the_way_flet_calls_the_button(app: AppState) -> None:
    """Flet hands a handler that takes a parameter the click event: "Lock now" once handed it
    to `AppState.lock`, which took it for the device's new state."""
    screening(app).set_value("consent_record", "yes")
    header = _header(app)
    assert isinstance(header, ft.Container) and isinstance(header.content, ft.Row)
    [lock_now] = [
        c
        for c in header.content.controls
        if isinstance(c, ft.TextButton) and c.icon == ft.Icons.LOCK
    ]
    handler = lock_now.on_click
    assert handler is not None
    if get_param_count(handler) == 0:
        handler()
    else:
        handler(object())  # the click event
    assert (app.device, app.screen, app.form) == ("locked", "unlock", None)


def test_relevance_in_the_app_reads_choice_lists_and_labels(app: AppState) -> None:
    """As validation does: a question shown from a choice's label (jr:choice-name) or a
    choice-list lookup (instance(...)), and a repeat instance's position(..)."""
    spec = FormSpec.model_validate(
        {
            "id": "lookups",
            "version": "1",
            "title": {"en": "Lookups"},
            "languages": ["en", "fr"],
            "choices": {
                "country": [
                    {"value": "fr", "label": {"en": "France", "fr": "France"}},
                    {"value": "es", "label": {"en": "Spain", "fr": "Espagne"}},
                ]
            },
            "children": [
                {
                    "name": "country",
                    "type": "select_one",
                    "choices": "country",
                    "label": {"en": "Country"},
                },
                {
                    "name": "why_spain",
                    "type": "text",
                    "label": {"en": "Why?"},
                    "relevant": "jr:choice-name(${country}, '${country}') = 'Spain'",
                },
                {
                    "name": "listed",
                    "type": "text",
                    "label": {"en": "Listed"},
                    "relevant": "count(instance('country')/root/item[name = ${country}]) = 1",
                },
                {
                    "kind": "repeat",
                    "name": "people",
                    "label": {"en": "People"},
                    "children": [
                        {"name": "pname", "type": "text", "label": {"en": "Name"}},
                        {
                            "name": "again",
                            "type": "text",
                            "label": {"en": "Same as the first?"},
                            "relevant": "position(..) > 1",
                        },
                    ],
                },
            ],
        }
    )
    app.services.device.store.forms.add(spec)
    app.new_record("lookups")
    form = app.form
    assert form is not None
    assert not form.relevant(spec.node("why_spain")) and not form.relevant(spec.node("listed"))
    form.set_value("country", "es")
    assert form.relevant(spec.node("why_spain")) and form.relevant(spec.node("listed"))
    for name in ("A", "B"):
        index = form.add_instance("people")
        form.set_value("pname", name, repeat="people", index=index)
        assert form.close_instance()
    again = spec.node("again")
    assert not form.relevant(again, form.clean_instance("people", 0))
    assert form.relevant(again, form.clean_instance("people", 1))
