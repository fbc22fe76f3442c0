"""End to end with a real sync server: the app process in headless Chromium at 360x640 on a
real store, the server app on uvicorn in this process, both on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FormSpec
from fieldapp.store import Store
from sync.client import enrol
from sync.server import admin
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.ui._browser import (
    PHONE,
    AppProcess,
    expect_shown,
    open_phone,
    scroll_to_top,
    shoot,
    tap,
)
from tests.ui._browser import type_into as type_in
from tests.ui.test_browser import choose, unlock

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path, app_url: str) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "device", server_url=app_url)
    yield process
    process.stop()


def type_into(page: Page, label: str, text: str, *, exact: bool = True) -> None:
    type_in(page, page.get_by_label(label, exact=exact), text)


def sync_now(page: Page, expected: str) -> None:
    tap(page, "button", "Sync")
    tap(page, "button", "Sync now")
    expect_shown(page, expected)


def synced(page: Page, expected: str) -> None:
    """A finalised record goes by itself within seconds (the sync worker counts the outbox
    every 3 s): the sync screen says it went, without anyone tapping "Sync now"."""
    tap(page, "button", "Sync")
    for text in ("Nothing waits to be sent.", expected):
        shown = page.get_by_text(text, exact=False).or_(page.get_by_role("group", name=text))
        expect(shown.first).to_be_visible(timeout=20_000)


def test_a_trainer_registers_an_event_marks_attendance_and_syncs(
    browser: Browser, app: AppProcess, deployment: Deployment, app_url: str
) -> None:
    app.start()
    page = open_phone(browser, app.url)
    # first run, connected: the server address comes prefilled, the code is typed
    tap(page, "button", "Continue")
    type_into(page, "Passphrase", PASSPHRASE)
    type_into(page, "Repeat the passphrase", PASSPHRASE)
    tap(page, "button", "Protect this device")
    type_into(page, "Enrolment code", deployment.code())
    tap(page, "button", "Connect")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()

    tap(page, "button", "Training attendance")
    tap(page, "button", "New event")
    type_into(page, "Event title *", "Victim identification for judges")
    choose(page, "Programme type *", "Training and technical assistance")
    type_into(page, "Country *", "Camb", exact=False)  # its hint joins the label
    tap(page, "button", "Cambodia")
    type_into(page, "Start date *", "2026-11-02", exact=False)
    type_into(page, "End date *", "2026-11-03", exact=False)
    scroll_to_top(page)
    for tab in ("Details", "Participants", "Check-in", "Summary"):  # all in sight, none scrolled
        box = page.get_by_role("button", name=tab, exact=True).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 48, tab
    shoot(page, "11-training-event")

    tap(page, "button", "Participants")
    tap(page, "button", "Add participant")
    people = [
        ("Sokha Chan", "Female", "Judge"),
        ("Dara Pich", "Male", "Prosecutor"),
        ("Maly Sen", "Female", "Police officer"),
    ]
    for name, sex, job in people:
        type_into(page, "Full name *", name)
        choose(page, "Sex *", sex)
        choose(page, "Profession *", job)
        tap(page, "button", "Save & next")  # a blank entry opens straight away
    expect_shown(page, f"Participant {len(people) + 1}")  # as a person sees it first
    tap(page, "button", "Done")  # the untouched blank one is dropped
    expect(page.get_by_role("group", name="3 participants", exact=False).first).to_be_visible(
        timeout=20_000
    )
    scroll_to_top(page)
    shoot(page, "12-training-participants")

    tap(page, "button", "Check-in")
    for name, _, _ in people:  # a grid of the event's two days
        tap(page, "checkbox", f"{name}, day 1")
    tap(page, "checkbox", "Sokha Chan, day 2")
    expect(page.get_by_role("checkbox", name="Sokha Chan, day 3")).to_have_count(0)
    shoot(page, "13-training-checkin")
    tap(page, "button", "Summary")
    expect_shown(page, "Day 1: 3 · Day 2: 1")
    shoot(page, "14-training-summary")

    tap(page, "button", "Finalise")
    expect(page.get_by_text("Finalised. It will be sent at the next sync.")).to_be_visible()
    synced(page, "Sent 1, rejected 0, conflicts 0")
    shoot(page, "15-sync")

    [(form_id, stats)] = deployment.query("SELECT form_id, stats FROM records")
    assert form_id == "training_attendance"
    participants = json.loads(stats)["participants"]
    assert sorted(p["profession"] for p in participants) == ["judge", "police", "prosecutor"]
    assert sorted(len(p["attendance"]) for p in participants) == [1, 1, 2]
    assert all("full_name" not in p for p in participants)  # names travel sealed only

    tap(page, "button", "Records")
    tap(page, "button", "Sent (1)")
    expect(
        page.get_by_role("button", name="Training and technical assistance · Cambodia", exact=False)
    ).to_be_visible()
    shoot(page, "16-records")
    tap(page, "button", "Settings")
    tap(page, "radio", "Dark")
    tap(page, "button", "Home")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()
    shoot(page, "17-home-dark")


@pytest.fixture
def rejected_setup(tmp_path: Path, deployment: Deployment, app_url: str) -> tuple[str, FormSpec]:
    """A device (already enrolled) whose screening form is a version the server has not
    published yet, with one finalised screening waiting to be sent."""
    newer = load_builtin_forms()["victim_screening"].model_copy(update={"version": "99"})
    store = Store.create(tmp_path / "device" / "fieldapp.db", PASSPHRASE)
    try:
        store.forms.add(newer)
        enrol(store, app_url, deployment.code())
        record = store.records.create_final("victim_screening", screening_values(name="Fictional"))
    finally:
        store.close()
    return record.id, newer


def test_a_rejected_record_is_fixed_and_resent(
    browser: Browser,
    app: AppProcess,
    deployment: Deployment,
    rejected_setup: tuple[str, FormSpec],
) -> None:
    record_id, newer = rejected_setup
    app.start()
    page = open_phone(browser, app.url)
    unlock(page)
    # the server is reachable: the app syncs by itself, and home shows what came back
    expect(page.get_by_role("button", name="Rejected 1")).to_be_visible(timeout=30_000)
    assert deployment.query("SELECT count(*) FROM records") == [(0,)]
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, newer)  # the office publishes the form version

    tap(page, "button", "Rejected 1")
    expect(page.get_by_role("button", name="Rejected (1)")).to_be_visible()
    tap(page, "button", "Victim identification and screening", exact=False)
    expect(
        page.get_by_text("The server could not accept this record:", exact=False)
    ).to_be_visible()
    shoot(page, "18-rejected-record")
    # fix: add a line to the notes, then send it again
    page.mouse.move(180, 320)
    for _ in range(12):  # the notes are the last card of the review
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(100)
    page.get_by_role("button", name="Edit").last.click()
    type_in(page, page.get_by_label("Case notes"), "Checked again with the shelter.")
    tap(page, "button", "Review")
    tap(page, "button", "Finalise")
    expect(page.get_by_text("Finalised. It will be sent at the next sync.")).to_be_visible()
    synced(page, "Sent 1, rejected 0")

    [(stored_id, version)] = deployment.query("SELECT id, form_version FROM records")
    assert (stored_id, version) == (record_id, "99")
    app.stop()
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    try:
        sent = store.records.get(record_id)
        assert sent.status == "sent"
        assert sent.values["case_notes"] == "Checked again with the shelter."
    finally:
        store.close()
