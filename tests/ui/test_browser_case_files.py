"""A case manager on a laptop (1280x800) in the real app in headless Chromium, against a real
server: the office's Case files unlocked with the organisation's key file (picked in the
browser's file chooser: the web client gets its bytes) and its passphrase, a victim's record
opened from the list shows the sealed name, then "Lock case files" forgets the key. Nothing of
it is left in the case manager's data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp import crypto
from tests.conftest import CANARY, PASSPHRASE
from tests.security.canary import scan_paths
from tests.ui._browser import AppProcess, expect_shown, shoot, tap, type_into
from tests.ui._office import office_world, screening_values

KEY_PASSPHRASE = "the organisation's own passphrase"
LAPTOP = {"width": 1280, "height": 800}


class Laptop:
    def __init__(self, app: AppProcess, key_file: Path, manager_dir: Path) -> None:
        self.app, self.key_file, self.manager_dir = app, key_file, manager_dir


@pytest.fixture(scope="module")
def laptop(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[Laptop]:
    root = tmp_path_factory.mktemp("case-files")
    key_file = root / "org.key"
    org_key.save(key_file, KEY_PASSPHRASE)
    with office_world(root / "world", org_key) as world:
        phone = world.enrol("phone", "collector", "north")
        world.collect(phone, "victim_screening", screening_values())
        manager_dir = world.enrol("manager", "case_manager")
        app = world.app(manager_dir)
        app.start()
        try:
            yield Laptop(app, key_file, manager_dir)
        finally:
            app.stop()
            import shutil

            shutil.copy(app.log, "/tmp/case-files-app.log")


def open_laptop(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport=LAPTOP)  # type: ignore[arg-type]
    page.set_default_timeout(20_000)
    page.goto(url)
    page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
    page.locator("flt-semantics-placeholder").dispatch_event("click")
    page.wait_for_selector("flt-semantics", state="attached")
    return page


@pytest.mark.browser
def test_a_case_manager_unlocks_opens_a_sealed_record_and_locks(
    browser: Browser, laptop: Laptop
) -> None:
    page = open_laptop(browser, laptop.app.url)
    expect(page.get_by_text("Locked", exact=True)).to_be_visible()
    type_into(page, page.get_by_label("Passphrase"), PASSPHRASE)
    tap(page, "button", "Unlock")
    # Key derivation takes seconds on a loaded machine: the lock screen goes first.
    expect(page.get_by_text("Locked", exact=True)).to_have_count(0, timeout=60_000)
    page.get_by_role("button", name="Office", exact=True).first.click()
    tap(page, "button", "Case files")  # the office opens on its first section, Review
    expect_shown(page, "Choose the key file")
    with page.expect_file_chooser() as chooser:
        tap(page, "button", "Choose the key file")
    chooser.value.set_files(str(laptop.key_file))
    expect_shown(page, "Key file: org.key")
    type_into(page, page.get_by_label("Key file passphrase"), KEY_PASSPHRASE)
    tap(page, "button", "Unlock case files")
    expect_shown(page, "Records to open")
    tap(page, "button", "Open")
    expect_shown(page, CANARY)
    expect_shown(page, "Given name(s)")
    shoot(page, "office-case-file")
    tap(page, "button", "Lock case files")
    expect_shown(page, "Case files locked: the key is forgotten.")
    expect(page.get_by_text(CANARY)).to_have_count(0)
    page.close()
    hits, _ = scan_paths([laptop.manager_dir], CANARY)
    assert hits == []
