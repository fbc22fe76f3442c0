"""Authorisation matrix over every endpoint of the app (real HTTP, SQLite).

The endpoints are parametrised from the app's own routers (sync.server.routes.ROUTERS), so
an endpoint added without a matrix entry fails here. For each: no token, a garbage token and a
revoked token get 401; organisation B's admin on organisation A's data gets 403/404 (or its
own data only) and zero bytes of A's data; each role of A gets exactly what its role and
region allow, down to who may write A's record (its owner, and the office of its region).
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from fieldapp import crypto
from fieldapp.forms.files import FormFile
from sync.protocol import ROSTER_ROLES, PushResponse, RecordOutcome, Role
from sync.server import admin
from sync.server.app import create_app
from sync.server.auth import (
    OFFICE_ROLES,
    SEALED_READ_ROLES,
    enrol_code_hash,
    enrol_proof,
    enrol_proof_key,
    token_hash,
)
from sync.server.routes import ROUTERS
from sync.server.routes.referrals import REFER_ROLES
from sync.server.settings import ServerSettings
from sync.server.storage import ORG_WIDE_ROLES, Organisation
from tests.server import _referral_calls as referral
from tests.server._harness import (
    CANARY,
    FORM,
    Phone,
    World,
    chunk_manifest,
    push_body,
    revision,
    running,
)

ROLES: tuple[Role, ...] = (
    "collector", "trainer", "coordinator", "case_manager", "admin", "relay",
)  # fmt: skip
A_ONLY_VERSION = "a-only"
# A file attached to a version of A's only (content-addressed: asked for by its SHA-256).
A_FILE = f"name,label\n{CANARY.lower()},{CANARY}\n".encode()
A_FILE_SHA = hashlib.sha256(A_FILE).hexdigest()


@dataclass
class Matrix:
    world: World
    org_a: Organisation
    org_b: Organisation
    author: Phone  # A's collector (north) who pushed A's record
    record_id: uuid.UUID
    revision: str
    by_role: dict[Role, Phone]  # one device of A per role (collectors/trainers in north)
    revoked: Phone  # an A device, revoked
    b_admin: Phone

    def a_secrets(self) -> list[str]:
        """Strings that must never appear in what another organisation receives."""
        devices = [self.author, self.revoked, *self.by_role.values()]
        return [
            self.org_a.id,
            self.org_a.name,
            str(self.record_id),
            self.revision,
            A_ONLY_VERSION,
            CANARY,
            *(d.device_id for d in devices),
        ]


@pytest.fixture
def matrix(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[Matrix]:
    settings = ServerSettings(data_dir=tmp_path / "server", rate_limit_burst=10_000)
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        world = World(app, client, org_key)
        org_a, org_b = world.org("Org A"), world.org("Org B")
        admin.publish_form(
            world.storage, FORM.model_copy(update={"version": A_ONLY_VERSION}), org=org_a.id
        )
        ref = FormFile(file="places.csv", sha256=A_FILE_SHA, size=len(A_FILE))
        with_file = FORM.model_copy(update={"version": "a-file", "attachments": {"places": ref}})
        admin.publish_form(world.storage, with_file, org=org_a.id, files={A_FILE_SHA: A_FILE})
        author = world.enrol(org_a, "collector", "north")
        envelope = author.envelope(form=(FORM.id, A_ONLY_VERSION))
        pushed = world.push(author, envelope)
        assert pushed.json()["outcomes"][0]["status"] == "accepted"
        by_role = {
            role: world.enrol(
                org_a, role, "north" if role in ("collector", "trainer", "relay") else None
            )
            for role in ROLES
        }
        revoked = world.enrol(org_a, "admin")
        admin.revoke(world.storage, revoked.device_id)
        yield Matrix(
            world,
            org_a,
            org_b,
            author,
            envelope.id,
            envelope.revision,
            by_role,
            revoked,
            world.enrol(org_b, "admin"),
        )


# Each call makes one request to an endpoint, aimed at organisation A's data, with `headers`.
Call = Callable[[Matrix, Phone | None, dict[str, str]], httpx.Response]


def _health(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/health", headers=headers)


def _enrol(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    issued = m.world.issue(m.org_a.id, "collector")
    key = crypto.SigningKey.generate()
    body = {
        "code": issued.code,
        "device_id": f"new-{uuid.uuid4().hex[:8]}",
        "device_public_key": base64.b64encode(key.public_key).decode(),
    }
    return m.world.client.post("/v1/enrol", json=body, headers=headers)


def _push(m: Matrix, caller: Phone | None, headers: dict[str, str]) -> httpx.Response:
    signer = caller or m.author
    # Aimed at A's record: a new revision of it, based on A's head.
    envelope = signer.envelope(record_id=m.record_id, rev=f"2-{uuid.uuid4().hex}", base=m.revision)
    return m.world.client.post(
        "/v1/records:push",
        content=push_body(envelope),
        headers={**headers, "Content-Type": "application/json"},
    )


def _roster(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    # Sealed bytes the server cannot open; the key is new, so an allowed role stores it.
    entry = {"key": str(uuid.uuid4()), "sealed": base64.b64encode(CANARY.encode()).decode()}
    return m.world.client.put("/v1/team/roster", json={"entries": [entry]}, headers=headers)


def _check_receipts(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    asked = {"revisions": [{"id": str(m.record_id), "revision": m.revision}]}
    return m.world.client.post("/v1/receipts:check", json=asked, headers=headers)


def _changes(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/changes", headers=headers)


def _form(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get(f"/v1/forms/{FORM.id}/{A_ONLY_VERSION}", headers=headers)


def _form_file(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get(f"/v1/form-files/{A_FILE_SHA}", headers=headers)


def _record(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get(f"/v1/records/{m.record_id}", headers=headers)


def _enrol_code(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector", "region": "north"}, headers=headers
    )


def _revoke(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    target = m.world.enrol(m.org_a, "collector", "north")
    return m.world.client.post(f"/v1/admin/devices/{target.device_id}:revoke", headers=headers)


def _resolve(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    # A's record is not in conflict: keeping its head is the idempotent no-op.
    return m.world.client.post(
        f"/v1/admin/records/{m.record_id}:resolve",
        json={"keep_revision": m.revision},
        headers=headers,
    )


def _stats(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/admin/stats", headers=headers)


def _audit(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/admin/audit", headers=headers)


def _office_records(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/office/records", headers=headers)


def _review(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(
        f"/v1/office/records/{m.record_id}:review",
        json={"state": "has_issues", "comment": "the age is missing"},
        headers=headers,
    )


def _sealed(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get(f"/v1/office/records/{m.record_id}/sealed", headers=headers)


def _victim_pair(m: Matrix) -> str:
    """Two new records of A's author sharing a victim match digest: their pair."""
    shared = {"subject": "", "kind": "name", "digest": uuid.uuid4().hex}
    one, two = (m.author.envelope(match=[shared]) for _ in range(2))
    assert m.world.push(m.author, one, two).status_code == 200
    return "~".join(sorted((str(one.id), str(two.id))))


