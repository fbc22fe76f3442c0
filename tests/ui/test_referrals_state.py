"""Referrals as the app's state drives them, over the real services, a real server and real
stores: org A's social worker opens a sent victim record, refers it from the directory, and
sees the status org B's case manager gives it (accepted, then delivered) on the referrals
screen; org B reads what it holds only once its case files are unlocked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from fieldapp.ui.state import AppState, referable
from sync.client import ReferralsClient, enrol
from sync.server import admin
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.ui._office import OfficeWorld, office_world

KEY_PASSPHRASE = "org B's own key passphrase"


@pytest.fixture
def world(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[OfficeWorld]:
    with office_world(tmp_path, org_key) as world:
        yield world


def enrol_other(world: OfficeWorld, org_id: str, name: str, role: str) -> Path:
    """A device of another organisation on the world's server."""
    data_dir = world.root / name
    data_dir.mkdir(parents=True)
    settings = world.deployment.settings
    with admin.open_server_storage(settings) as storage:
        server_key = admin.server_public_key(settings, storage)
        code = admin.enrol_code(storage, org_id, role, None, server_key=server_key)  # type: ignore[arg-type]
    store = Store.create(data_dir / STORE_FILENAME, PASSPHRASE)
    try:
        enrol(store, world.url, code.code)
    finally:
        store.close()
    return data_dir


def test_a_referral_from_the_record_to_its_status_and_org_bs_answers(
    world: OfficeWorld, tmp_path: Path
) -> None:
    b_key = crypto.OrgKeyPair.generate("X25519")
    key_file = tmp_path / "org-b.key"
    b_key.save(key_file, KEY_PASSPHRASE)
    with admin.open_server_storage(world.deployment.settings) as storage:
        org_b = admin.create_org(storage, "Legal Aid Cambodia", recipients=[b_key.recipient])
    b_admin = enrol_other(world, org_b.id, "b-admin", "admin")
    b_manager = enrol_other(world, org_b.id, "b-manager", "case_manager")
    with world.store(b_admin) as store, ReferralsClient(store) as client:
        client.set_services({"legal": "Legal aid"})
    phone = world.enrol("phone", "collector", "north")
    record = world.collect(phone, "victim_screening", screening_values(CANARY))

    services = world.services(phone)
    try:
        state = AppState(services=services)
        state.open_record(record.id)
        assert state.form is not None and referable(state.form)
        state.open_referrals(record.id)
        view = state.referrals
        assert state.screen == "referrals" and not view.receives
        assert [e.org_name for e in view.directory] == ["Legal Aid Cambodia"]
        view.choose_org(org_b.id)
        assert view.service == "legal"  # its only service
        view.set_note("Wage claim")
        view.send()
        assert view.sent and view.error is None
        assert [(r.to_org_name, r.status) for r in view.outgoing] == [
            ("Legal Aid Cambodia", "sent")
        ]
    finally:
        services.close()

    office = world.services(b_manager)
    try:
        state = AppState(services=office)
        state.open_referrals()
        view = state.referrals
        [item] = view.incoming
        assert item.contents is None  # sealed until the case files are unlocked
        office.case_files.unlock(key_file.read_bytes(), KEY_PASSPHRASE)
        view.reload()
        [item] = view.incoming
        assert item.contents is not None and item.contents.fields["given_name"] == CANARY
        view.answer(str(item.referral.id), "accept")
        view.answer(str(item.referral.id), "delivered")
        assert [i.referral.status for i in view.incoming] == ["delivered"]
        state.lock()
        assert state.referrals.incoming == []  # nothing opened stays after the lock
    finally:
        office.close()

    services = world.services(phone)
    try:
        state = AppState(services=services)
        state.open_referrals()
        assert [r.status for r in state.referrals.outgoing] == ["delivered"]
    finally:
        services.close()
