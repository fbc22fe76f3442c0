"""A case manager merges a flagged duplicate pair in the office, on a laptop (1280x800 in
headless Chromium, the real app on a real server): two social workers' devices, enrolled
with the organisation's match key, recorded the same victim with a typo in the given name;
the office lists the pair side by side (statistical fields only), "Merge" keeps both records
on the server, one marked the other's duplicate, and the list is empty after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from fieldapp import crypto
from tests.conftest import CANARY, screening_values
from tests.ui._browser import AppProcess, expect_shown, open_phone, shoot, tap
from tests.ui._office import OfficeWorld, office_world
from tests.ui.test_browser import unlock

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OfficeWorld, AppProcess]]:
    org_key = crypto.OrgKeyPair.generate("X25519")
    with office_world(tmp_path_factory.mktemp("duplicates"), org_key) as world:
        match_key = org_key.match_key(world.deployment.org_id)
        for name, given in (("north-a", CANARY), ("north-b", CANARY + "h")):
            device = world.enrol(name, "collector", "north", match_key=match_key)
            values = screening_values(given, family_name="Sokhaqua", date_of_birth="1997-05-01")
            world.collect(device, "victim_screening", values)
        app = world.app(world.enrol("manager", "case_manager", match_key=match_key))
        app.start()
        try:
            yield world, app
        finally:
            app.stop()


def test_a_case_manager_merges_a_flagged_pair(
    browser: Browser, office: tuple[OfficeWorld, AppProcess]
) -> None:
    world, app = office
    page = open_phone(browser, app.url, laptop=True)
    unlock(page)
    tap(page, "button", "Office")
    tap(page, "button", "Possible duplicates")  # the office opens on its first section, Review
    expect_shown(page, "Matched on: family_dob")
    expect_shown(page, "Record 2")
    page.wait_for_timeout(1500)  # the pair's frame painted (a blank one was shot once)
    shoot(page, "office-duplicates")
    tap(page, "button", "Merge")
    expect_shown(page, "No possible duplicates to check.")
    merged = world.deployment.query(
        "SELECT count(*), count(duplicate_of) FROM record_heads WHERE form_id = ?",
        ("victim_screening",),
    )
    assert merged == [(2, 1)]  # both kept, one marked the other's duplicate
