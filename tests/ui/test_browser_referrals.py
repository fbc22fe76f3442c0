"""Headless Chromium at 360x640 against a real server with two organisations: a social
worker of org A opens a sent victim record, taps "Refer to another organisation", picks org
B's legal service from the directory, adds a note and sends; the referral shows as sent,
then, once org B's office has accepted it, as accepted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from fieldapp import crypto
from sync.client import ReferralsClient
from sync.server import admin
from tests.conftest import CANARY, screening_values
from tests.ui._browser import AppProcess, expect_shown, open_phone, reveal, shoot, tap, type_into
from tests.ui._office import OfficeWorld, office_world
from tests.ui.test_browser import unlock
from tests.ui.test_referrals_state import enrol_other

pytestmark = pytest.mark.browser


@dataclass
class TwoOrganisations:
    world: OfficeWorld
    app: AppProcess
    b_admin: Path


@pytest.fixture(scope="module")
def orgs(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[TwoOrganisations]:
    root = tmp_path_factory.mktemp("referrals")
    with office_world(root, org_key) as world:
        b_key = crypto.OrgKeyPair.generate("X25519")
        with admin.open_server_storage(world.deployment.settings) as storage:
            org_b = admin.create_org(storage, "Legal Aid Cambodia", recipients=[b_key.recipient])
        b_admin = enrol_other(world, org_b.id, "b-admin", "admin")
        with world.store(b_admin) as store, ReferralsClient(store) as client:
            client.set_services({"legal": "Legal aid", "shelter": "Women's shelter"})
        phone = world.enrol("phone", "collector", "north")
        world.collect(phone, "victim_screening", screening_values(CANARY))
        app = world.app(phone)
        app.start()
        try:
            yield TwoOrganisations(world, app, b_admin)
        finally:
            app.stop()


def test_a_social_worker_refers_a_survivor_and_sees_the_answer(
    browser: Browser, orgs: TwoOrganisations
) -> None:
    page = open_phone(browser, orgs.app.url)
    unlock(page)
    tap(page, "button", "Records")
    tap(page, "button", "Sent (1)")
    reveal(page, page.get_by_text("Victim identification and screening")).click()
    tap(page, "button", "Refer to another organisation")
    expect_shown(page, "Refer this person")
    tap(page, "radio", "Legal Aid Cambodia")
    tap(page, "radio", "Legal aid")
    type_into(page, page.get_by_label("Note for the receiving organisation"), "Wage claim")
    tap(page, "button", "Send referral")
    expect_shown(page, "Sent, waiting for an answer")
    shoot(page, "referral-sent")

    with orgs.world.store(orgs.b_admin) as store, ReferralsClient(store) as client:
        [incoming] = client.referrals("incoming")
        client.accept(str(incoming.id))
    tap(page, "button", "Refresh")
    expect_shown(page, "Accepted")
    shoot(page, "referral-accepted")
    page.close()
