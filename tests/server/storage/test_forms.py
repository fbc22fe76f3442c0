"""The storage contract of published forms."""

from __future__ import annotations

import pytest

from sync.protocol import FormChangeData
from sync.server.storage import (
    AlreadyExists,
    NotFound,
    Storage,
)
from tests.server.storage._support import (
    NOW,
    Member,
    all_changes,
)


def test_forms_publish_shadow_and_isolation(storage: Storage, org_id: str) -> None:
    other = storage.create_organisation("Org B", NOW).id
    viewer_b = Member(storage, other, "admin", None).device
    spec = {"id": "attendance", "version": "1", "fields": []}
    global_form = storage.publish_form(None, "attendance", "1", spec, NOW)
    assert storage.publish_form(None, "attendance", "1", spec, NOW) == global_form
    with pytest.raises(AlreadyExists):
        storage.publish_form(None, "attendance", "1", {**spec, "fields": [1]}, NOW)
    own = storage.publish_form(org_id, "attendance", "1", {**spec, "title": "ours"}, NOW)
    storage.publish_form(org_id, "screening", "2", {"id": "screening"}, NOW)
    with pytest.raises(NotFound):
        storage.publish_form("nope", "x", "1", {}, NOW)

    assert storage.get_form(org_id, "attendance", "1") == own
    assert storage.get_form(other, "attendance", "1") == global_form
    with pytest.raises(NotFound):
        storage.get_form(other, "screening", "2")
    assert [(f.form_id, f.org_id) for f in storage.list_form_versions(org_id)] == [
        ("attendance", org_id),
        ("screening", org_id),
    ]
    assert storage.list_form_versions(other) == [global_form]
    assert storage.list_form_versions(org_id, "screening")[0].spec == {"id": "screening"}

    seen_by_b = all_changes(storage, viewer_b)
    published = FormChangeData(form_id="attendance", version="1", spec=spec)
    assert [(c.kind, c.key, c.data) for c in seen_by_b] == [("form", "attendance@1", published)]
