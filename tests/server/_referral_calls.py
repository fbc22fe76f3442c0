"""The authorisation matrix's calls of the referral endpoints (tests/server/test_authz.py),
each aimed at organisation A's data: A's record referred to B, a referral from B to A
answered by A."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from fieldapp import crypto
from tests.server._harness import Phone

if TYPE_CHECKING:
    from tests.server.test_authz import Matrix

CONSENTED = {"consent_refer": "yes"}


def _consented_record(m: Matrix, owner: Phone) -> uuid.UUID:
    """A record of `owner` whose survivor consented to be referred (straight into storage:
    the matrix's form has no consent field)."""
    storage = m.world.storage
    envelope = owner.envelope(stats=CONSENTED, form=("victim_screening", "1"))
    now = datetime.now(UTC)
    [result] = storage.push_records(storage.get_device(owner.device_id), [envelope], now)
    assert result.status == "accepted"
    return envelope.id


def _listed(m: Matrix, org_id: str) -> None:
    m.world.storage.put_directory_services(org_id, [("legal", "Legal aid")], datetime.now(UTC))


def _sealed(m: Matrix) -> bytes:
    return crypto.seal(b"{}", [m.world.org_key.recipient], b"referral")


def directory(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/directory", headers=headers)


def put_services(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    body = {"services": [{"service": "legal", "label": "Legal aid"}]}
    return m.world.client.put("/v1/directory/services", json=body, headers=headers)


def refer(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    """A's author's record, consented, referred to B's listed service."""
    record_id = _consented_record(m, m.author)
    _listed(m, m.org_b.id)
    body = {
        "id": str(uuid.uuid4()),
        "record_id": str(record_id),
        "to_org": m.org_b.id,
        "service": "legal",
        "sealed": base64.b64encode(_sealed(m)).decode(),
    }
    return m.world.client.post("/v1/referrals", json=body, headers=headers)


def referrals(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.get("/v1/referrals", headers=headers)


def _incoming(m: Matrix, *, accepted: bool = False) -> str:
    """A referral from B to A's listed service (B's admin referring B's record)."""
    storage = m.world.storage
    record_id = _consented_record(m, m.b_admin)
    _listed(m, m.org_a.id)
    referral_id = str(uuid.uuid4())
    sender = storage.get_device(m.b_admin.device_id)
    now = datetime.now(UTC)
    storage.send_referral(sender, referral_id, str(record_id), m.org_a.id, "legal", _sealed(m), now)
    if accepted:
        office = storage.get_device(m.by_role["admin"].device_id)
        storage.answer_referral(office, referral_id, "accepted", None, now)
    return referral_id


def accept(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    return m.world.client.post(f"/v1/referrals/{_incoming(m)}:accept", headers=headers)


def decline(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    path = f"/v1/referrals/{_incoming(m)}:decline"
    return m.world.client.post(path, json={"reason": "no_capacity"}, headers=headers)


def delivered(m: Matrix, _: Phone | None, headers: dict[str, str]) -> httpx.Response:
    path = f"/v1/referrals/{_incoming(m, accepted=True)}:delivered"
    return m.world.client.post(path, headers=headers)
