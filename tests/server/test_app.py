"""The server app over real HTTP (uvicorn on 127.0.0.1): enrolment, push outcomes and
receipts, pull paging, record reads, audit, and malformed input. Core flows run on SQLite and
PostgreSQL (the storage suite's `backend` fixture; PostgreSQL is skipped when unreachable)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import check
from fieldapp.forms.values import split_by_sensitivity
from sync.protocol import (
    MAX_FIELD_ERRORS,
    ChangesPage,
    PushResponse,
    Receipt,
    RecordChange,
    RecordView,
)
from sync.server import admin
from sync.server.app import create_app
from sync.server.keys import ServerKeyError
from sync.server.serve import uvicorn_server
from sync.server.settings import ServerSettings
from sync.server.storage import open_storage
from tests._wait import wait_until
from tests.server._harness import CANARY, FORM, STATS, World, push_body, revision, running
from tests.test_builtin_forms import TODAY, TRAINING_VALID, VICTIM_VALID


@pytest.fixture
def world(backend, tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[World]:
    settings = ServerSettings(data_dir=tmp_path / "server", database_url=backend.url)
    app = create_app(settings, storage=backend.storage)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key)


@pytest.fixture
def sqlite_world(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[World]:
    """On SQLite only, with the app owning its storage (as `fieldapp serve` runs it)."""
    settings = ServerSettings(data_dir=tmp_path / "server")
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key)


def outcomes(response: httpx.Response) -> PushResponse:
    assert response.status_code == 200, response.text
    return PushResponse.model_validate_json(response.content)


def verify_receipt(receipt: Receipt | None, public_key: bytes) -> None:
    assert receipt is not None
    crypto.verify(public_key, receipt.signature, receipt.signing_bytes())


# --- basics -----------------------------------------------------------------------------------


def test_health_and_openapi_are_served(sqlite_world: World) -> None:
    health = sqlite_world.client.get("/v1/health")
    assert health.json() == {"status": "ok", "protocol": 1}
    spec = sqlite_world.client.get("/openapi.json").json()
    assert {"/v1/records:push", "/v1/changes", "/v1/enrol"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_unknown_route_is_an_error_body(sqlite_world: World) -> None:
    response = sqlite_world.client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- enrolment --------------------------------------------------------------------------------


def enrol_request(code: str, device_id: str, key: crypto.SigningKey) -> dict[str, str]:
    return {
        "code": code,
        "device_id": device_id,
        "device_public_key": base64.b64encode(key.public_key).decode(),
    }


def test_enrol_returns_a_working_token_and_the_server_key(world: World) -> None:
    org = world.org("Enrol Org")
    issued = world.issue(org.id, "coordinator", "north")
    response = world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "phone-1", crypto.SigningKey.generate())
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["organisation_id"], body["role"], body["region"]) == (
        org.id,
        "coordinator",
        "north",
    )
    assert body["recipients"] == [world.org_key.recipient.model_dump(mode="json")]
    assert len(base64.b64decode(body["server_public_key"])) == 32
    changes = world.client.get("/v1/changes", headers={"Authorization": f"Bearer {body['token']}"})
    assert changes.status_code == 200


def test_enrol_code_typed_loosely_still_works(sqlite_world: World) -> None:
    org = sqlite_world.org("Loose")
    issued = sqlite_world.issue(org.id, "collector")
    typed = issued.code.lower().replace("-", " ")
    response = sqlite_world.client.post(
        "/v1/enrol", json=enrol_request(typed, "phone-x", crypto.SigningKey.generate())
    )
    assert response.status_code == 200, response.text


def test_expired_enrolment_code_is_refused(world: World) -> None:
    org = world.org("Expired Org")
    issued = world.issue(org.id, "collector", now=datetime.now(UTC) - timedelta(hours=25))
    response = world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "late-phone", crypto.SigningKey.generate())
    )
    assert response.status_code == 403
    assert response.json()["error"] == "enrol_code_expired"


def test_unknown_enrolment_code_is_refused(sqlite_world: World) -> None:
    response = sqlite_world.client.post(
        "/v1/enrol",
        json=enrol_request("AAAA-BBBB-CCCC-DDDD", "phone", crypto.SigningKey.generate()),
    )
    assert response.status_code == 403
    assert response.json()["error"] == "enrol_code_invalid"


def test_code_used_by_one_device_is_refused_to_another(world: World) -> None:
    org = world.org("Reuse Org")
    issued = world.issue(org.id, "collector")
    first = world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "phone-a", crypto.SigningKey.generate())
    )
    assert first.status_code == 200
    second = world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "phone-b", crypto.SigningKey.generate())
    )
    assert second.status_code == 409
    assert second.json()["error"] == "enrol_code_used"
    assert "token" not in second.text


def test_re_enrolling_the_same_device_and_key_is_idempotent(world: World) -> None:
    """A connection cut during enrolment does not burn the code: the retry gets a new token,
    and the lost one stops working."""
    org = world.org("Retry Org")
    issued = world.issue(org.id, "trainer")
    key = crypto.SigningKey.generate()
    first = world.client.post("/v1/enrol", json=enrol_request(issued.code, "phone-r", key))
    again = world.client.post("/v1/enrol", json=enrol_request(issued.code, "phone-r", key))
    assert first.status_code == again.status_code == 200
    old, new = first.json()["token"], again.json()["token"]
    assert old != new
    assert world.client.get("/v1/changes", headers={"Authorization": f"Bearer {new}"}).is_success
    stale = world.client.get("/v1/changes", headers={"Authorization": f"Bearer {old}"})
    assert stale.status_code == 401
    other_key = world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "phone-r", crypto.SigningKey.generate())
    )
    assert other_key.status_code == 409


def test_tokens_and_codes_are_stored_only_as_hashes(sqlite_world: World) -> None:
    org = sqlite_world.org("Hash Org")
    issued = sqlite_world.issue(org.id, "collector")
    body = sqlite_world.client.post(
        "/v1/enrol", json=enrol_request(issued.code, "phone-h", crypto.SigningKey.generate())
    ).json()
    raw = b"".join(p.read_bytes() for p in sqlite_world_db_files(sqlite_world))
    assert body["token"].encode() not in raw
    assert issued.code.encode() not in raw
    assert issued.code.replace("-", "").encode() not in raw


def sqlite_world_db_files(world: World) -> list[Path]:
    path = Path(world.storage._path)  # type: ignore[attr-defined]
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


# --- push -------------------------------------------------------------------------------------


def test_push_accepts_and_signs_a_receipt(world: World) -> None:
    org = world.org("Push Org")
    phone = world.enrol(org)
    envelope = phone.envelope()
    result = outcomes(world.push(phone, envelope)).outcomes
    assert [o.status for o in result] == ["accepted"]
    receipt = result[0].receipt
    assert receipt is not None
    assert (receipt.record_id, receipt.revision) == (envelope.id, envelope.revision)
    assert receipt.content_digest == envelope.content_digest
    verify_receipt(receipt, phone.server_public_key)
    forged = receipt.model_copy(update={"revision": revision(2)})
    with pytest.raises(crypto.SignatureError):
        verify_receipt(forged, phone.server_public_key)


def test_push_again_is_a_duplicate_with_the_same_receipt(world: World) -> None:
    org = world.org("Dup Org")
    phone = world.enrol(org)
    envelope = phone.envelope()
    first = outcomes(world.push(phone, envelope)).outcomes[0]
    again = outcomes(world.push(phone, envelope, envelope)).outcomes
    assert [o.status for o in again] == ["duplicate", "duplicate"]
    assert again[0].receipt == first.receipt
    assert admin.stats(world.storage, org.id)["records"] == 1


def test_same_revision_with_other_content_is_rejected(world: World) -> None:
    org = world.org("Reuse Rev Org")
    phone = world.enrol(org)
    envelope = phone.envelope()
    outcomes(world.push(phone, envelope))
    changed = phone.envelope(record_id=envelope.id, rev=envelope.revision, stats={"age": 20})
    outcome = outcomes(world.push(phone, changed)).outcomes[0]
    assert outcome.status == "rejected"
    assert outcome.errors[0].code == "revision_reused"


def test_stale_edit_is_a_conflict_visible_to_both_devices(world: World) -> None:
    org = world.org("Conflict Org")
    alice, bob = world.enrol(org), world.enrol(org, "case_manager")  # bob: the office
    first = alice.envelope()
    outcomes(world.push(alice, first))
    bob_edit = bob.envelope(record_id=first.id, rev=revision(2), base=first.revision)
    assert outcomes(world.push(bob, bob_edit)).outcomes[0].status == "accepted"
    alice_edit = alice.envelope(record_id=first.id, rev=revision(2), base=first.revision)
    conflict = outcomes(world.push(alice, alice_edit)).outcomes[0]
    assert conflict.status == "conflict"
    assert conflict.current_revision == bob_edit.revision
    verify_receipt(conflict.receipt, alice.server_public_key)
    assert alice.server_public_key == bob.server_public_key
    for phone in (alice, bob):
        page = ChangesPage.model_validate_json(
            world.client.get("/v1/changes", headers=phone.auth).content
        )
        flagged = [c for c in page.changes if isinstance(c, RecordChange) and c.data.conflict]
        assert flagged, f"{phone.device_id} does not see the conflict"
        assert alice_edit.revision in flagged[-1].data.model_dump_json()


def test_the_office_resolves_a_conflict_over_http_and_both_devices_learn_it(
    world: World,
) -> None:
    org = world.org("Resolving Org")
    alice, bob = world.enrol(org, "collector", "north"), world.enrol(org, "admin", "north")
    case_manager = world.enrol(org, "case_manager")
    first = alice.envelope()
    outcomes(world.push(alice, first))
    bob_edit = bob.envelope(record_id=first.id, rev=revision(2), base=first.revision)
    alice_edit = alice.envelope(record_id=first.id, rev=revision(2), base=first.revision)
    outcomes(world.push(bob, bob_edit))
    assert outcomes(world.push(alice, alice_edit)).outcomes[0].status == "conflict"
    path = f"/v1/admin/records/{first.id}:resolve"

    def resolve(keep: str) -> httpx.Response:
        return world.client.post(path, json={"keep_revision": keep}, headers=case_manager.auth)

    for refused in (first.revision, revision(2)):  # an ancestor; a revision never stored
        answer = resolve(refused)
        assert (answer.status_code, answer.json()["error"]) == (409, "not_resolvable")
    missing = world.client.post(
        f"/v1/admin/records/{alice.envelope().id}:resolve",
        json={"keep_revision": alice_edit.revision},
        headers=case_manager.auth,
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "record_not_found")
    by_collector = world.client.post(
        path, json={"keep_revision": alice_edit.revision}, headers=alice.auth
    )
    assert by_collector.status_code == 403

    answer = resolve(alice_edit.revision)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": str(first.id),
        "form_id": FORM.id,
        "head_revision": alice_edit.revision,
        "deleted": False,
        "in_conflict": False,
    }
    assert resolve(alice_edit.revision).json() == answer.json()  # idempotent
    for phone in (alice, bob):
        page = ChangesPage.model_validate_json(
            world.client.get("/v1/changes", headers=phone.auth).content
        )
        latest = [c for c in page.changes if isinstance(c, RecordChange)][-1]
        assert (latest.data.resolved, latest.data.conflict) == (True, False)
        assert latest.data.head_revision == alice_edit.revision
    view = RecordView.model_validate_json(
        world.client.get(f"/v1/records/{first.id}", headers=case_manager.auth).content
    )
    assert (view.head_revision, view.in_conflict, view.siblings) == (alice_edit.revision, False, [])
    assert len(view.revisions) == 3  # the superseded version is still there, as signed
    outcomes_audited = [
        e.outcome
        for e in world.storage.list_audit(org.id)
        if e.action == "resolve_conflict" and e.actor == f"device:{case_manager.device_id}"
    ]
    assert outcomes_audited == [
        "refused:not_resolvable",
        "refused:not_resolvable",
        "refused:record_not_found",
        "ok",
        "unchanged",
    ]


CHILD_IDS = ("0b6f4c1e-4f0a-4d55-9d43-3c1f1c1f2a01", "7d2b0c0e-2a3e-4b1c-8f6a-5e9d8c7b6a02")


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("bad_signature", "bad_signature", "signature"),
        ("unknown_form_version", "unknown_form_version", "form_version"),
        ("sensitive_in_stats", "not_statistical", "given_name"),
        ("bad_choice", "choice", "sex"),
        ("bad_type", "type", "age"),
        ("unknown_key", "unknown_field", "favourite_colour"),
        ("sensitive_in_repeat", "not_statistical", "child_name"),
        ("text_as_instance_id", "type", "children"),
        ("other_device", "device_mismatch", "device_id"),
        ("sealed_withdrawal", "withdrawal_sealed", "sealed"),
        ("sealed_to_a_foreign_key", "unknown_recipient", "sealed"),
        ("sealed_malformed", "sealed_malformed", "sealed"),
    ],
)
def test_push_rejects_with_field_errors_and_stores_nothing(
    world: World, case: str, code: str, field: str
) -> None:
    org = world.org(f"Reject {case}")
    phone = world.enrol(org)
    withdrawal = phone.envelope().model_copy(update={"consent_withdrawn": True})
    garbled = phone.envelope().model_copy(update={"sealed": b"\x02not an envelope"})
    envelopes = {
        "bad_signature": phone.envelope().model_copy(update={"signature": b"\1" * 64}),
        "unknown_form_version": phone.envelope(form=(FORM.id, "99")),
        "sensitive_in_stats": phone.envelope(stats={**STATS, "given_name": CANARY}),
        "bad_choice": phone.envelope(stats={"sex": "robot"}),
        "bad_type": phone.envelope(stats={"age": "nineteen"}),
        "unknown_key": phone.envelope(stats={"favourite_colour": "red"}),
        "sensitive_in_repeat": phone.envelope(
            stats={"children": [{"_id": CHILD_IDS[0], "child_age": 3, "child_name": CANARY}]}
        ),
        "text_as_instance_id": phone.envelope(
            stats={"children": [{"_id": CANARY, "child_age": 3}]}
        ),
        "other_device": phone.envelope(device_id="someone-else"),
        "sealed_withdrawal": withdrawal.model_copy(  # it must not carry what it withdraws
            update={"signature": phone.key.sign(withdrawal.signing_bytes())}
        ),
        "sealed_to_a_foreign_key": phone.envelope(
            sealed_to=[crypto.OrgKeyPair.generate("X25519").recipient]
        ),
        "sealed_malformed": garbled.model_copy(
            update={"signature": phone.key.sign(garbled.signing_bytes())}
        ),
    }
    good = phone.envelope()
    result = outcomes(world.push(phone, envelopes[case], good)).outcomes
    assert [o.status for o in result] == ["rejected", "accepted"]
    assert [(e.code, e.field) for e in result[0].errors] == [(code, field)]
    assert result[0].receipt is None
    assert admin.stats(world.storage, org.id)["records"] == 1
    audit = [e for e in world.storage.list_audit(org_id=org.id) if e.action == "push"]
    assert any(e.outcome == f"rejected:{code}" for e in audit)


def test_the_sealed_part_must_be_sealed_to_exactly_the_organisations_keys(
    world: World, org_key: crypto.OrgKeyPair
) -> None:
    """The full current set is accepted (in any order); a subset that misses one of the
    organisation's keys is refused (the office holding it could not open the record), and so
    is an envelope that adds a key that is not the organisation's."""
    second = crypto.OrgKeyPair.generate("X25519")
    foreign = crypto.OrgKeyPair.generate("X25519")
    org = admin.create_org(
        world.storage, "Two Keys Org", recipients=[org_key.recipient, second.recipient]
    )
    admin.publish_form(world.storage, FORM, org=org.id)
    phone = world.enrol(org)
    envelopes = [
        phone.envelope(sealed_to=[second.recipient, org_key.recipient]),
        phone.envelope(sealed_to=[org_key.recipient]),
        phone.envelope(sealed_to=[org_key.recipient, second.recipient, foreign.recipient]),
    ]
    result = outcomes(world.push(phone, *envelopes)).outcomes
    assert [o.status for o in result] == ["accepted", "rejected", "rejected"]
    missing, unknown = result[1].errors, result[2].errors
    assert [(e.field, e.code) for e in missing] == [("sealed", "missing_recipient")]
    assert second.recipient.key_id in missing[0].message
    assert [(e.field, e.code) for e in unknown] == [("sealed", "unknown_recipient")]
    assert foreign.recipient.key_id in unknown[0].message
    assert admin.stats(world.storage, org.id)["records"] == 1


