"""Helpers shared by the victim services tests (cases, referrals, the two together): two
organisations on one server, a device synced, a case with three services recorded offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldapp import crypto
from fieldapp.store import Store
from sync.client import SyncClient
from tests.conftest import CANARY, screening_values

WORKER = f"{CANARY} Worker"
PROVIDER = f"{CANARY} Shelter House"


@dataclass
class Sides:
    """Org A's social worker, and org B (its admin's device, id and key pair) listed in the
    directory with a legal service and a shelter."""

    worker: Store
    b_admin: Store
    b_id: str
    b_key: crypto.OrgKeyPair


def synced(store: Store, transport: Any) -> None:
    with SyncClient(store, transport=transport) as client:
        assert client.sync().ok


def record_case_offline(device: Store) -> str:
    """A screening, its case and three services (a shelter stay, two psychosocial
    sessions), all recorded on the device; the case's id."""
    screening = device.records.create_final("victim_screening", screening_values())
    case = device.cases.open(
        screening_id=screening.id, assigned_worker=WORKER, identified_on=date(2026, 3, 2)
    )
    device.cases.add_service(
        case.id,
        service_type="shelter",
        start_date=date(2026, 3, 3),
        end_date=date(2026, 4, 14),
        provider=PROVIDER,
        notes=f"{CANARY} settled in",
    )
    for day in (10, 24):
        device.cases.add_service(
            case.id,
            service_type="psychosocial",
            start_date=date(2026, 3, day),
            provider=PROVIDER,
            notes=f"Session with {CANARY}",
        )
    return case.id
