"""What the centre does for a relay (issue #11), through the real app on loopback: it
verifies each forwarded envelope with its signer's enrolled key, takes only devices of the
relay's organisation and region, stores the hops, and lets only relays pass enrolments up."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from fieldapp import crypto
from sync.protocol import PushRequest, RecordEnvelope, RelayHop
from sync.server.auth import enrol_code_hash
from tests.server._harness import Phone, World


def _forward(world: World, relay: Phone, envelopes: list[RecordEnvelope], hops: Any) -> Any:
    body = PushRequest(records=envelopes, hops=hops).model_dump_json()
    response = world.client.post(
        "/v1/records:push",
        content=body,
        headers={**relay.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["outcomes"]


def test_a_relay_forwards_only_its_regions_devices_envelopes_verified_with_their_keys(
    world: World,
) -> None:
    org = world.org("Relayed")
    relay = world.enrol(org, "relay", "north")
    phone = world.enrol(org, "trainer", "north")
    southern = world.enrol(org, "trainer", "south")
    hop = RelayHop(node=relay.device_id, received_at="2026-12-04T10:00:00+00:00")
    mine, theirs = phone.envelope(), southern.envelope()
    forged = phone.envelope()
    forged = forged.model_copy(update={"stats": {**forged.stats, "age": 99}})  # not as signed
    unknown = phone.envelope(device_id="dev-nobody")
    outcomes = _forward(world, relay, [mine, theirs, forged, unknown], [[hop]] * 4)
    assert [o["status"] for o in outcomes] == ["accepted", "rejected", "rejected", "rejected"]
    assert [o["errors"][0]["code"] for o in outcomes[1:]] == [
        "device_mismatch", "bad_signature", "device_mismatch",
    ]  # fmt: skip
    [stored] = world.storage.list_revisions(org.id, mine.id)
    assert (stored.device_id, stored.pushed_by) == (phone.device_id, relay.device_id)
    assert stored.hops[0]["node"] == relay.device_id

    # A revoked device's envelopes are refused through a relay as they are from the device.
    world.storage.revoke_device(phone.device_id, stored.received_at)
    [late] = _forward(world, relay, [phone.envelope()], [[hop]])
    assert late["errors"][0]["code"] == "device_mismatch"


def test_a_device_may_neither_forward_others_envelopes_nor_claim_hops(world: World) -> None:
    org = world.org("Direct")
    phone = world.enrol(org, "collector", "north")
    other = world.enrol(org, "collector", "north")
    hop = RelayHop(node="made-up", received_at="2026-12-04T10:00:00+00:00")
    own, others = phone.envelope(), other.envelope()
    outcomes = _forward(world, phone, [own, others], [[hop], [hop]])
    assert [o["status"] for o in outcomes] == ["accepted", "rejected"]
    [stored] = world.storage.list_revisions(org.id, own.id)
    assert stored.hops == ()


def test_only_a_relay_passes_an_enrolment_up_and_only_for_a_code_of_its_region(
    world: World,
) -> None:
    org = world.org("Regions")
    relay = world.enrol(org, "relay", "north")
    admin_phone = world.enrol(org, "admin", None)

    def relay_enrol(caller: Phone, code: str) -> httpx.Response:
        key = crypto.SigningKey.generate()
        return world.client.post(
            "/v1/relay/enrol",
            json={
                "code": code,
                "device_id": f"dev-{uuid.uuid4().hex[:12]}",
                "device_public_key": base64.b64encode(key.public_key).decode(),
                "device_label": "",
            },
            headers=caller.auth,
        )

    north = world.issue(org.id, "collector", "north").code
    assert relay_enrol(admin_phone, north).status_code == 403
    south = relay_enrol(relay, world.issue(org.id, "collector", "south").code)
    assert (south.status_code, south.json()["error"]) == (403, "enrol_code_invalid")
    answer = relay_enrol(relay, north)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["region"]) == ("collector", "north")


def test_a_regional_relay_asking_below_gets_its_district_relays_codes_each_naming_its_relay(
    world: World,
) -> None:
    org = world.org("Districts")
    regional = world.enrol(org, "relay", "north")
    other = world.enrol(org, "relay", "north")
    district = f"dev-{uuid.uuid4().hex[:12]}"
    enrolled = world.client.post(
        "/v1/relay/enrol",
        json={
            "code": world.issue(org.id, "relay", "north", relay_id=regional.device_id).code,
            "device_id": district,
            "device_public_key": base64.b64encode(crypto.SigningKey.generate().public_key).decode(),
            "device_label": "district",
        },
        headers=regional.auth,
    )
    assert enrolled.status_code == 200, enrolled.text
    own = world.issue(org.id, "collector", "north", relay_id=regional.device_id).code
    below = world.issue(org.id, "collector", "north", relay_id=district).code

    def codes(caller: Phone, **params: str) -> list[dict[str, Any]]:
        response = world.client.get("/v1/relay/codes", params=params, headers=caller.auth)
        assert response.status_code == 200, response.text
        return response.json()["codes"]

    # As before for a relay that does not ask: its own codes only, in the same JSON (an
    # older relay refuses a field it does not know).
    [mine] = codes(regional)
    assert mine["code_hash"] == enrol_code_hash(own) and "relay_id" not in mine
    named = {c["code_hash"]: c.get("relay_id") for c in codes(regional, below="true")}
    assert named == {enrol_code_hash(own): None, enrol_code_hash(below): district}
    # Another relay of the region never gets them.
    assert codes(other, below="true") == []
