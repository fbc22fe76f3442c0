"""The office's dashboard and exports in headless Chromium, on a coordinator's laptop
(1280x800) against a real server: the dashboard filtered by region shows the north's figures
with its small victim groups hidden; an XLSX export is downloaded and opened with openpyxl
(sheets, columns, counts); then the dashboard on a phone (360x640)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp import crypto
from tests.ui._browser import AppProcess, expect_shown, open_phone, shoot, tap, tap_bar, type_into
from tests.ui._office import attendance_values, office_world, screening_values
from tests.ui.test_browser import unlock
from tests.ui.test_office_figures import send

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[AppProcess]:
    """Two trainings of 3 in the north; 14 victims in the north (13 Nigerian women and one
    Eritrean girl of 14) and 30 Romanian men in the south; a coordinator's laptop."""
    with office_world(tmp_path_factory.mktemp("office-dashboard"), org_key) as world:
        trainer = world.enrol("trainer", "trainer", "north")
        send(world, trainer, "training_attendance", [attendance_values(participants=3)] * 2)
        north = world.enrol("north", "collector", "north")
        women = [screening_values(nationality="NG", age_band="25_34")] * 13
        girl = screening_values(
            nationality="ER", age_band="12_14", age_years=14, child_protection_referral="referred"
        )
        send(world, north, "victim_screening", [*women, girl])
        south = world.enrol("south", "collector", "south")
        men = [screening_values(sex="male", nationality="RO", age_band="18_24", age_years=20)] * 30
        send(world, south, "victim_screening", men)
        process = AppProcess(
            world.enrol("coordinator", "coordinator"), world.url, office_tools=True
        )
        process.start()
        try:
            yield process
        finally:
            process.stop()


def _scroll_to(page: Page, text: str) -> None:
    """Wheel the dashboard (not the section rail) until `text` is drawn: Flutter describes
    only what is on screen."""
    target = page.get_by_text(text, exact=False)
    for _ in range(40):
        if target.count() and target.first.is_visible():
            return
        page.mouse.move(900, 500)
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(200)
    expect(target.first).to_be_visible()


def _open(browser: Browser, url: str, viewport: dict[str, int]) -> Page:
    page = open_phone(browser, url) if viewport["width"] == 360 else None
    if page is None:
        page = browser.new_page(viewport=viewport, accept_downloads=True)
        page.set_default_timeout(20_000)
        page.goto(url)
        page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
        page.locator("flt-semantics-placeholder").dispatch_event("click")
        page.wait_for_selector("flt-semantics", state="attached")
    either = page.get_by_text("Locked", exact=True).or_(page.get_by_role("button", name="Lock now"))
    expect(either.first).to_be_visible()
    if page.get_by_text("Locked", exact=True).count():  # the app's store is one per process
        unlock(page)
    region = page.get_by_label("Region")
    for _ in range(3):  # the navigation is drawn anew once the device's role is read
        if viewport["width"] == 360:
            tap_bar(page, "Office")
        else:
            tap(page, "button", "Office")
        try:
            expect(page.get_by_role("button", name="Dashboard")).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    tap(page, "button", "Dashboard")  # the office opens on its first section, Review
    expect(region).to_be_visible()
    return page


def test_the_coordinator_filters_by_region_and_downloads_an_xlsx(
    browser: Browser, app: AppProcess, tmp_path: Path
) -> None:
    page = _open(browser, app.url, LAPTOP)
    expect_shown(page, "46 records")  # 2 trainings, 44 victims
    type_into(page, page.get_by_label("Region"), "north")
    tap(page, "button", "Show")
    expect_shown(page, "16 records")
    expect_shown(page, "Female 2 Male 4 Total: 6")  # participants by sex: as counted
    _scroll_to(page, "Victims by nationality")
    # Eritrea (1) and Nigeria (13, which would give her back from the total): hidden, and
    # the same in every chart of the report; the north's 14 women: shown.
    expect_shown(page, "Female 14 Total: 14")  # victims by sex
    expect_shown(page, "Eritrea hidden Nigeria hidden Total: 14")
    expect_shown(page, "12–14 (child) hidden 25–34 hidden Total: 14")
    page.mouse.wheel(0, 700)  # the victims' charts, hidden bars as grey stubs
    shoot(page, "office-dashboard")

    tap(page, "button", "Exports")
    expect(page.get_by_role("switch", name="Labels instead of codes")).to_be_visible()
    with page.expect_download() as downloading:
        tap(page, "button", "Export")
    download = downloading.value
    assert download.suggested_filename == "training_attendance.xlsx"
    saved = tmp_path / "register.xlsx"
    download.save_as(saved)
    expect_shown(page, "2 records exported to training_attendance.xlsx")
    shoot(page, "office-exports")
    book = openpyxl.load_workbook(saved, read_only=True)
    assert book.sheetnames == ["training_attendance", "participants"]
    events = list(book["training_attendance"].iter_rows(values_only=True))
    assert events[0][:3] == ("KEY", "form_version", "region") and len(events) == 1 + 2
    people = list(book["participants"].iter_rows(values_only=True))
    assert people[0][:2] == ("PARENT_KEY", "KEY") and len(people) == 1 + 6
    header = list(people[0])
    assert "full_name" not in header and {"sex", "profession", "pre_score"} <= set(header)
    sexes = [row[header.index("sex")] for row in people[1:]]
    assert sorted(sexes) == ["female"] * 2 + ["male"] * 4
    book.close()


def test_the_dashboard_on_a_phone(browser: Browser, app: AppProcess) -> None:
    page = _open(browser, app.url, {"width": 360, "height": 640})
    page.mouse.move(180, 400)
    page.mouse.wheel(0, 1000)  # past the filters, to the first charts
    page.wait_for_timeout(300)
    shoot(page, "office-dashboard-phone")
