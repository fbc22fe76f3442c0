"""The office's people-not-rows API over real HTTP (uvicorn on 127.0.0.1), on SQLite and
PostgreSQL: who may list and decide duplicate pairs (case managers and admins; not trainers,
collectors or coordinators) and count people (the office roles), regional and organisation
scoping (another's pair is a 404, as one that does not exist), and an audit log holding
counts and decisions only, never a digest."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from fieldapp import crypto
from sync.protocol import RecordEnvelope
from tests.server._harness import Phone, World

KEY = crypto.random_key()


def with_match(
    phone: Phone, digests: dict[str, str], subject: str = "", stats: dict[str, Any] | None = None
) -> RecordEnvelope:
    keys = [{"subject": subject, "kind": k, "digest": d} for k, d in digests.items()]
    return phone.envelope(match=keys, stats=stats)


def pushed_pair(world: World, phone: Phone) -> str:
    """Two records of one victim, a typo in the family name; the pair's id."""
    one = with_match(phone, crypto.victim_match_keys(KEY, "Ana", "Lima", "2001-02-03"))
    two = with_match(phone, crypto.victim_match_keys(KEY, "Ana", "Lina", "2001-02-03"))
    response = world.push(phone, one, two)
    assert response.status_code == 200, response.text
    assert {o["status"] for o in response.json()["outcomes"]} == {"accepted"}
    return "~".join(sorted((str(one.id), str(two.id))))


def get(world: World, phone: Phone, path: str, **params: Any) -> httpx.Response:
    return world.client.get(path, params=params, headers=phone.auth)


def post(world: World, phone: Phone, path: str, body: Any = None) -> httpx.Response:
    return world.client.post(path, json=body, headers=phone.auth)


def test_only_case_managers_and_admins_list_and_decide_duplicates(world: World) -> None:
    org = world.org("Org A")
    pair = pushed_pair(world, world.enrol(org, "collector", "north"))
    merge = f"/v1/office/duplicates/{pair}:merge"
    for role in ("trainer", "collector", "coordinator"):
        phone = world.enrol(org, role, "north")  # type: ignore[arg-type]
        assert get(world, phone, "/v1/office/duplicates").status_code == 403
        assert post(world, phone, merge).status_code == 403
        assert post(world, phone, f"/v1/office/duplicates/{pair}:dismiss").status_code == 403
    assert get(world, world.enrol(org, "trainer"), "/v1/office/people", form="x").status_code == 403

    case_manager = world.enrol(org, "case_manager", "north")
    listed = get(world, case_manager, "/v1/office/duplicates")
    assert listed.status_code == 200
    [found] = listed.json()["pairs"]
    assert found["pair"] == pair and found["shared"] == ["given_dob"]
    assert all("sealed" not in r and r["stats"] for r in found["records"])
    # Another region's or organisation's office sees nothing and decides nothing.
    south = world.enrol(org, "case_manager", "south")
    stranger = world.enrol(world.org("Org B"), "admin")
    for outsider in (south, stranger):
        assert get(world, outsider, "/v1/office/duplicates").json()["pairs"] == []
        refused = post(world, outsider, merge)
        assert (refused.status_code, refused.json()["error"]) == (404, "pair_not_found")
    assert post(world, case_manager, merge, {"keep": str(uuid.uuid4())}).status_code == 422
    assert post(world, case_manager, "/v1/office/duplicates/not-a-pair:merge").status_code == 404

    decided = post(world, case_manager, merge)
    assert decided.status_code == 200 and decided.json()["decision"] == "merged"
    assert get(world, case_manager, "/v1/office/duplicates").json()["pairs"] == []
    records = get(world, case_manager, "/v1/office/records").json()["records"]
    assert sorted(bool(r.get("duplicate_of")) for r in records) == [False, True]

    audit = [(e.action, e.outcome) for e in world.storage.list_audit(org.id)]
    assert ("duplicates_list", "ok:1") in audit and ("duplicate_decision", "merged") in audit
    assert ("duplicate_decision", "refused:pair_not_found") in audit
    text = str(world.storage.list_audit())
    digests = crypto.victim_match_keys(KEY, "Ana", "Lima", "2001-02-03").values()
    assert not any(d in text for d in digests) and "Ana" not in text


def test_coordinators_count_people_and_confirm_same_name_pairs(world: World) -> None:
    org = world.org("Org A")
    trainer = world.enrol(org, "trainer", "north")
    for subject, organisation in ((str(uuid.uuid4()), "Court"), (str(uuid.uuid4()), "Police")):
        keys = crypto.participant_match_keys(KEY, "Ana Lima", organisation, None)
        stats = {"age": 30, "sex": "female", "children": [{"_id": subject, "child_age": 5}]}
        pushed = world.push(trainer, with_match(trainer, keys, subject, stats))
        assert pushed.json()["outcomes"][0]["status"] == "accepted", pushed.text
    coordinator = world.enrol(org, "coordinator")
    people = get(world, coordinator, "/v1/office/people", form="screening").json()
    assert (people["attendances"], people["people"]) == (2, 2)
    [pair] = people["to_confirm"]
    path = f"/v1/office/people/{pair['pair']}:confirm"
    assert post(world, world.enrol(org, "trainer", "north"), path).status_code == 403
    assert post(world, world.enrol(org, "coordinator", "south"), path).status_code == 404
    assert post(world, coordinator, path).json()["decision"] == "confirmed"
    people = get(world, coordinator, "/v1/office/people", form="screening").json()
    assert (people["attendances"], people["people"], people["to_confirm"]) == (2, 1, [])
