"""The storage contract of enrolment codes and devices."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fieldapp.crypto import SigningKey
from sync.protocol import RevocationChange
from sync.server.storage import (
    AlreadyExists,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    NotFound,
    Storage,
)
from tests.server.storage._support import (
    NOW,
    Member,
    all_changes,
)


def test_enrolment_lifecycle(storage: Storage, org_id: str) -> None:
    key = SigningKey.generate().public_key
    expires = NOW + timedelta(hours=1)
    code = storage.create_enrol_code(org_id, "code-hash", "collector", "north", expires, NOW)
    assert (code.role, code.region, code.device_id) == ("collector", "north", None)
    with pytest.raises(AlreadyExists):
        storage.create_enrol_code(org_id, "code-hash", "admin", None, expires, NOW)
    with pytest.raises(NotFound):
        storage.create_enrol_code("nope", "other-hash", "admin", None, expires, NOW)

    device = storage.redeem_enrol_code("code-hash", "phone-1", key, "Amina's phone", "tok-1", NOW)
    assert (device.org_id, device.role, device.region) == (org_id, "collector", "north")
    assert device.public_key == key and device.revoked_at is None
    assert storage.device_by_token("tok-1") == device

    # The answer was lost in transit: the same device and key redeem again, with a new token.
    again = storage.redeem_enrol_code("code-hash", "phone-1", key, "Amina's phone", "tok-2", NOW)
    assert again == device
    assert storage.device_by_token("tok-1") is None
    assert storage.device_by_token("tok-2") == device

    with pytest.raises(CodeUsed):
        storage.redeem_enrol_code("code-hash", "phone-2", key, "", "tok-3", NOW)
    with pytest.raises(CodeUsed):
        other_key = SigningKey.generate().public_key
        storage.redeem_enrol_code("code-hash", "phone-1", other_key, "", "tok-3", NOW)
    with pytest.raises(CodeExpired):  # even the same device, once the code has expired
        storage.redeem_enrol_code("code-hash", "phone-1", key, "", "tok-3", expires)
    with pytest.raises(CodeInvalid):
        storage.redeem_enrol_code("no-such-hash", "phone-3", key, "", "tok-3", NOW)
    assert storage.device_by_token("tok-3") is None

    storage.create_enrol_code(org_id, "second-code", "trainer", None, expires, NOW)
    with pytest.raises(AlreadyExists):  # a device id is enrolled once
        storage.redeem_enrol_code("second-code", "phone-1", key, "", "tok-4", NOW)
    assert storage.device_by_token("tok-4") is None

    assert storage.list_devices(org_id) == [device]
    assert storage.get_device("phone-1") == device
    with pytest.raises(NotFound):
        storage.get_device("nope")


def test_expired_code_never_creates_a_device(storage: Storage, org_id: str) -> None:
    storage.create_enrol_code(org_id, "old", "collector", None, NOW, NOW - timedelta(days=2))
    with pytest.raises(CodeExpired):
        storage.redeem_enrol_code("old", "phone-1", b"k" * 32, "", "tok", NOW)
    assert storage.list_devices(org_id) == []


def test_revoked_device_loses_its_token_and_its_code(storage: Storage, org_id: str) -> None:
    admin = Member(storage, org_id, "admin", None).device
    key = SigningKey.generate().public_key
    storage.create_enrol_code(org_id, "c", "collector", "north", NOW + timedelta(days=1), NOW)
    device = storage.redeem_enrol_code("c", "phone-1", key, "", "tok", NOW)
    revoked = storage.revoke_device("phone-1", NOW + timedelta(minutes=5))
    assert revoked.revoked_at == NOW + timedelta(minutes=5)
    assert storage.device_by_token("tok") is None
    assert storage.get_device(device.id).revoked_at is not None
    assert storage.revoke_device("phone-1", NOW + timedelta(days=1)) == revoked  # idempotent
    with pytest.raises(CodeUsed):
        storage.redeem_enrol_code("c", "phone-1", key, "", "tok-new", NOW)
    assert storage.device_by_token("tok-new") is None
    with pytest.raises(NotFound):
        storage.revoke_device("nope", NOW)
    revocations = [c for c in all_changes(storage, admin) if isinstance(c, RevocationChange)]
    assert [(c.key, c.data.device_id) for c in revocations] == [("phone-1", "phone-1")]


def test_an_enrolment_code_keeps_the_team_key_it_was_issued_with(
    storage: Storage, org_id: str
) -> None:
    expires = NOW + timedelta(days=1)
    storage.create_enrol_code(org_id, "with", "trainer", "north", expires, NOW, b"\x00wrapped\xff")
    storage.create_enrol_code(org_id, "without", "trainer", "north", expires, NOW)
    assert storage.get_enrol_code("with").wrapped_team_key == b"\x00wrapped\xff"
    assert storage.get_enrol_code("without").wrapped_team_key is None
    device = storage.redeem_enrol_code("with", "dev-1", b"k" * 32, "", "token-hash", NOW)
    redeemed = storage.get_enrol_code("with")
    assert (redeemed.device_id, redeemed.region) == (device.id, "north")
    assert redeemed.wrapped_team_key == b"\x00wrapped\xff"
    with pytest.raises(NotFound):
        storage.get_enrol_code("no-such-hash")


def test_a_device_contact_is_kept_and_what_it_did_not_say_stays(
    storage: Storage, org_id: str
) -> None:
    key = SigningKey.generate().public_key
    storage.create_enrol_code(org_id, "contact", "trainer", "north", NOW + timedelta(hours=1), NOW)
    device = storage.redeem_enrol_code("contact", "phone-c", key, "", "tok-c", NOW)
    assert (device.last_seen_at, device.last_sync_at, device.records_waiting) == (None,) * 3
    assert device.app_version is None
    later = NOW + timedelta(minutes=5)
    storage.note_device_contact("phone-c", later, synced=True, waiting=3, app_version="1.2.0")
    seen = storage.get_device("phone-c")
    assert (seen.last_seen_at, seen.last_sync_at) == (later, later)
    assert (seen.records_waiting, seen.app_version) == (3, "1.2.0")
    # an older app says nothing of itself, and only pushes: seen, not synced, the rest kept
    latest = later + timedelta(minutes=5)
    storage.note_device_contact("phone-c", latest, synced=False)
    seen = storage.get_device("phone-c")
    assert (seen.last_seen_at, seen.last_sync_at) == (latest, later)
    assert (seen.records_waiting, seen.app_version) == (3, "1.2.0")
    storage.note_device_contact("phone-c", latest, synced=False, waiting=0)
    assert storage.get_device("phone-c").records_waiting == 0
    assert [d.records_waiting for d in storage.list_devices(org_id) if d.id == "phone-c"] == [0]