def test_repeat_stats_are_accepted(world: World) -> None:
    org = world.org("Repeat Org")
    phone = world.enrol(org)
    stats = {**STATS, "children": [{"_id": CHILD_IDS[0], "child_age": 3}, {"_id": CHILD_IDS[1]}]}
    assert outcomes(world.push(phone, phone.envelope(stats=stats))).outcomes[0].status == (
        "accepted"
    )


def test_globally_published_form_is_accepted_for_every_org(world: World) -> None:
    admin.publish_form(world.storage, FORM.model_copy(update={"version": "g1"}))
    org = world.org("Global Form Org", own_form=False)
    phone = world.enrol(org)
    envelope = phone.envelope(form=(FORM.id, "g1"))
    assert outcomes(world.push(phone, envelope)).outcomes[0].status == "accepted"


# --- statistics that cannot carry identity -----------------------------------------------------

BANDS = FormSpec.model_validate(
    {
        "id": "bands",
        "version": "1",
        "title": {"en": "Bands"},
        "children": [
            {"name": "given_name", "type": "text"},
            {"name": "age_years", "type": "integer"},  # sealed
            {
                "name": "age_group",
                "type": "calculate",
                "calculation": "if(${age_years} < 18, 'child', 'adult')",
                "sensitivity": "statistical",
            },
            {
                "kind": "repeat",
                "name": "children",
                "children": [
                    {"name": "child_age", "type": "integer", "sensitivity": "statistical"},
                    {
                        "name": "child_age_next_year",
                        "type": "calculate",
                        "calculation": "${child_age} + 1",
                        "sensitivity": "statistical",
                    },
                ],
            },
        ],
    }
)
BANDS_VALUES = {
    "given_name": CANARY,
    "age_years": 34,
    "children": [{"_id": CHILD_IDS[0], "child_age": 3}, {"_id": CHILD_IDS[1], "child_age": 7}],
}
HONEST = {"victim_screening": VICTIM_VALID, "training_attendance": TRAINING_VALID}


