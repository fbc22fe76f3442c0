"""`GET /v1/office/records/{id}/sealed` over real HTTP, on SQLite and PostgreSQL: the sealed
part of a record goes only to case managers and admins of its organisation (and region, for a
regional device); coordinators and field roles get 403, another organisation or region 404;
every opening and every refusal is audited with who, which record and when, never content."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from sync.protocol import SealedRecordView
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.server._harness import CANARY, Phone, World, revision, running


@pytest.fixture
def world(backend, tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[World]:
    settings = ServerSettings(
        data_dir=tmp_path / "server", database_url=backend.url, rate_limit_burst=10_000
    )
    app = create_app(settings, storage=backend.storage)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key)


def opened(world: World, phone: Phone, record_id: object, **params: object) -> httpx.Response:
    return world.client.get(
        f"/v1/office/records/{record_id}/sealed", params=params, headers=phone.auth
    )


def test_a_case_manager_gets_the_head_and_history_and_it_is_audited(world: World) -> None:
    org = world.org("Org A")
    north = world.enrol(org, "collector", "north")
    first = north.envelope()
    edit = north.envelope(record_id=first.id, rev=revision(2), base=first.revision)
    assert world.push(north, first).status_code == 200
    assert world.push(north, edit).status_code == 200
    manager = world.enrol(org, "case_manager")
    response = opened(world, manager, first.id)
    assert response.status_code == 200, response.text
    view = SealedRecordView.model_validate_json(response.content)
    assert (view.head_revision, view.region) == (edit.revision, "north")
    assert [r.revision for r in view.revisions] == [edit.revision]
    assert view.revisions[0].sealed == edit.sealed  # as the device signed it
    secret = world.org_key.open(edit.sealed or b"", crypto.record_aad(str(edit.id), edit.revision))
    assert json.loads(secret) == {"given_name": CANARY}
    history = SealedRecordView.model_validate_json(
        opened(world, manager, first.id, history=True).content
    )
    assert [r.revision for r in history.revisions] == [first.revision, edit.revision]
    # The audit log says who opened which record, when: no content, no sealed bytes.
    rows = [e for e in world.storage.list_audit(org.id) if e.action == "open_sealed"]
    assert [(e.outcome, e.device_id, e.record_id) for e in rows] == [
        ("ok:1", manager.device_id, str(first.id)),
        ("ok:2", manager.device_id, str(first.id)),
    ]
    audit_text = repr(world.storage.list_audit(org.id))
    assert CANARY not in audit_text
    assert base64.b64encode(edit.sealed or b"").decode()[:40] not in audit_text
    # An admin of the region opens it too.
    assert opened(world, world.enrol(org, "admin", "north"), first.id).status_code == 200


@pytest.mark.parametrize("role", ["coordinator", "trainer", "collector"])
def test_other_roles_are_refused_with_a_clear_error_and_audited(world: World, role: str) -> None:
    org = world.org("Org A")
    writer = world.enrol(org, "collector", "north")
    envelope = writer.envelope()
    world.push(writer, envelope)
    asker = writer if role == "collector" else world.enrol(org, role, None)  # type: ignore[arg-type]
    response = opened(world, asker, envelope.id)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert f"a {role} device may not open sealed records" in body["message"]
    assert "sealed" not in body and CANARY not in response.text
    [entry] = [e for e in world.storage.list_audit(org.id) if e.action == "open_sealed"]
    assert (entry.outcome, entry.device_id, entry.record_id) == (
        "refused:forbidden", asker.device_id, str(envelope.id),
    )  # fmt: skip


def test_another_region_or_organisation_is_not_found(world: World) -> None:
    org_a, org_b = world.org("Org A"), world.org("Org B")
    north = world.enrol(org_a, "collector", "north")
    envelope = north.envelope()
    world.push(north, envelope)
    for asker in (world.enrol(org_a, "case_manager", "south"), world.enrol(org_b, "case_manager")):
        response = opened(world, asker, envelope.id)
        assert response.status_code == 404
        assert response.json()["error"] == "record_not_found"
        assert CANARY not in response.text and str(north.device_id) not in response.text
        [entry] = [e for e in world.storage.list_audit(asker.org_id) if e.action == "open_sealed"]
        assert entry.outcome == "refused:record_not_found"
    # Unknown id: the same answer as another organisation's record.
    manager = world.enrol(org_a, "case_manager", "north")
    assert opened(world, manager, "7c9e6679-7425-40de-944b-e07fc1f90ae7").status_code == 404
    assert opened(world, manager, envelope.id).status_code == 200
