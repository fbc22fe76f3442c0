"""The storage contract of organisations and the server's key."""

from __future__ import annotations

import pytest

from sync.server.storage import (
    AlreadyExists,
    NotFound,
    Storage,
)
from tests.server.storage._support import (
    NOW,
)


def test_server_key_first_writer_wins(storage: Storage) -> None:
    assert storage.ensure_server_key("k1", b"wrapped-1", NOW) == ("k1", b"wrapped-1")
    assert storage.ensure_server_key("k2", b"wrapped-2", NOW) == ("k1", b"wrapped-1")


def test_organisations(storage: Storage) -> None:
    a = storage.create_organisation("Org A", NOW)
    b = storage.create_organisation("Org B", NOW)
    assert storage.get_organisation(a.id) == a
    assert storage.organisation_by_name("Org B") == b
    assert [o.name for o in storage.list_organisations()] == ["Org A", "Org B"]
    assert a.created_at == NOW and a.recipients == []
    with pytest.raises(AlreadyExists):
        storage.create_organisation("Org A", NOW)
    with pytest.raises(NotFound):
        storage.get_organisation("nope")
    with pytest.raises(NotFound):
        storage.organisation_by_name("nope")
    recipients = [{"key_id": "x", "kem": "X25519", "public_key": "AAAA"}]
    assert storage.set_recipients(a.id, recipients).recipients == recipients
    assert storage.get_organisation(b.id).recipients == []
    with pytest.raises(NotFound):
        storage.set_recipients("nope", recipients)