def honest_stats(spec: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The stats an honest device sends: its answers checked (calculations computed), split."""
    checked = check(spec, values, today=TODAY)
    assert checked.ok, checked.errors
    return split_by_sensitivity(spec, checked.values)[0]


def tampered(stats: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`stats` with the value at `path` (`name` or `repeat[index].name`) replaced."""
    changed = json.loads(json.dumps(stats))
    level = changed
    *outer, name = path.split(".")
    for step in outer:
        repeat, index = step.rstrip("]").split("[")
        level = level[repeat][int(index)]
    level[name] = value
    return changed


@pytest.mark.parametrize(
    ("form_id", "path", "value", "code"),
    [
        ("victim_screening", "is_minor", "Jane Doe", "type"),  # a boolean from a sealed age
        ("training_attendance", "event_days", 999, "calculation_mismatch"),  # dates give 3
        ("training_attendance", "province", "FR-IDF", "choice"),  # not a Senegalese province
        ("training_attendance", "participants[0].pre_score", 250, "constraint"),
        ("training_attendance", "participants[1].attendance", ["day1", "day5"], "constraint"),
        ("bands", "age_group", "Jane Doe", "choice"),  # not one of its if() branches
        ("bands", "children[1].child_age_next_year", 40, "calculation_mismatch"),
    ],
)
def test_statistics_a_modified_client_forges_are_refused_by_field(
    sqlite_world: World, form_id: str, path: str, value: Any, code: str
) -> None:
    org = sqlite_world.org(f"Forged {form_id} {path}")
    admin.publish_form(sqlite_world.storage, BANDS, org=org.id)
    phone = sqlite_world.enrol(org)
    forms = {**load_builtin_forms(), BANDS.id: BANDS}
    spec = forms[form_id]
    honest = honest_stats(spec, HONEST.get(form_id, BANDS_VALUES))
    form = (spec.id, spec.version)
    forged = phone.envelope(form=form, stats=tampered(honest, path, value))
    result = outcomes(sqlite_world.push(phone, forged, phone.envelope(form=form, stats=honest)))
    assert [o.status for o in result.outcomes] == ["rejected", "accepted"]
    errors = result.outcomes[0].errors
    assert [(e.code, e.path) for e in errors] == [(code, path)]
    assert errors[0].message.startswith(f"{path.split('.')[-1]!r}: ")
    assert admin.stats(sqlite_world.storage, org.id)["records"] == 1


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [("event_days", 999, "calculation_mismatch"), ("participants[0].pre_score", 250, "constraint")],
)
def test_a_forged_statistic_is_refused_after_honest_records_with_the_same_inputs(
    sqlite_world: World, path: str, value: Any, code: str
) -> None:
    """The server remembers what a re-run gave for the statistics it reads: a forged value
    after honest records with the same inputs, in this push and the next, is still refused."""
    org = sqlite_world.org(f"Remembered {path}")
    phone = sqlite_world.enrol(org)
    spec = load_builtin_forms()["training_attendance"]
    honest = honest_stats(spec, TRAINING_VALID)
    form = (spec.id, spec.version)
    forged = phone.envelope(form=form, stats=tampered(honest, path, value))
    first = outcomes(sqlite_world.push(phone, phone.envelope(form=form, stats=honest), forged))
    again = outcomes(sqlite_world.push(phone, phone.envelope(form=form, stats=honest), forged))
    for result in (first, again):
        assert [o.status for o in result.outcomes] == ["accepted", "rejected"]
        assert [(e.code, e.path) for e in result.outcomes[1].errors] == [(code, path)]


