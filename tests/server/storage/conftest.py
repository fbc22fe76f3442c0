"""Fixtures of the storage contract: every test runs on SQLite and on real PostgreSQL (the
`backend` and `storage` fixtures of tests/server/conftest.py), in a fresh organisation."""

from __future__ import annotations

import pytest

from sync.server.storage import Storage
from tests.server.storage._support import NOW


@pytest.fixture
def org_id(storage: Storage) -> str:
    return storage.create_organisation("Org A", NOW).id
