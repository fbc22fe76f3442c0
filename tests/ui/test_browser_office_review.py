"""The office in the browser, end to end with a real server: a trainer's phone (360x640) has
sent a record; the coordinator's own app (1280x800, its own data directory) filters by region,
marks it "Has issues" with a comment (refused without one, said by the comment's field); the
phone syncs and shows the comment on that record; the trainer fixes it and sends it again; the
office sees it received again and approves it. The devices section shows the trainer's phone
with what its sync said, a silent device highlighted, and revokes it after a question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp import crypto
from sync.server import admin
from tests.ui._browser import PHONE, AppProcess, expect_shown, open_phone, press, shoot, tap
from tests.ui._browser import type_into as type_in
from tests.ui._office import PASSPHRASE, OfficeWorld, office_world, screening_values

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}
COMMENT = "The identification place is missing the district: add it."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficeWorld]:
    directory = tmp_path_factory.mktemp("office")
    with office_world(directory, crypto.OrgKeyPair.generate("X25519")) as made:
        yield made


@pytest.fixture(scope="module")
def ids(world: OfficeWorld) -> dict[str, str]:
    """The devices: a trainer in the north that sent a record, one in the south, a device
    silent for 20 days, and the coordinator; their ids and the north record's."""
    trainer = world.enrol("trainer", "trainer", "north")
    record = world.collect(trainer, "victim_screening", screening_values())
    world.collect(world.enrol("south", "trainer", "south"), "victim_screening",
                  screening_values())  # fmt: skip
    quiet = world.enrol("quiet", "collector", "north")
    world.enrol("coordinator", "coordinator")
    found = {"record": record.id}
    for name in ("trainer", "south", "quiet"):
        with world.store(world.data_dir(name)) as store:
            found[name] = store.device_id
    with admin.open_server_storage(world.deployment.settings) as storage:
        storage.note_device_contact(
            found["quiet"], datetime.now(UTC) - timedelta(days=20), synced=True
        )
    del quiet
    return found


@pytest.fixture(scope="module")
def apps(world: OfficeWorld, ids: dict[str, str]) -> Iterator[dict[str, AppProcess]]:
    started = {name: world.app(world.data_dir(name)) for name in ("trainer", "coordinator")}
    try:
        for process in started.values():
            process.start()
        yield started
    finally:
        for process in started.values():
            process.stop()


def open_laptop(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport=LAPTOP)  # type: ignore[arg-type]
    page.set_default_timeout(20_000)
    page.goto(url)
    page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
    page.locator("flt-semantics-placeholder").dispatch_event("click")
    page.wait_for_selector("flt-semantics", state="attached")
    return page


def unlock(page: Page) -> None:
    expect(page.get_by_text("Locked", exact=True)).to_be_visible()
    type_in(page, page.get_by_label("Passphrase"), PASSPHRASE)
    tap(page, "button", "Unlock")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible(timeout=30_000)


def test_a_comment_reaches_the_phone_and_the_fix_is_approved(
    browser: Browser, apps: dict[str, AppProcess], ids: dict[str, str]
) -> None:
    office = open_laptop(browser, apps["coordinator"].url)
    unlock(office)
    tap(office, "button", "Office")
    expect_shown(office, f"Sent by {ids['south']}")  # before the filter: every region
    type_in(office, office.get_by_label("Region"), "north")
    press(office, "Enter")
    expect_shown(office, f"Sent by {ids['trainer']}")
    south = re.compile(re.escape(ids["south"]))
    expect(office.get_by_text(south).or_(office.get_by_role("group", name=south))).to_have_count(0)
    tap(office, "button", "Review this record")
    tap(office, "button", "Has issues")  # no comment: refused, said by the comment's field
    expect_shown(office, "Comment for the collector: required")
    type_in(office, office.get_by_label("Comment for the collector"), COMMENT)
    tap(office, "button", "Has issues")
    expect_shown(office, "Review saved: Has issues.")
    shoot(office, "office-review")

    phone = open_phone(browser, apps["trainer"].url)
    unlock(phone)
    tap(phone, "button", "Sync")
    tap(phone, "button", "Sync now")
    tap(phone, "button", "Home")
    expect_shown(phone, "1 record sent back to you")
    tap(phone, "button", "1 record sent back to you", exact=False)
    expect_shown(phone, "Sent back by the office")
    tap(phone, "button", "Victim identification and screening", exact=False)
    expect_shown(phone, f"Sent back by the office: {COMMENT}")
    shoot(phone, "record-sent-back")
    phone.mouse.move(180, 320)
    for _ in range(12):  # the notes are the last card of the review
        phone.mouse.wheel(0, 800)
        phone.wait_for_timeout(100)
    phone.get_by_role("button", name="Edit").last.click()
    type_in(phone, phone.get_by_label("Case notes"), "Met at the bus station, Battambang district.")
    tap(phone, "button", "Review")
    tap(phone, "button", "Finalise")
    expect_shown(phone, "Finalised. It will be sent at the next sync.")
    tap(phone, "button", "Sync")
    tap(phone, "button", "Sync now")
    # Sent by this sync, or by the one the finalising started: either way nothing waits.
    expect_shown(phone, "Nothing waits to be sent")

    tap(office, "button", "Refresh")
    expect_shown(office, "Received")
    tap(office, "button", "Review this record")
    tap(office, "button", "Approve")
    expect_shown(office, "Review saved: Approved.")

    tap(phone, "button", "Sync now")
    tap(phone, "button", "Home")
    expect(phone.get_by_text("sent back to you", exact=False)).to_have_count(0)

    # the devices: the trainer's phone as its sync said, the silent one first, revoked
    tap(office, "button", "Devices")
    expect_shown(office, "1 device silent for more than 14 days")
    expect_shown(office, "Silent: no sync for more than 14 days.")
    expect_shown(office, "Records waiting on the device: 0")
    shoot(office, "office-devices")
    office.get_by_role("button", name="Revoke", exact=False).first.click()
    tap(office, "button", "Revoke the device")
    expect_shown(office, f"{ids['quiet']} is revoked: it can no longer sync.")

    # the office on a phone: the sections above, wrapping, none cut
    small = open_phone(browser, apps["coordinator"].url)
    tap(small, "button", "Office")
    expect_shown(small, f"Sent by {ids['trainer']}")
    for name in ("Review", "Devices"):
        box = small.get_by_role("button", name=name, exact=True).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    shoot(small, "office-review-phone")
    tap(small, "button", "Filter by region, device, form, state and day")
    region = small.get_by_label("Region").bounding_box()
    assert region is not None and region["x"] + region["width"] <= PHONE["width"]