def test_a_form_published_before_the_checks_is_refused_not_stored(sqlite_world: World) -> None:
    """A leaky form version already in a server's database: its records are refused clearly."""
    org = sqlite_world.org("Old Leaky Form")
    leaky = BANDS.model_dump(mode="json") | {"id": "leaky"}
    leaky["children"][2]["calculation"] = "${given_name}"
    sqlite_world.storage.publish_form(org.id, "leaky", "1", leaky, datetime.now(UTC))
    phone = sqlite_world.enrol(org)
    envelope = phone.envelope(form=("leaky", "1"), stats={"age_group": CANARY})
    result = outcomes(sqlite_world.push(phone, envelope)).outcomes[0]
    assert result.status == "rejected"
    assert [(e.code, e.field) for e in result.errors] == [("form_refused", "form_version")]
    assert "'age_group' is statistical" in result.errors[0].message
    assert admin.stats(sqlite_world.storage, org.id)["records"] == 0


def test_a_record_with_100000_unknown_fields_gets_a_small_answer(sqlite_world: World) -> None:
    """It used to be answered with 10.6 MB naming every one of them."""
    org = sqlite_world.org("Many Fields Org")
    phone = sqlite_world.enrol(org)
    stats = {**STATS, **{f"f{index}": 0 for index in range(100_000)}}
    response = sqlite_world.push(phone, phone.envelope(stats=stats))
    assert len(response.content) < 20_000
    errors = outcomes(response).outcomes[0].errors
    assert len(errors) == MAX_FIELD_ERRORS + 1
    assert {e.code for e in errors[:-1]} == {"unknown_field"}
    assert (errors[-1].code, errors[-1].message) == (
        "more_errors",
        f"... and {100_000 - MAX_FIELD_ERRORS} more problems",
    )


