"""The training register as a trainer fills it, counted: a 3-day event, 5 participants (two
of them back from an earlier event on this device) with their scores, 12 check-ins, in
headless Chromium at 360x640 on the real app process and store. The taps, keystrokes and
scrolls it took are printed (`-s`) and held to half of what the register took before (68 taps,
205 keystrokes in the field report); then a duplicate is warned about and a removal undone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.store import Store
from fieldapp.ui.services import Services
from tests.conftest import PASSPHRASE, attendance_values
from tests.ui._browser import (
    EFFORT,
    AppProcess,
    expect_shown,
    expect_typed,
    open_phone,
    press,
    reveal,
    serve,
    shoot,
    tap,
    tap_bar,
)
from tests.ui._browser import type_into as type_in
from tests.ui.test_browser import choose, unlock

pytestmark = pytest.mark.browser

# name, sex, profession, organisation, pre-test, post-test, days present (12 check-ins)
PEOPLE = [
    ("Sokha Chan", "Female", "Judge", "Supreme Court", 45, 70, (1, 2, 3)),
    ("Dara Pich", "Male", "Prosecutor", "Supreme Court", 50, 75, (1, 2, 3)),
    ("Maly Sen", "Female", "Police officer", "National Police", 40, 65, (1,)),
    ("Vanna Keo", "Male", "Judge", "Supreme Court", 55, 80, (1, 2, 3)),
    ("Srey Mom", "Female", "Police officer", "National Police", 60, 85, (1, 2)),
]
RETURNING = {"Sokha Chan": "sokha", "Vanna Keo": "vanna"}  # at an earlier event: typed so
BEFORE = (68, 205)  # taps, keystrokes of the same register in the field report


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    """A device used offline, holding an earlier event where Sokha and Vanna took part (then
    of other organisations, with a phone and consent to be contacted that stay there)."""
    services = Services(tmp_path / "device")
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    earlier = attendance_values("Earlier", participants=3)
    earlier["title"] = "Workshop on victim identification"
    for person, (name, sex, org) in zip(
        earlier["participants"],
        [
            ("Sokha Chan", "female", "Supreme Court"),
            ("Vanna Keo", "male", "Appeal Court"),
            ("Bopha Lim", "female", "National Police"),
        ],
        strict=True,
    ):
        person.update(full_name=name, sex=sex, organisation=org)
    earlier["participants"][0].update(consent_contact=True, phone="+85512345678")
    services.device.store.records.create_final("training_attendance", earlier)
    services.close()
    yield from serve(tmp_path / "device")


def event_details(page: Page) -> None:
    type_in(page, page.get_by_label("Event title *"), "Judges workshop")
    choose(page, "Programme type *", "Training and technical assistance")
    EFFORT.taps += 1
    type_in(page, page.get_by_label("Country *", exact=False), "Camb")
    tap(page, "button", "Cambodia")
    type_in(page, page.get_by_label("Start date *", exact=False), "2026-11-02")
    tap(page, "button", "3 days")


def register(page: Page) -> None:
    """Participants in the editor (a returning one picked as the name is typed, the
    organisation picked among those named), then the check-in grid and the scores."""
    tap(page, "button", "Participants")
    tap(page, "button", "Add participant")
    for n, (name, sex, job, org, _pre, _post, _days) in enumerate(PEOPLE):
        # a new entry opens with the keyboard on the name: typed with no tap
        has_keyboard = expect_typed(page, page.get_by_label("Full name *"), None, seconds=10)
        assert has_keyboard, "a new entry opened without the keyboard on the name"
        type_in(page, page.get_by_label("Full name *"), RETURNING.get(name, name))
        if name in RETURNING:
            tap(page, "button", f"Returning: {name}", exact=False)
            settled(page, f"Returning: {name}")
        else:
            choose(page, "Sex *", sex)
            choose(page, "Profession *", job)
            EFFORT.taps += 2
        tap(page, "button", org)
        settled(page, org)  # picked: the organisations to pick go
        if n < len(PEOPLE) - 1:
            tap_bar(page, "Save & next")
    tap(page, "button", "Check-in")  # the last entry is kept as it stands
    tap(page, "checkbox", "Everyone, every day")
    for name, *_rest, days in PEOPLE:
        for day in {1, 2, 3} - set(days):
            tap(page, "checkbox", f"{name}, day {day}")
    expect_shown(page, "Present")
    shoot(page, "24-training-checkin-grid")  # not an action: the count is unchanged
    type_in(page, page.get_by_label("Pre-test score (%)", exact=False).first, str(PEOPLE[0][4]))
    for n, (*_rest, pre, post, _days) in enumerate(PEOPLE):
        if n:
            press(page, "Enter")
            keys(page, str(pre))
        press(page, "Enter")
        keys(page, str(post))


def settled(page: Page, button: str) -> None:
    """The button just tapped has gone and what was under it moved up: the next tap lands
    where the person sees its target (not where it was a frame ago)."""
    expect(page.get_by_role("button", name=button, exact=False)).to_have_count(0)
    page.wait_for_timeout(300)


def open_home(page: Page) -> None:
    unlock(page)
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible(timeout=30_000)


def keys(page: Page, text: str) -> None:
    """Type into the field that has the focus (counted once; a keystroke Flutter lost while
    the focus moved is typed again, as `type_into` does)."""
    EFFORT.keystrokes += len(text)
    focused = page.locator("input:focus")
    for _ in range(3):
        page.wait_for_timeout(300)
        page.keyboard.press("Control+A")
        page.keyboard.type(text, delay=15)
        try:
            expect(focused).to_have_value(text, timeout=3000)
        except AssertionError:
            continue
        return
    expect(focused).to_have_value(text)


def stored_people(app: AppProcess) -> list[dict[str, object]]:
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    try:
        [draft] = store.records.page(form_id="training_attendance", status="draft").items
        people: list[dict[str, object]] = store.records.get(draft.id).values["participants"]
    finally:
        store.close()
    return people


def test_a_trainer_registers_a_three_day_event(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    open_home(page)
    EFFORT.reset()
    tap(page, "button", "Training attendance")
    tap(page, "button", "New event")
    event_details(page)
    register(page)
    print(
        f"\nregister: {EFFORT.taps} taps, {EFFORT.keystrokes} keystrokes, {EFFORT.scrolls} scrolls"
    )
    assert EFFORT.taps <= BEFORE[0] / 2
    assert EFFORT.keystrokes <= BEFORE[1] / 2

    tap(page, "button", "Participants")
    expect_shown(page, "5 participants")
    shoot(page, "23-training-register")
    # Sokha again: warned, and the second entry removed, then the removal undone and redone
    tap(page, "button", "Add participant")
    type_in(page, page.get_by_label("Full name *"), "sokha")
    tap(page, "button", "Returning: Sokha Chan", exact=False)
    expect_shown(page, "Already registered at this event as participant 1")
    shoot(page, "29-training-duplicate")
    tap_bar(page, "Remove")
    expect_shown(page, "Removed Sokha Chan")
    expect_shown(page, "5 participants")
    tap_bar(page, "Undo")
    expect_shown(page, "6 participants")
    twice = page.get_by_role("button", name="Sokha Chan Registered twice?", exact=False)
    expect(twice).to_have_count(2)
    reveal(page, twice.last).click()  # the second one
    tap_bar(page, "Remove")
    expect_shown(page, "Removed Sokha Chan")
    shoot(page, "30-training-undo")
    app.stop()

    people = stored_people(app)
    assert [p["full_name"] for p in people] == [p[0] for p in PEOPLE]
    assert [sorted(p.get("attendance") or []) for p in people] == [  # type: ignore[type-var]
        [f"day{d}" for d in p[6]] for p in PEOPLE
    ]
    assert [(p["pre_score"], p["post_score"]) for p in people] == [(p[4], p[5]) for p in PEOPLE]
    assert [p["organisation"] for p in people] == [p[3] for p in PEOPLE]
    sokha = people[0]  # who she is came back; her consent and phone stayed with that event
    assert (sokha["sex"], sokha["profession"]) == ("female", "judge")
    assert "consent_contact" not in sokha and "phone" not in sokha
