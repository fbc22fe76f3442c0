"""End to end in headless Chromium at 360x640: a trainer finds, on the participants tab, a
person a team mate registered on another device, and adds them to a new event in one tap
(the real app process, a real store, the real sync server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from fieldapp import crypto
from fieldapp.store import Store
from sync import SyncClient, enrol
from sync.server import admin
from tests.conftest import PASSPHRASE, attendance_values
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess, expect_shown, open_phone, shoot, tap
from tests.ui._browser import type_into as type_in
from tests.ui.test_browser import unlock

pytestmark = pytest.mark.browser

RETURNING = "Zoé Ngô Thanh"  # typed back without accents below


def north_code(deployment: Deployment, org_key: crypto.OrgKeyPair) -> str:
    with admin.open_server_storage(deployment.settings) as storage:
        key = admin.derive_team_key(storage, deployment.org_id, org_key, "north")
    return deployment.issue("trainer", "north", team_key=key).code


def synced_device(path: Path, url: str, code: str) -> Store:
    store = Store.create(path, PASSPHRASE)
    enrol(store, url, code)
    return store


@pytest.fixture
def app(
    tmp_path: Path, deployment: Deployment, app_url: str, org_key: crypto.OrgKeyPair
) -> Iterator[AppProcess]:
    """A team mate registered Zoé at a workshop and synced; this device, of the same team,
    has pulled the team's roster."""
    author = synced_device(
        tmp_path / "author" / "fieldapp.db", app_url, north_code(deployment, org_key)
    )
    values = attendance_values(RETURNING, participants=1)
    values["title"] = "Workshop on victim identification for judges"
    values["participants"][0].update(
        full_name=RETURNING, sex="female", consent_contact=True, phone="+85512345678"
    )
    author.records.create_final("training_attendance", values)
    device = synced_device(
        tmp_path / "device" / "fieldapp.db", app_url, north_code(deployment, org_key)
    )
    try:
        for store in (author, device):
            with SyncClient(store) as client:
                assert client.sync().ok
    finally:
        author.close()
        device.close()
    process = AppProcess(tmp_path / "device", server_url=app_url)
    yield process
    process.stop()


def test_a_trainer_adds_a_returning_participant_found_in_the_teams_list(
    browser: Browser, app: AppProcess
) -> None:
    app.start()
    page = open_phone(browser, app.url)
    unlock(page)
    tap(page, "button", "Training attendance")
    tap(page, "button", "New event")
    tap(page, "button", "Participants")

    search = page.get_by_label("Search the team's participants", exact=False)
    type_in(page, search, "zoe ngo")  # typed without accents
    match = page.get_by_role("button", name=RETURNING, exact=False)
    expect(match.first).to_be_visible()
    expect(match.first).to_contain_text("Registered at: Workshop on victim identification")
    shoot(page, "19-training-team-search")
    tap(page, "button", RETURNING, exact=False)

    expect(
        page.get_by_text("Added to this event with their details", exact=False).first
    ).to_be_visible()
    expect_shown(page, "Participant 1")  # opened to be completed
    tap(page, "button", "Done")
    expect_shown(page, "1 participant")  # in the singular
    app.stop()

    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    try:
        [draft] = store.records.page(form_id="training_attendance", status="draft").items
        [person] = store.records.get(draft.id).values["participants"]
    finally:
        store.close()
    # who she is, not what she agreed to or gave at that other event
    assert (person["full_name"], person["sex"], person["profession"]) == (
        RETURNING,
        "female",
        "judge",
    )
    assert not {"phone", "consent_contact", "organisation", "attendance"} & set(person)