def test_a_422_names_a_bounded_number_of_problems(sqlite_world: World) -> None:
    org = sqlite_world.org("Many Bad Records Org")
    phone = sqlite_world.enrol(org)
    body = json.loads(push_body(*(phone.envelope() for _ in range(200))))
    for record in body["records"]:
        record["revision"] = "not-a-revision"
    response = sqlite_world.client.post("/v1/records:push", json=body, headers=phone.auth)
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert len(fields) == MAX_FIELD_ERRORS + 1
    assert fields[-1] == {
        "field": "",
        "path": "",
        "code": "more_errors",
        "message": f"... and {200 - MAX_FIELD_ERRORS} more problems",
    }


# --- pull -------------------------------------------------------------------------------------


def test_pull_pages_through_every_change_once(world: World) -> None:
    org = world.org("Pull Org")
    phone = world.enrol(org, "coordinator")
    for version in ("2", "3", "4"):
        admin.publish_form(world.storage, FORM.model_copy(update={"version": version}), org=org.id)
    for _ in range(3):
        outcomes(world.push(phone, phone.envelope()))
    seen: list[int] = []
    cursor, pages = 0, 0
    while True:
        response = world.client.get(
            "/v1/changes", params={"cursor": cursor, "limit": 2}, headers=phone.auth
        )
        page = ChangesPage.model_validate_json(response.content)
        pages += 1
        assert len(page.changes) <= 2
        seen += [c.seq for c in page.changes]
        assert page.next_cursor >= cursor
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert seen == sorted(set(seen))
    assert len(seen) >= 7  # 4 form versions + 3 records
    assert pages >= 4
    again = ChangesPage.model_validate_json(
        world.client.get("/v1/changes", params={"cursor": cursor}, headers=phone.auth).content
    )
    assert again.changes == [] and again.next_cursor == cursor


