"""The storage contract of published forms."""

from __future__ import annotations

import hashlib

import pytest

from fieldapp.forms.files import MAX_FILE_BYTES
from sync.protocol import FormChangeData
from sync.server.storage import (
    AlreadyExists,
    FormFileInvalid,
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


def _attached(content: bytes, file: str = "provinces.csv") -> tuple[dict[str, object], str]:
    digest = hashlib.sha256(content).hexdigest()
    spec = {"attachments": {"provinces": {"file": file, "sha256": digest, "size": len(content)}}}
    return spec, digest


def test_attached_files_are_content_addressed_and_scoped(storage: Storage, org_id: str) -> None:
    csv = b"name,label,country\nnairobi,Nairobi,ke\n"
    spec, digest = _attached(csv)
    other = storage.create_organisation("Org C", NOW).id
    storage.publish_form(org_id, "cascade", "1", {**spec, "v": 1}, NOW, {digest: csv})
    assert storage.get_form_file(org_id, digest) == csv
    # A later version naming the same file needs not send it again: it is stored once.
    storage.publish_form(org_id, "cascade", "2", {**spec, "v": 2}, NOW)
    assert storage.get_form_file(org_id, digest) == csv
    # Another organisation sees none of it; a global form's file is everyone's.
    with pytest.raises(NotFound):
        storage.get_form_file(other, digest)
    global_csv = b"name,label\nx,X\n"
    global_spec, global_digest = _attached(global_csv)
    storage.publish_form(None, "g", "1", global_spec, NOW, {global_digest: global_csv})
    assert storage.get_form_file(other, global_digest) == global_csv


def test_a_bad_attached_file_publishes_nothing(storage: Storage, org_id: str) -> None:
    csv = b"name,label\na,A\n"
    spec, digest = _attached(csv)
    with pytest.raises(FormFileInvalid, match=r"provinces\.csv .* was not given"):
        storage.publish_form(org_id, "cascade", "1", spec, NOW)
    with pytest.raises(FormFileInvalid, match="does not match its sha256"):
        storage.publish_form(org_id, "cascade", "1", spec, NOW, {digest: b"name,label\nb,B\n"})
    big = b"name,label\n" + b"x" * MAX_FILE_BYTES
    big_spec, big_digest = _attached(big)
    with pytest.raises(FormFileInvalid, match="over"):
        storage.publish_form(org_id, "cascade", "1", big_spec, NOW, {big_digest: big})
    with pytest.raises(NotFound):
        storage.get_form(org_id, "cascade", "1")
    with pytest.raises(NotFound):
        storage.get_form_file(org_id, digest)


def test_a_draft_awaiting_data_files_publishes_nothing(storage: Storage, org_id: str) -> None:
    # an imported form whose data files were never given: devices must never receive it
    awaiting = {"features": {"file": "features.csv", "reads": ["survey row 14: choices"]}}
    spec = {"id": "health", "awaiting_files": awaiting}
    with pytest.raises(FormFileInvalid, match=r"health version 1 is a draft .* features\.csv"):
        storage.publish_form(org_id, "health", "1", spec, NOW)
    with pytest.raises(NotFound):
        storage.get_form(org_id, "health", "1")
    assert storage.publish_form(org_id, "health", "1", {"id": "health"}, NOW).form_id == "health"
