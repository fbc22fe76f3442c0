"""The authorisation matrix's world and table: two organisations on a real server, A's
record pushed by its north collector, a device of A per role, a revoked one (`Matrix`, the
`matrix` fixture in conftest.py); and, for every endpoint of the app, one call aimed at A's
data with the roles of A it lets through (`MATRIX`)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from fastapi.routing import APIRoute

from fieldapp import crypto
from sync.protocol import ROSTER_ROLES, Role
from sync.server.auth import (
    OFFICE_ROLES,
    SEALED_READ_ROLES,
    enrol_code_hash,
    enrol_proof,
    enrol_proof_key,
)
from sync.server.routes import ROUTERS
from sync.server.routes.referrals import REFER_ROLES
from sync.server.storage import ORG_WIDE_ROLES, Organisation
from tests.server import _referral_calls as referral
from tests.server._harness import (
    CANARY,
    FORM,
    Phone,
    World,
    chunk_manifest,
    push_body,
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


def check_receipts(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
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
    ("POST", "/v1/receipts:check"): Entry(check_receipts, other_org_gets_own_data=True),
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