def test_forms_are_served_by_version(world: World) -> None:
    org = world.org("Forms Org")
    phone = world.enrol(org)
    response = world.client.get(f"/v1/forms/{FORM.id}/{FORM.version}", headers=phone.auth)
    assert response.status_code == 200
    assert response.json()["spec"] == FORM.model_dump(mode="json")
    missing = world.client.get(f"/v1/forms/{FORM.id}/404", headers=phone.auth)
    assert missing.status_code == 404


# --- record reads and audit -------------------------------------------------------------------


def test_record_read_returns_signed_revisions_and_is_audited(world: World) -> None:
    org = world.org("Read Org")
    collector, manager = world.enrol(org), world.enrol(org, "case_manager")
    envelope = collector.envelope()
    outcomes(world.push(collector, envelope))
    response = world.client.get(f"/v1/records/{envelope.id}", headers=manager.auth)
    assert response.status_code == 200, response.text
    view = RecordView.model_validate_json(response.content)
    assert view.revisions == [envelope]
    crypto.verify(collector.key.public_key, view.revisions[0].signature, envelope.signing_bytes())
    reads = [e for e in world.storage.list_audit(org_id=org.id) if e.action == "read_record"]
    assert [(e.device_id, e.record_id, e.outcome) for e in reads] == [
        (manager.device_id, str(envelope.id), "ok")
    ]