def _person_pair(m: Matrix) -> str:
    """Two new records of A's author, each with a participant of the same name digest."""
    digest, refs = uuid.uuid4().hex, []
    for _ in range(2):
        subject = str(uuid.uuid4())
        stats = {"age": 30, "sex": "female", "children": [{"_id": subject, "child_age": 5}]}
        key = {"subject": subject, "kind": "name", "digest": digest}
        envelope = m.author.envelope(stats=stats, match=[key])
        assert m.world.push(m.author, envelope).status_code == 200
        refs.append(f"{envelope.id}.{subject}")
    return "~".join(sorted(refs))


def _duplicates(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/office/duplicates", headers=headers)


def _merge(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(f"/v1/office/duplicates/{_victim_pair(m)}:merge", headers=headers)


def _dismiss(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(f"/v1/office/duplicates/{_victim_pair(m)}:dismiss", headers=headers)


def _people(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/office/people", params={"form": FORM.id}, headers=headers)


def _confirm(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(f"/v1/office/people/{_person_pair(m)}:confirm", headers=headers)


def _reject(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(f"/v1/office/people/{_person_pair(m)}:reject", headers=headers)


def _office_devices(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/office/devices", headers=headers)


def _office_revoke(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    target = m.world.enrol(m.org_a, "collector", "north")
    return m.world.client.post(f"/v1/office/devices/{target.device_id}:revoke", headers=headers)


def _relay_enrol(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    # A code of A for the region of A's relay (north), as a device enrolling at it sends it.
    issued = m.world.issue(m.org_a.id, "collector", "north")
    key = crypto.SigningKey.generate()
    body = {
        "code": issued.code,
        "device_id": f"new-{uuid.uuid4().hex[:8]}",
        "device_public_key": base64.b64encode(key.public_key).decode(),
    }
    return m.world.client.post("/v1/relay/enrol", json=body, headers=headers)


def _relay_codes(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/relay/codes", headers=headers)


def _relay_enrolment(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    # A code issued for A's relay, and an enrolment it made with it while offline.
    relay = m.by_role["relay"]
    issued = m.world.issue(m.org_a.id, "collector", "north", relay_id=relay.device_id)
    key = crypto.SigningKey.generate().public_key
    device_id = f"new-{uuid.uuid4().hex[:8]}"
    body = {
        "device_id": device_id,
        "device_public_key": base64.b64encode(key).decode(),
        "code_hash": enrol_code_hash(issued.code),
        "proof": enrol_proof(enrol_proof_key(issued.code), device_id, key),
        "enrolled_at": issued.expires_at.isoformat(),
    }
    return m.world.client.post("/v1/relay/enrolments", json=body, headers=headers)


def _named_chunk(m: Matrix) -> bytes:
    """A new chunk named by a new record of A's author (north), not stored yet."""
    chunk = os.urandom(64)
    pushed = m.world.push(m.author, m.author.envelope(attachments=[chunk_manifest(chunk)]))
    assert pushed.status_code == 200, pushed.text
    return chunk


def _missing(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    digest = hashlib.sha256(_named_chunk(m)).hexdigest()
    return m.world.client.post(
        "/v1/attachments:missing", json={"chunks": [digest]}, headers=headers
    )


def _put_chunk(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    chunk = _named_chunk(m)
    path = f"/v1/attachments/chunks/{hashlib.sha256(chunk).hexdigest()}"
    return m.world.client.put(path, content=chunk, headers=headers)


def _get_chunk(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    chunk = _named_chunk(m)
    path = f"/v1/attachments/chunks/{hashlib.sha256(chunk).hexdigest()}"
    assert m.world.client.put(path, content=chunk, headers=m.author.auth).status_code == 204
    return m.world.client.get(path, headers=headers)


@dataclass(frozen=True)
class Entry:
    call: Call
    public: bool = False
    allowed: frozenset[Role] = frozenset(ROLES)  # roles of A that get 2xx
    # True when another organisation gets 200 with its own data (collections, own-org
    # actions); False when it must get 403/404.
    other_org_gets_own_data: bool = False


MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/v1/health"): Entry(_health, public=True),
    ("POST", "/v1/enrol"): Entry(_enrol, public=True),
    ("POST", "/v1/records:push"): Entry(_push, other_org_gets_own_data=True),
    ("GET", "/v1/changes"): Entry(_changes, other_org_gets_own_data=True),
    # Everyone may ask; only records it may read are ever answered held (see below).
    ("POST", "/v1/receipts:check"): Entry(_check_receipts, other_org_gets_own_data=True),
    # A relay too: it passes on its devices' entries (this one, naming none, it is refused).
    ("PUT", "/v1/team/roster"): Entry(_roster, allowed=ROSTER_ROLES | {"relay"}),
    # Any device of the organisation that pushed the record naming the chunk may send it;
    # it is read by the holders of the organisation's key and the record's own devices.
    ("POST", "/v1/attachments:missing"): Entry(_missing, other_org_gets_own_data=True),
    ("PUT", "/v1/attachments/chunks/{digest}"): Entry(_put_chunk),
    ("GET", "/v1/attachments/chunks/{digest}"): Entry(_get_chunk, allowed=SEALED_READ_ROLES),
    ("GET", "/v1/forms/{form_id}/{version}"): Entry(_form),
    ("GET", "/v1/form-files/{sha256}"): Entry(_form_file),
    ("GET", "/v1/records/{record_id}"): Entry(_record, allowed=ORG_WIDE_ROLES),
    ("POST", "/v1/admin/enrol-codes"): Entry(
        _enrol_code, allowed=frozenset({"admin"}), other_org_gets_own_data=True
    ),
    ("POST", "/v1/admin/devices/{device_id}:revoke"): Entry(_revoke, allowed=frozenset({"admin"})),
    ("POST", "/v1/admin/records/{record_id}:resolve"): Entry(
        _resolve, allowed=frozenset({"admin", "case_manager"})
    ),
    ("GET", "/v1/admin/stats"): Entry(
        _stats, allowed=frozenset({"admin", "coordinator"}), other_org_gets_own_data=True
    ),
    ("GET", "/v1/admin/audit"): Entry(
        _audit, allowed=frozenset({"admin"}), other_org_gets_own_data=True
    ),
    ("GET", "/v1/office/records"): Entry(
        _office_records, allowed=ORG_WIDE_ROLES, other_org_gets_own_data=True
    ),
    ("POST", "/v1/office/records/{record_id}:review"): Entry(_review, allowed=ORG_WIDE_ROLES),
    # Sealed parts only to those who hold the organisation's key: not coordinators.
    ("GET", "/v1/office/records/{record_id}/sealed"): Entry(
        _sealed, allowed=frozenset({"admin", "case_manager"})
    ),
    ("GET", "/v1/office/duplicates"): Entry(
        _duplicates, allowed=OFFICE_ROLES, other_org_gets_own_data=True
    ),
    ("POST", "/v1/office/duplicates/{pair}:merge"): Entry(_merge, allowed=OFFICE_ROLES),
    ("POST", "/v1/office/duplicates/{pair}:dismiss"): Entry(_dismiss, allowed=OFFICE_ROLES),
    ("GET", "/v1/office/people"): Entry(
        _people, allowed=ORG_WIDE_ROLES, other_org_gets_own_data=True
    ),
    ("POST", "/v1/office/people/{pair}:confirm"): Entry(_confirm, allowed=ORG_WIDE_ROLES),
    ("POST", "/v1/office/people/{pair}:reject"): Entry(_reject, allowed=ORG_WIDE_ROLES),
    ("GET", "/v1/office/devices"): Entry(
        _office_devices, allowed=ORG_WIDE_ROLES, other_org_gets_own_data=True
    ),
    ("POST", "/v1/office/devices/{device_id}:revoke"): Entry(
        _office_revoke, allowed=frozenset({"admin", "coordinator"})
    ),
    ("POST", "/v1/relay/enrol"): Entry(_relay_enrol, allowed=frozenset({"relay"})),
    ("GET", "/v1/relay/codes"): Entry(_relay_codes, allowed=frozenset({"relay"})),
    ("POST", "/v1/relay/enrolments"): Entry(_relay_enrolment, allowed=frozenset({"relay"})),
    # The directory is public to every enrolled device; referrals: see _referral_calls.
    ("GET", "/v1/directory"): Entry(referral.directory, other_org_gets_own_data=True),
    ("PUT", "/v1/directory/services"): Entry(
        referral.put_services, allowed=frozenset({"admin"}), other_org_gets_own_data=True
    ),
    ("POST", "/v1/referrals"): Entry(referral.refer, allowed=OFFICE_ROLES),
    ("GET", "/v1/referrals"): Entry(
        referral.referrals, allowed=REFER_ROLES, other_org_gets_own_data=True
    ),
    ("POST", "/v1/referrals/{referral_id}:accept"): Entry(referral.accept, allowed=OFFICE_ROLES),
    ("POST", "/v1/referrals/{referral_id}:decline"): Entry(referral.decline, allowed=OFFICE_ROLES),
    ("POST", "/v1/referrals/{referral_id}:delivered"): Entry(
        referral.delivered, allowed=OFFICE_ROLES
    ),
}

ENDPOINTS = [
    (method, route.path)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in sorted(route.methods)
]
# A route missing from MATRIX counts as private here, then fails on its missing entry.
PRIVATE = [e for e in ENDPOINTS if e not in MATRIX or not MATRIX[e].public]


def test_the_matrix_covers_exactly_the_apps_routes(tmp_path: Path) -> None:
    """What the app serves, as FastAPI resolves its routes (an included router is one entry
    of `app.routes`, its routes behind it): exactly the routers' routes, each in MATRIX."""
    app = create_app(ServerSettings(data_dir=tmp_path))
    served = {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    assert served == set(ENDPOINTS)
    assert served == set(MATRIX), "every endpoint needs an authorisation matrix entry"
    app.state.fieldapp.storage.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_without_a_valid_token_every_private_endpoint_is_401(
    matrix: Matrix, endpoint: tuple[str, str]
) -> None:
    entry = MATRIX[endpoint]
    for headers in (
        {},
        bearer("not-a-token"),
        bearer(matrix.revoked.token),
        {"Authorization": "Basic eDp5"},
    ):
        response = entry.call(matrix, None, headers)
        if entry.public:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["error"] == "unauthenticated"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            for secret in matrix.a_secrets():
                assert secret not in response.text


@pytest.mark.parametrize("endpoint", PRIVATE, ids=[f"{m} {p}" for m, p in PRIVATE])
def test_another_organisation_gets_zero_bytes_of_its_data(
    matrix: Matrix, endpoint: tuple[str, str]
) -> None:
    entry = MATRIX[endpoint]
    response = entry.call(matrix, matrix.b_admin, bearer(matrix.b_admin.token))
    if entry.other_org_gets_own_data:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code in (403, 404), response.text
    for secret in matrix.a_secrets():
        if endpoint == ("POST", "/v1/records:push") and secret == str(matrix.record_id):
            continue  # B named A's record id itself; the answer may repeat B's own input
        assert secret not in response.text, f"{endpoint} leaked {secret!r} to organisation B"
    head = matrix.world.storage.get_record(matrix.org_a.id, matrix.record_id)
    assert head.head_revision == matrix.revision
    assert matrix.world.storage.device_by_token(token_hash(matrix.author.token)) is not None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_each_role_gets_exactly_what_it_may(
    matrix: Matrix, endpoint: tuple[str, str], role: Role
) -> None:
    entry = MATRIX[endpoint]
    caller = matrix.by_role[role]
    response = entry.call(matrix, caller, bearer(caller.token))
    if role in entry.allowed:
        assert response.status_code in (200, 204), response.text
    else:
        assert response.status_code in (403, 404), response.text
        assert str(matrix.record_id) not in response.text or endpoint[1] == "/v1/records:push"


@pytest.mark.parametrize("role", ROLES)
def test_a_receipt_check_confirms_only_records_the_caller_may_read(
    matrix: Matrix, role: Role
) -> None:
    for caller, may_read in (
        (matrix.by_role[role], role in ORG_WIDE_ROLES),
        (matrix.author, True),
        (matrix.b_admin, False),
    ):
        response = _check_receipts(matrix, caller, bearer(caller.token))
        assert response.status_code == 200, response.text
        held = [(ref["id"], ref["revision"]) for ref in response.json()["held"]]
        assert held == ([(str(matrix.record_id), matrix.revision)] if may_read else [])


def test_a_regional_admin_manages_only_its_region(matrix: Matrix) -> None:
    world = matrix.world
    north_admin = world.enrol(matrix.org_a, "admin", "north")
    south_phone = world.enrol(matrix.org_a, "collector", "south")
    headers = bearer(north_admin.token)
    south_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector", "region": "south"}, headers=headers
    )
    assert (south_code.status_code, south_code.json()["error"]) == (403, "region_forbidden")
    org_wide_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector"}, headers=headers
    )
    assert org_wide_code.status_code == 403
    north_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector", "region": "north"}, headers=headers
    )
    assert north_code.status_code == 200
    revoke_south = world.client.post(
        f"/v1/admin/devices/{south_phone.device_id}:revoke", headers=headers
    )
    assert revoke_south.status_code == 403
    assert world.client.get("/v1/changes", headers=south_phone.auth).status_code == 200


def test_collectors_read_only_records_they_took_part_in(matrix: Matrix) -> None:
    world = matrix.world
    other_north = world.enrol(matrix.org_a, "collector", "north")
    south = world.enrol(matrix.org_a, "collector", "south")
    path = f"/v1/records/{matrix.record_id}"
    assert world.client.get(path, headers=matrix.author.auth).status_code == 200
    for phone in (other_north, south):
        response = world.client.get(path, headers=phone.auth)
        assert response.status_code == 404
        assert CANARY not in response.text and matrix.revision not in response.text


def test_a_revoked_device_stays_out_and_learns_nothing(matrix: Matrix) -> None:
    response = matrix.world.client.get("/v1/changes", headers=matrix.revoked.auth)
    assert response.status_code == 401
    pushed = matrix.world.push(matrix.revoked, matrix.revoked.envelope())
    assert pushed.status_code == 401


def pushed(m: Matrix, phone: Phone, envelope: Any) -> RecordOutcome:
    response = m.world.push(phone, envelope)
    assert response.status_code == 200, response.text
    [outcome] = PushResponse.model_validate_json(response.content).outcomes
    return outcome


REGIONS = ("north", "south", None)  # the record's region, another one, none (the whole org)


@pytest.mark.parametrize("region", REGIONS, ids=["same region", "other region", "no region"])
@pytest.mark.parametrize("role", ROLES)
def test_a_record_is_written_only_by_its_owner_and_the_office_of_its_region(
    matrix: Matrix, role: Role, region: str | None
) -> None:
    """A's record was created by a collector of region north. Another device pushes a
    revision based on its head, one with no base, a consent withdrawal, and asks to settle
    it: only an admin or case manager of north, or of no region, may."""
    world, form = matrix.world, (FORM.id, A_ONLY_VERSION)
    caller = world.enrol(matrix.org_a, role, region)
    may = role in OFFICE_ROLES and region in ("north", None)
    on_head = caller.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )
    no_base = caller.envelope(record_id=matrix.record_id, rev=revision(2), form=form)
    withdrawal = caller.envelope(
        record_id=matrix.record_id, rev=revision(3), base=on_head.revision, form=form,
        withdrawn=True,
    )  # fmt: skip

    outcomes = [pushed(matrix, caller, on_head), pushed(matrix, caller, no_base)]
    settled = world.client.post(
        f"/v1/admin/records/{matrix.record_id}:resolve",
        json={"keep_revision": on_head.revision if may else matrix.revision},
        headers=caller.auth,
    )
    outcomes.append(pushed(matrix, caller, withdrawal))

    revisions = world.storage.list_revisions(matrix.org_a.id, matrix.record_id)
    refused = [
        e
        for e in world.storage.list_audit(matrix.org_a.id)
        if e.device_id == caller.device_id and e.outcome == "refused:not_record_owner"
    ]
    if may:
        assert [o.status for o in outcomes] == ["accepted", "conflict", "accepted"]
        assert settled.status_code == 200, settled.text
        assert [r.sealed is None for r in revisions] == [True] * 4  # every version erased
        assert refused == []
        return
    for outcome in outcomes:
        assert (outcome.status, outcome.receipt) == ("rejected", None)
        assert [(e.code, e.field) for e in outcome.errors] == [("not_record_owner", "id")]
        assert matrix.revision not in outcome.model_dump_json()
    expected = "not_record_owner" if role in OFFICE_ROLES else "forbidden"
    assert (settled.status_code, settled.json()["error"]) == (403, expected)
    assert [(r.revision, r.status, r.sealed is not None) for r in revisions] == [
        (matrix.revision, "current", True)
    ]
    head = world.storage.get_record(matrix.org_a.id, matrix.record_id)
    assert (head.head_revision, head.in_conflict, head.consent_withdrawn) == (
        matrix.revision,
        False,
        False,
    )
    office = role in OFFICE_ROLES  # past the role check, the resolve is refused for its region
    actions = ["push", "push", *(["resolve_conflict"] if office else []), "push"]
    assert [(e.action, e.record_id) for e in refused] == [
        (action, str(matrix.record_id)) for action in actions
    ]


def test_the_owner_writes_its_record_and_leaves_settling_it_to_the_office(matrix: Matrix) -> None:
    world, author, form = matrix.world, matrix.author, (FORM.id, A_ONLY_VERSION)
    edit = author.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )
    offline = author.envelope(
        record_id=matrix.record_id, rev=revision(2), base=matrix.revision, form=form
    )  # its other copy's edit
    assert pushed(matrix, author, edit).status == "accepted"
    assert pushed(matrix, author, offline).status == "conflict"
    settled = world.client.post(
        f"/v1/admin/records/{matrix.record_id}:resolve",
        json={"keep_revision": edit.revision},
        headers=author.auth,
    )
    assert (settled.status_code, settled.json()["error"]) == (403, "forbidden")
    withdrawal = author.envelope(
        record_id=matrix.record_id, rev=revision(3), base=edit.revision, form=form, withdrawn=True
    )
    assert pushed(matrix, author, withdrawal).status == "accepted"


@pytest.mark.parametrize("region", REGIONS, ids=["same region", "other region", "no region"])
@pytest.mark.parametrize("role", ROLES)
def test_the_record_route_gives_sealed_parts_only_to_key_holders_and_its_writers(
    matrix: Matrix, role: Role, region: str | None
) -> None:
    """`GET /v1/records/{id}` of A's record (north): the office of its region (or of none)
    reads it, sealed parts only for those holding the organisation's key; another region's
    office gets 404, as do field devices that took no part; its author gets it whole."""
    world = matrix.world
    caller = world.enrol(matrix.org_a, role, region)
    path = f"/v1/records/{matrix.record_id}"
    response = world.client.get(path, headers=caller.auth)
    receipts = _check_receipts(matrix, caller, caller.auth).json()["held"]
    if role not in ORG_WIDE_ROLES or region == "south":
        assert response.status_code == 404, response.text
        assert matrix.revision not in response.text
        assert receipts == []
        return
    assert response.status_code == 200, response.text
    view = response.json()
    sealed = [revision["sealed"] for revision in view["revisions"]]
    if role in SEALED_READ_ROLES:
        assert sealed != [None] and None not in sealed
        assert view["sealed_withheld"] is False
    else:
        assert sealed == [None] and view["sealed_withheld"] is True
        assert view["revisions"][0]["stats"]  # the statistics still come
    assert len(receipts) == 1
    outcomes = [
        e.outcome
        for e in world.storage.list_audit(matrix.org_a.id)
        if e.device_id == caller.device_id and e.action == "read_record"
    ]
    assert outcomes == ["ok" if role in SEALED_READ_ROLES else "ok:statistics"]

    mine = world.client.get(path, headers=matrix.author.auth).json()
    assert mine["sealed_withheld"] is False and mine["revisions"][0]["sealed"] is not None
