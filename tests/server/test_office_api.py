"""The office API over real HTTP (uvicorn on 127.0.0.1), on SQLite and PostgreSQL: the records
list (statistical fields only, newest first, keyset pages, filters, organisation and region
isolation, refused to collectors and trainers), reviews (comment rules, isolation), the
audit log (counts and states only, never a comment or a statistic), and sealed parts
(`/sealed`: case managers and admins only, by organisation and region, every opening and
refusal audited without content)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from sync.protocol import SealedRecordView
from tests.server._harness import CANARY, Phone, World, revision

COMMENT = "Quxplorin: the age does not match the band"


def listed(world: World, phone: Phone, **params: Any) -> httpx.Response:
    return world.client.get("/v1/office/records", params=params, headers=phone.auth)


def pages(world: World, phone: Phone, **params: Any) -> list[list[dict[str, Any]]]:
    found, cursor = [], None
    while True:
        response = listed(world, phone, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["records"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_the_office_lists_statistics_newest_first_in_pages(world: World) -> None:
    org = world.org("Org A")
    north = world.enrol(org, "collector", "north")
    pushed = [north.envelope(stats={"age": 20 + n, "sex": "female"}) for n in range(5)]
    for envelope in pushed:
        assert world.push(north, envelope).status_code == 200
    coordinator = world.enrol(org, "coordinator")
    got = pages(world, coordinator, limit=2)
    assert [len(p) for p in got] == [2, 2, 1]
    records = [r for page in got for r in page]
    assert [r["id"] for r in records] == [str(e.id) for e in reversed(pushed)]
    first = records[0]
    assert first["stats"] == {"age": 24, "sex": "female"}
    assert (first["region"], first["device_id"], first["review_state"]) == (
        "north", north.device_id, "received",
    )  # fmt: skip
    text = str(got)
    sealed = base64.b64encode(pushed[0].sealed or b"").decode()
    assert CANARY not in text and sealed[:40] not in text and "sealed" not in first
    # Counts only in the audit log.
    [entry] = [e for e in world.storage.list_audit(org.id) if e.action == "office_list"][:1]
    assert entry.outcome == "ok:2" and entry.record_id is None


def test_filters(world: World) -> None:
    org = world.org("Org A")
    north, south = world.enrol(org, "collector", "north"), world.enrol(org, "collector", "south")
    for phone, n in ((north, 3), (south, 2)):
        for _ in range(n):
            world.push(phone, phone.envelope())
    office = world.enrol(org, "case_manager")

    def count(**params: Any) -> int:
        return sum(len(p) for p in pages(world, office, **params))

    assert count() == 5
    assert count(region="south") == 2
    assert count(device=north.device_id) == 3
    assert count(form="screening") == 5 and count(form="other") == 0
    assert count(status="received") == 5 and count(status="approved") == 0
    assert count(received_from="2000-01-01T00:00:00+00:00") == 5
    assert count(received_to="2000-01-01T00:00:00Z") == 0
    naive = listed(world, office, received_from="2026-01-01T00:00:00")
    assert naive.status_code == 422 and "received_from" in naive.text
    for bad in ("nonsense", "bzE6LTU", base64.urlsafe_b64encode(b"o1:abc").decode()):
        refused = listed(world, office, cursor=bad)
        assert (refused.status_code, refused.json()["error"]) == (400, "bad_cursor"), bad
        assert "cursor" in refused.json()["message"]
    assert listed(world, office, status="done").status_code == 422


def test_who_may_list_and_review(world: World) -> None:
    org_a, org_b = world.org("Org A"), world.org("Org B")
    north = world.enrol(org_a, "collector", "north")
    envelope = north.envelope()
    world.push(north, envelope)
    path = f"/v1/office/records/{envelope.id}:review"
    body = {"state": "approved"}
    for role in ("collector", "trainer"):
        phone = world.enrol(org_a, role, "north")
        assert listed(world, phone).status_code == 403
        assert world.client.post(path, json=body, headers=phone.auth).status_code == 403
    # Another organisation: its own (empty) list, and A's record does not exist.
    b_coordinator = world.enrol(org_b, "coordinator")
    assert listed(world, b_coordinator).json() == {"records": [], "next_cursor": None}
    refused = world.client.post(path, json=body, headers=b_coordinator.auth)
    assert (refused.status_code, refused.json()["error"]) == (404, "record_not_found")
    # Another region: the same.
    south_coordinator = world.enrol(org_a, "coordinator", "south")
    assert listed(world, south_coordinator).json()["records"] == []
    assert world.client.post(path, json=body, headers=south_coordinator.auth).status_code == 404
    north_coordinator = world.enrol(org_a, "coordinator", "north")
    assert [r["id"] for r in listed(world, north_coordinator).json()["records"]] == [
        str(envelope.id)
    ]
    assert world.client.post(path, json=body, headers=north_coordinator.auth).status_code == 200
    outcomes = [(e.actor, e.outcome) for e in world.storage.list_audit() if e.action == "review"]
    assert (f"device:{b_coordinator.device_id}", "refused:record_not_found") in outcomes
    assert (f"device:{north_coordinator.device_id}", "approved") in outcomes


def test_a_review_needs_its_comment_and_keeps_it_out_of_the_audit(world: World) -> None:
    org = world.org("Org A")
    north = world.enrol(org, "collector", "north")
    envelope = north.envelope()
    world.push(north, envelope)
    coordinator = world.enrol(org, "coordinator")
    path = f"/v1/office/records/{envelope.id}:review"

    def review(body: dict[str, Any]) -> httpx.Response:
        return world.client.post(path, json=body, headers=coordinator.auth)

    for state in ("has_issues", "rejected"):
        missing = review({"state": state})
        assert missing.status_code == 422 and "comment" in missing.text
        blank = review({"state": state, "comment": "   "})
        assert blank.status_code == 422 and "comment" in blank.text
    too_long = review({"state": "has_issues", "comment": "x" * 501})
    assert too_long.status_code == 422 and "comment" in too_long.text
    assert review({"state": "received"}).status_code == 422
    ok = review({"state": "has_issues", "comment": COMMENT})
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "has_issues" and ok.json()["revision"] == envelope.revision
    [row] = listed(world, coordinator, status="has_issues").json()["records"]
    assert row["id"] == str(envelope.id)
    audit = str(world.storage.list_audit())
    assert "Quxplorin" not in audit and "has_issues" in audit


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