def test_audit_rows_hold_no_personal_data_or_stats(world: World) -> None:
    org = world.org("Audit Org")
    phone, manager = world.enrol(org), world.enrol(org, "case_manager")
    envelope = phone.envelope()
    outcomes(world.push(phone, envelope, phone.envelope(stats={"given_name": CANARY})))
    world.client.get(f"/v1/records/{envelope.id}", headers=manager.auth)
    entries = world.storage.list_audit(org_id=org.id, limit=1000)
    actions = {e.action for e in entries}
    assert {"create_org", "publish_form", "enrol_code", "enrol", "push", "read_record"} <= actions
    assert all(e.at.tzinfo is not None for e in entries)
    text = repr(entries)
    for value in (CANARY, "female", "2026-11-02", phone.token, manager.token):
        assert value not in text


def test_server_database_and_logs_hold_no_canary_or_token(
    sqlite_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    org = sqlite_world.org("Canary Org")
    phone = sqlite_world.enrol(org)
    records = [phone.envelope() for _ in range(5)]
    outcomes(sqlite_world.push(phone, *records))
    outcomes(sqlite_world.push(phone, phone.envelope(stats={"given_name": CANARY})))
    sqlite_world.client.post("/v1/records:push", content=b"{not json " + CANARY.encode())
    raw = b"".join(p.read_bytes() for p in sqlite_world_db_files(sqlite_world))
    assert CANARY.encode() not in raw
    assert CANARY not in caplog.text
    assert phone.token not in caplog.text


# --- malformed input --------------------------------------------------------------------------


def test_malformed_json_is_400_and_bad_shape_422(sqlite_world: World) -> None:
    org = sqlite_world.org("Malformed Org")
    phone = sqlite_world.enrol(org)
    headers = {**phone.auth, "Content-Type": "application/json"}
    not_json = sqlite_world.client.post("/v1/records:push", content=b"{oops", headers=headers)
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "malformed_json"
    envelope = json.loads(push_body(phone.envelope()))
    envelope["records"][0]["revision"] = "not-a-revision"
    envelope["records"][0]["stats"] = {"given_name": CANARY}
    bad = sqlite_world.client.post("/v1/records:push", json=envelope, headers=phone.auth)
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"] == "invalid_request"
    assert any(f["field"] == "revision" for f in body["fields"])
    assert CANARY not in bad.text  # input is never echoed back
    wrong_query = sqlite_world.client.get("/v1/changes?cursor=-1", headers=phone.auth)
    assert wrong_query.status_code == 422


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    """One server for the fuzzing examples (a fresh one per example would be too slow)."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    settings = ServerSettings(
        data_dir=data_dir, rate_limit_per_minute=100_000, rate_limit_burst=10_000
    )
    storage = open_storage(settings.database_url)
    app = create_app(settings, storage=storage)
    org = admin.create_org(storage, "Fuzz Org")
    issued = admin.enrol_code(
        storage, org.id, "admin", server_key=app.state.fieldapp.signing_key.public_key
    )
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = client.post(
            "/v1/enrol", json=enrol_request(issued.code, "fuzzer", crypto.SigningKey.generate())
        ).json()["token"]
        yield client, token
    storage.close()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/records:push", "/v1/enrol", "/v1/admin/enrol-codes"]),
    body=st.one_of(
        st.binary(max_size=200),
        _JSON.map(lambda v: json.dumps(v).encode()),
        _JSON.map(lambda v: json.dumps({"records": [v]}).encode()),
    ),
)
def test_no_malformed_body_gets_a_5xx(
    fuzz_target: tuple[httpx.Client, str], path: str, body: bytes
) -> None:
    client, token = fuzz_target
    response = client.post(
        path,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) >= {"error", "message"}


# --- server key and serving -------------------------------------------------------------------


def test_processes_on_one_database_share_one_signing_key(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server")
    first, second = create_app(settings), create_app(settings)
    try:
        assert first.state.fieldapp.key_id == second.state.fieldapp.key_id
        secret = settings.server_secret_path
        assert secret.stat().st_mode & 0o777 == 0o600
        elsewhere = ServerSettings(data_dir=tmp_path / "other", database_url=settings.database_url)
        with pytest.raises(ServerKeyError, match="copy that file"):
            create_app(elsewhere)
    finally:
        first.state.fieldapp.storage.close()
        second.state.fieldapp.storage.close()


def test_serve_runs_the_app_on_loopback(tmp_path: Path) -> None:
    server = uvicorn_server(ServerSettings(data_dir=tmp_path / "server"), port=0)
    assert server.config.host == "127.0.0.1"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:

        def started() -> bool:
            assert thread.is_alive(), "the server thread ended before it started"
            return bool(server.started)

        wait_until(started, 20, "the server to start", step=0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health").json()["status"] == "ok"
    finally:
        server.should_exit = True
        thread.join(20)


def test_a_server_fault_is_a_500_error_body_without_internals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server")
    storage = open_storage(settings.database_url)
    app = create_app(settings, storage=storage)
    with running(app) as url:
        storage.close()  # the database goes away under the running server
        response = httpx.get(f"{url}/v1/changes", headers={"Authorization": "Bearer t0k3n"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "the server failed to handle this request",
        "fields": [],
    }
    assert "StorageError" in caplog.text
    assert "t0k3n" not in caplog.text
    assert "storage is closed" not in caplog.text
