"""Issue #15 without a browser: dates, numbers and plurals in each language, the tries left
before a wrong passphrase wipes the device, and the records list's search and filters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from fieldapp.store import Store
from fieldapp.ui.formats import (
    format_date,
    format_day,
    format_moment,
    format_number,
    format_size,
)
from fieldapp.ui.services import RecordQuery, Services
from fieldapp.ui.state import AppState
from tests.conftest import PASSPHRASE, Clock, attendance_values, screening_values


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> AppState:
    """A device set up to work offline, unlocked, on its home screen."""
    state = AppState(services=Services(tmp_path / "device", clock=clock))
    assert state.create_device(PASSPHRASE, PASSPHRASE)
    state.work_offline()
    return state


@pytest.fixture
def services(app: AppState) -> Services:
    return app.services


# -- dates, numbers, plurals ---------------------------------------------------------------
def test_dates_and_times_in_each_language() -> None:
    moment = datetime(2026, 12, 2, 16, 56)
    assert format_moment(moment, "en") == "2 Dec 2026, 16:56"
    assert format_moment(moment, "fr") == "2 déc. 2026, 16:56"
    assert format_moment(moment, "es") == "2 dic 2026, 16:56"
    assert format_moment(moment, "ar") == "٢ ديسمبر ٢٠٢٦، ١٦:٥٦"
    assert format_date(date(2026, 1, 9), "ar") == "٩ يناير ٢٠٢٦"
    assert format_date(date(2026, 1, 9), "xx") == "9 Jan 2026"  # unknown: English


def test_numbers_and_sizes_in_each_language() -> None:
    assert [format_number(12345, lang) for lang in ("en", "fr", "es", "ar")] == [
        "12,345",
        "12\u202f345",
        "12.345",
        "١٢٬٣٤٥",
    ]
    assert format_number(2026, "es") == "2026"  # Spanish groups from five digits
    assert format_size(1536, "fr") == "1,5\u00a0ko"
    assert format_size(512, "ar") == "٥١٢\u00a0بايت"


def test_counts_are_plural_forms_with_the_languages_digits(app: AppState) -> None:
    def participants(lang: str, n: int) -> str:
        app.set_language(lang)
        return app.words.ngettext("{n} participant", "{n} participants", n, n=n)

    assert participants("en", 1) == "1 participant"
    assert participants("en", 2) == "2 participants"
    assert participants("fr", 0) == "0 participant"
    assert participants("ar", 1) == "مشارك واحد"
    assert participants("ar", 2) == "مشاركان"
    assert participants("ar", 3) == "٣ مشاركين"
    assert participants("ar", 11) == "١١ مشاركًا"
    assert participants("ar", 100) == "١٠٠ مشارك"


def test_the_records_list_writes_dates_as_the_language_does(app: AppState) -> None:
    values = {**attendance_values(), "start_date": "2026-12-02"}
    app.services.records.new_draft("training_attendance", values)
    app.set_language("ar")
    app.go("records")
    [item] = app.records.items
    assert "٢ ديسمبر ٢٠٢٦" in app.records.line(item, limit=20)
    app.set_language("en")
    assert "2 Dec 2026" in app.records.line(item, limit=20)


# -- wrong passphrase ------------------------------------------------------------------------
def test_each_wrong_passphrase_says_how_many_tries_remain(services: Services) -> None:
    services.device.lock()
    app = AppState(services=services)
    assert app.screen == "unlock" and app.message is None
    assert not app.unlock("wrong passphrase one")
    assert app.message_key == "wrong_passphrase_tries"
    assert app.message_params == {"n": 9}
    assert app.message == (
        "Wrong passphrase. 9 more wrong tries will erase everything on this device."
    )
    for _ in range(8):
        app.unlock("still the wrong one")
    assert app.message == "Wrong passphrase. 1 more wrong try will erase everything on this device."
    app.set_language("ar")
    assert "محاولة خاطئة واحدة" in (app.message or "")
    # the count survives the app being closed and opened again
    services.close()
    again = AppState(services=Services(services.device.data_dir))
    assert again.screen == "unlock" and again.message_params == {"n": 1}
    assert not again.unlock("the last wrong one")
    assert again.device == "wiped"


def test_a_right_passphrase_resets_the_count(services: Services) -> None:
    services.device.lock()
    app = AppState(services=services)
    app.unlock("wrong passphrase one")
    assert app.unlock(PASSPHRASE)
    assert services.device.unlock_tries() == (0, 10)


def test_a_store_that_never_wipes_says_no_count(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "device" / "fieldapp.db", PASSPHRASE, max_failed_unlocks=None)
    store.close()
    app = AppState(services=Services(tmp_path / "device"))
    assert not app.unlock("wrong passphrase one")
    assert app.message_key == "wrong_passphrase"


# -- the records list ------------------------------------------------------------------------
def _three_records(services: Services) -> dict[str, str]:
    records = services.records
    ids = {
        "kh": records.new_draft("victim_screening", screening_values(case_code="KH-2026-0042")).id,
        "dkr": records.new_draft("victim_screening", screening_values(case_code="DKR-2026-014")).id,
        "event": records.new_draft("training_attendance", attendance_values()).id,
    }
    return ids


def test_search_finds_by_case_code_or_title_case_and_accents_aside(services: Services) -> None:
    ids = _three_records(services)
    search = services.records.search
    found = search(RecordQuery(group="draft", text="dkr-2026"))
    assert [i.summary.id for i in found.items] == [ids["dkr"]]
    assert found.items[0].title == "DKR-2026-014"
    title = attendance_values()["title"]
    words = title.split()[0].upper()
    assert [i.summary.id for i in search(RecordQuery(text=words)).items] == [ids["event"]]
    assert search(RecordQuery(text="nothing like it")).items == []
    assert len(search(RecordQuery()).items) == 3
    assert services.records.count_matching(RecordQuery(text="2026")) == 2


def test_filters_by_form_status_and_days(services: Services) -> None:
    ids = _three_records(services)
    records = services.records
    victims = RecordQuery(form_id="victim_screening")
    assert {i.summary.id for i in records.search(victims).items} == {ids["kh"], ids["dkr"]}
    assert records.search(RecordQuery(group="waiting")).items == []
    today = date.today()
    assert len(records.search(RecordQuery(since=today, until=today)).items) == 3
    yesterday = today - timedelta(days=1)
    assert records.search(RecordQuery(until=yesterday)).items == []
    assert records.count_matching(RecordQuery(since=today + timedelta(days=1))) == 0


def test_search_pages_through_matches_only(services: Services) -> None:
    for n in range(7):
        services.records.new_draft("victim_screening", screening_values(case_code=f"AA-{n:04d}"))
        services.records.new_draft("victim_screening", screening_values(case_code=f"BB-{n:04d}"))
    query = RecordQuery(text="aa-")
    first = services.records.search(query, limit=3)
    seen = [i.title for i in first.items]
    after = first.next_after
    while after is not None:
        page = services.records.search(query, after=after, limit=3)
        seen += [i.title for i in page.items]
        after = page.next_after
    assert sorted(seen) == [f"AA-{n:04d}" for n in range(7)]


def test_the_list_shows_titles_and_names_a_bad_day_filter(app: AppState) -> None:
    ids = _three_records(app.services)
    app.go("records")
    assert app.records.titles[ids["kh"]] == "KH-2026-0042"
    app.records.filter(text="kh-2026")
    assert [r.id for r in app.records.items] == [ids["kh"]] and app.records.total == 1
    app.records.filter(text="", form_id="training_attendance")
    assert [r.id for r in app.records.items] == [ids["event"]]
    app.records.filter(form_id="", since="2026-13-01")
    assert app.records.errors == {"since": "Changed from: enter a date as YYYY-MM-DD."}
    assert len(app.records.items) == 3  # the bad day is left out, the list still shows
    today = date.today()
    app.records.filter(since=today.isoformat(), until=(today - timedelta(days=2)).isoformat())
    assert app.records.errors == {"until": "Changed until: must be on or after the first day."}
    app.records.clear_filters()
    assert not app.records.filtered and app.records.errors == {} and len(app.records.items) == 3
    app.records.show_filters()
    assert app.records.filters_open


def test_the_events_list_writes_the_start_day_as_the_language_does(app: AppState) -> None:
    values = {**attendance_values(participants=1), "start_date": "2026-12-02"}
    app.services.records.new_draft("training_attendance", values)
    app.set_language("ar")
    app.go("training")
    [row] = app.events
    assert format_day(row.start_date, "ar") == "٢ ديسمبر ٢٠٢٦"
    assert format_day("not a day", "ar") == "not a day"


def test_no_title_is_read_once_erased_or_while_locked(services: Services) -> None:
    ids = _three_records(services)
    final = services.records.finalise(ids["kh"], services.records.get(ids["kh"]).values, lang="en")
    services.records.withdraw_consent(final.id)
    [withdrawn] = services.records.search(RecordQuery(group="waiting")).items
    assert withdrawn.title is None and withdrawn.summary.consent_withdrawn
    services.device.lock()
    drafts = services.records.search(RecordQuery(group="draft")).items
    assert len(drafts) == 2 and all(item.title is None for item in drafts)
    assert services.records.search(RecordQuery(text="DKR")).items == []
