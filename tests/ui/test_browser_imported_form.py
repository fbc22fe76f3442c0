"""Issue #13's done-when, end to end in headless Chromium at 360x640: an XLSForm written here
(openpyxl) with a country -> province cascade whose provinces come from an attached CSV, a
note showing a pulldata calculation, a repeat counted by an answer and an `instance_name`;
imported and published through the CLI on the real server's data dir, synced to a device
with its file, filled in the browser, finalised and synced; the server holds the record and
refuses a province forged outside the country's list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp import crypto
from sync.server.app import create_app
from tests._cascade_form import write_cascade_form
from tests.conftest import PASSPHRASE
from tests.server._harness import World, running
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess, expect_shown, open_phone, reveal, shoot, tap, type_into
from tests.ui.test_browser import choose

pytestmark = pytest.mark.browser


@dataclass
class Setting:
    deployment: Deployment
    world: World
    app: AppProcess


@pytest.fixture(scope="module")
def setting(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[Setting]:
    root = tmp_path_factory.mktemp("imported-form")
    deployment = Deployment.create(root / "server", org_key)
    form = write_cascade_form(root / "xlsform")
    csv = root / "xlsform" / "provinces.csv"
    command = ["forms", "import", str(form), "--attach", str(csv)]
    published = subprocess.run(
        [sys.executable, "-m", "fieldapp", "--data-dir", str(root / "server"), *command],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "FIELDAPP_DATA_DIR"},
    )
    assert published.returncode == 0, published.stderr
    assert "cascade 1 (published on the server)" in published.stdout
    app = create_app(deployment.settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        device = AppProcess(root / "device", server_url=url)
        device.start()
        try:
            yield Setting(deployment, World(app, client, org_key), device)
        finally:
            device.stop()


def province_offered(page: Page, name: str) -> bool:
    return page.get_by_role("radio", name=name, exact=True).count() > 0


def test_an_imported_form_cascades_counts_and_titles_its_record(
    browser: Browser, setting: Setting
) -> None:
    deployment, app = setting.deployment, setting.app
    page = open_phone(browser, app.url)
    tap(page, "button", "Continue")
    type_into(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_into(page, page.get_by_label("Repeat the passphrase"), PASSPHRASE)
    tap(page, "button", "Protect this device")
    type_into(page, page.get_by_label("Enrolment code", exact=True), deployment.code())
    tap(page, "button", "Connect")
    # the form and its file come with the first sync: the form is on the home screen
    expect(page.get_by_role("button", name="Cascade")).to_be_visible(timeout=30_000)
    tap(page, "button", "Cascade")

    type_into(page, page.get_by_label("Case code", exact=True), "C-7")
    choose(page, "Country", "Kenya")
    expect(page.get_by_role("radio", name="Nairobi", exact=True)).to_be_visible()
    assert province_offered(page, "Mombasa") and not province_offered(page, "Kampala")
    choose(page, "Country", "Uganda")  # the list narrows to Uganda's provinces
    expect(page.get_by_role("radio", name="Gulu", exact=True)).to_be_visible()
    assert province_offered(page, "Kampala") and not province_offered(page, "Nairobi")
    choose(page, "Province", "Gulu")
    expect_shown(page, "Capital: Gulu Town")  # a note showing a pulldata calculation
    type_into(page, page.get_by_label("Number of children", exact=True), "2")
    shoot(page, "imported-form-cascade")
    tap(page, "button", "Next")
    expect_shown(page, "Child · 2 entries")  # the repeat holds as many as answered
    expect(page.get_by_role("button", name="Add: Child")).to_have_count(0)
    tap(page, "button", "Review")
    reveal(page, page.get_by_role("button", name="Finalise")).click()
    expect(page.get_by_text("Finalised. It will be sent at the next sync.")).to_be_visible()

    tap(page, "button", "Sync")
    for text in ("Nothing waits to be sent.", "Sent 1, rejected 0"):
        shown = page.get_by_text(text, exact=False).or_(page.get_by_role("group", name=text))
        expect(shown.first).to_be_visible(timeout=20_000)
    tap(page, "button", "Records")
    tap(page, "button", "Sent (1)")
    expect_shown(page, "C-7 in gulu")  # the form's instance_name is the record's title

    [(stats,)] = deployment.query("SELECT stats FROM records WHERE form_id = 'cascade'")
    assert {k: json.loads(stats)[k] for k in ("country", "province", "n")} == {
        "country": "ug",
        "province": "gulu",
        "n": 2,
    }
    # a modified client's province from another country is refused by the server
    world = setting.world
    phone = world.enrol(world.storage.get_organisation(deployment.org_id))
    forged = phone.envelope(
        form=("cascade", "1"), stats={"country": "ke", "province": "gulu", "n": 0}
    )
    answer = world.push(phone, forged).json()["outcomes"][0]
    assert answer["status"] == "rejected"
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("choice", "province")]
