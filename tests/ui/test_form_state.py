"""Drafts worth keeping and a form quick to fill (issue 15), driven through the app's state
over a real store: no draft until something is typed, titles, resuming where the draft was
left, back to review, the jump list, ages that follow from one another, steps with nothing
to ask skipped, and who is offered "Withdraw consent"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fieldapp.forms.ages import age_on
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState, FormSession
from fieldapp.ui.widgets.fields import picked_date
from tests.conftest import PASSPHRASE, Clock, screening_values
from tests.ui._records import sent_record, unlocked_app


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> AppState:
    return unlocked_app(tmp_path / "device", clock)


def screening(app: AppState) -> FormSession:
    app.new_record("victim_screening")
    assert app.form is not None
    return app.form


def consent(form: FormSession, answer: str = "yes") -> None:
    for name in ("consent_record", "consent_refer", "consent_share"):
        form.set_value(name, answer)


def step_of(form: FormSession, name: str) -> int:
    return next(i for i, s in enumerate(form.steps) if s.name == name)


# -- drafts ---------------------------------------------------------------------------------


def test_opening_a_form_and_going_back_leaves_no_draft(app: AppState) -> None:
    for _ in range(3):
        screening(app)
        app.close_record()
    app.new_record("training_attendance")
    app.close_record()
    assert app.services.records.counts()["draft"] == 0


def test_a_shared_event_opened_and_left_leaves_no_draft(app: AppState) -> None:
    app.new_record("training_attendance", {"title": "Border guards", "days": 3})
    assert app.form is not None and app.form.values["title"] == "Border guards"
    app.close_record()
    assert app.services.records.counts()["draft"] == 0


def test_the_draft_is_written_at_the_first_answer_and_goes_if_every_answer_is_taken_back(
    app: AppState,
) -> None:
    form = screening(app)
    assert not form.created and app.services.records.counts()["draft"] == 0
    form.set_value("consent_record", "yes")
    assert form.created and app.services.records.counts()["draft"] == 1
    assert app.services.records.get(form.record_id).values["consent_record"] == "yes"
    form.set_value("consent_record", "")
    app.go("home")
    assert app.counts["draft"] == 0


def test_a_draft_with_answers_stays(app: AppState) -> None:
    form = screening(app)
    form.set_value("consent_record", "yes")
    app.close_record()
    assert app.counts["draft"] == 1


def test_drafts_are_titled_by_their_case_code(app: AppState) -> None:
    form = screening(app)
    assert form.record_title == form.title  # nothing typed yet: the form's own title
    consent(form)
    form.set_value("case_code", "KH-2026-0042")
    assert form.record_title == "KH-2026-0042"


def test_the_records_screen_counts_the_drafts(app: AppState) -> None:
    assert app.counts["draft"] == 0
    for code in ("KH-1111", "KH-2222"):
        app.services.records.new_draft("victim_screening", {"case_code": code})
    app.records.group = "draft"
    app.go("records")
    assert app.counts["draft"] == 2 and len(app.records.items) == 2


def test_a_reopened_draft_resumes_at_the_step_it_was_left_on(app: AppState) -> None:
    form = screening(app)
    consent(form)
    assert form.next()
    form.set_value("case_code", "KH-2026-0042")
    assert form.next()
    left = form.step
    assert form.steps[left].name == "profile"
    record_id = form.record_id
    app.close_record()
    app.open_record(record_id)
    assert app.form is not None and app.form.step == left
    # after the app is closed too
    app.services.close()
    again = AppState(services=Services(app.services.device.data_dir))
    assert again.unlock(PASSPHRASE)
    again.open_record(record_id)
    assert again.form is not None and again.form.step == left


def test_a_draft_left_on_its_review_reopens_there(app: AppState) -> None:
    form = screening(app)
    consent(form)
    form.go_to_end()
    assert form.reviewing
    record_id = form.record_id
    app.close_record()
    app.open_record(record_id)
    assert app.form is not None and app.form.reviewing


# -- moving about ---------------------------------------------------------------------------


def test_edit_on_the_review_comes_back_to_it_in_one_tap(app: AppState) -> None:
    form = screening(app)
    consent(form)
    form.go_to_end()
    form.edit_step(step_of(form, "identity"))
    assert form.back_to_review and form.steps[form.step].name == "identity"
    form.set_value("case_code", "KH-2026-0042")
    form.go_to_end()
    assert form.reviewing and not form.back_to_review


def test_the_jump_list_shows_every_step_and_question_and_goes_there(app: AppState) -> None:
    form = screening(app)
    consent(form)
    form.set_value("case_code", "kh")  # wrong: lower case
    form.set_value("given_name", "Dara")
    jumps = form.jump_list()
    assert [j.label for j in jumps][:3] == ["Informed consent", "Identity", "Profile"]
    identity = jumps[1]
    states = {q.name: q.state for q in identity.questions}
    assert states["case_code"] == "error"
    assert states["given_name"] == "answered"
    assert states["family_name"] == "unanswered"
    assert identity.state == "error"
    assert jumps[0].state == "unanswered"  # the optional signature of the consent (v4)
    assert jumps[0].current
    form.show_jumps()
    assert form.jumping
    form.jump(jumps[3].index)
    assert not form.jumping and form.step == jumps[3].index


# -- ages -----------------------------------------------------------------------------------


def test_the_age_and_its_band_follow_from_the_date_of_birth(app: AppState) -> None:
    form = screening(app)
    consent(form)
    born = date.today().replace(year=date.today().year - 30) - timedelta(days=400)
    form.set_value("date_of_birth", born.isoformat())
    assert form.values["age_years"] == age_on(born, date.today()) == 31
    assert form.values["age_band"] == "25_34"
    assert {"age_years", "age_band"} <= form.derived
    assert not form.child_alert
    form.set_value("age_band", "60_plus")  # no contradiction possible: derived again
    assert form.values["age_band"] == "25_34"


def test_the_band_follows_from_a_typed_age_and_is_asked_when_no_age_is_known(
    app: AppState,
) -> None:
    form = screening(app)
    consent(form)
    form.set_value("age_years", "15")
    assert form.values["age_band"] == "15_17" and form.derived == {"age_band"}
    assert form.child_alert
    refused = screening(app)
    consent(refused, "no")
    assert refused.derived == set()  # no age asked without consent: the band is asked


def test_a_date_of_birth_in_the_future_is_an_error_not_a_child(app: AppState) -> None:
    form = screening(app)
    consent(form)
    form.set_value("date_of_birth", "2030-01-01")
    assert "Date of birth" in form.errors["date_of_birth"]
    assert "future" in form.errors["date_of_birth"]
    assert not form.child_alert
    assert "age_years" not in form.values


def test_age_on_counts_whole_years() -> None:
    assert age_on(date(2000, 6, 15), date(2026, 6, 14)) == 25
    assert age_on(date(2000, 6, 15), date(2026, 6, 15)) == 26
    assert age_on(date(2030, 1, 1), date(2026, 1, 1)) == -4


# -- steps ----------------------------------------------------------------------------------


def test_a_step_with_no_relevant_question_is_skipped(app: AppState) -> None:
    form = screening(app)
    notes = step_of(form, "notes")
    consent(form)
    assert notes in form.visible_steps()
    consent(form, "no")
    assert notes not in form.visible_steps()
    assert notes not in [j.index for j in form.jump_list()]


# -- withdrawing consent --------------------------------------------------------------------


def test_withdraw_is_offered_only_where_consent_was_given_and_the_server_has_it(
    app: AppState,
) -> None:
    form = screening(app)
    assert not form.can_withdraw_consent  # brand new
    consent(form)
    assert not form.can_withdraw_consent  # a draft on this device only
    store = app.services.device.store
    final = store.records.create_final("victim_screening", screening_values())
    app.open_record(final.id)
    assert app.form is not None and not app.form.can_withdraw_consent  # not sent yet
    sent = sent_record(store, "victim_screening", screening_values(case_code="KH-2026-0043"))
    app.open_record(sent.id)
    assert app.form is not None and app.form.can_withdraw_consent
    refused = {
        k: v
        for k, v in screening_values(case_code="KH-2026-0044").items()
        if k not in ("given_name", "family_name", "age_years", "identification_place")
        and not k.startswith(("referral_org", "case_notes"))
    }
    refused.update(consent_record="no")
    without = sent_record(store, "victim_screening", refused)
    app.open_record(without.id)
    assert app.form is not None and not app.form.can_withdraw_consent


def test_the_drafts_list_names_each_draft_by_its_case_code(app: AppState) -> None:
    form = screening(app)
    consent(form)
    form.set_value("case_code", "KH-2026-0042")
    app.close_record()
    untitled = screening(app)
    consent(untitled, "no")
    app.records.group = "draft"
    app.go("records")
    titles = sorted(app.records.title(item) for item in app.records.items)
    assert titles == ["KH-2026-0042", "Victim identification and screening"]


@pytest.mark.parametrize("offset_hours", [-10, -8, 0, 1, 5.5, 7, 9, 12, 13, 13.75])
def test_the_day_picked_is_read_back_whatever_the_phones_time_zone(offset_hours: float) -> None:
    zone = timezone(timedelta(hours=offset_hours))
    midnight = datetime(2000, 12, 15, tzinfo=zone)  # what the picker sends, in UTC
    assert picked_date(midnight.astimezone(UTC)) == date(2000, 12, 15)
    assert picked_date("2000-12-15") == date(2000, 12, 15)
    assert picked_date("15/12/2000") is None


# -- numbers in the person's digits -------------------------------------------------------


def test_the_form_writes_its_numbers_in_arabic_digits_in_arabic(app: AppState) -> None:
    """A form in Arabic writes "Step 2 of 8" and "3 entries" in Arabic-Indic digits, as
    everywhere else the app writes numbers in Arabic."""
    app.set_language("ar")
    form = screening(app)
    _ = form.words
    step = _("Step {n} of {total}", n=2, total=8)
    assert "٢" in step and "٨" in step and not any(d in step for d in "0123456789")
    entries = _.ngettext("{n} entry", "{n} entries", 3, n=3)
    assert "٣" in entries and "3" not in entries
    app.set_language("en")
    assert form.words("Step {n} of {total}", n=2, total=8) == "Step 2 of 8"
