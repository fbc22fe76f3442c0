"""Sealing epoch headers on both backends: kept under their sha256, once, per organisation;
an organisation never sees another's."""

from __future__ import annotations

from fieldapp import crypto
from sync.server.storage import Storage
from tests.server.storage._support import NOW


def test_epoch_headers_are_content_addressed_per_organisation(
    storage: Storage, org_id: str
) -> None:
    recipient = crypto.OrgKeyPair.generate("X25519").recipient
    first, second = (crypto.SealingEpoch([recipient]) for _ in range(2))
    storage.put_epoch_headers(org_id, [first.header, first.header])
    storage.put_epoch_headers(org_id, [first.header, second.header])  # one already kept
    unknown = "0" * 64
    found = storage.epoch_headers(org_id, [first.epoch_id, second.epoch_id, unknown])
    assert found == {first.epoch_id: first.header, second.epoch_id: second.header}
    other = storage.create_organisation("Org B", NOW).id
    assert storage.epoch_headers(other, [first.epoch_id]) == {}
    assert storage.epoch_headers(org_id, []) == {}
