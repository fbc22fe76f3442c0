"""Issue #14's story end to end on loopback, with two organisations on one real server: a
social worker of org A opens a case from a screening, records three services offline (a
shelter stay, two psychosocial sessions), syncs, and refers the survivor from the case to org
B's legal service (the case's source screening is what is referred: the consent to refer is
recorded there); org B accepts and reports the service delivered; org A's case timeline shows
the referral with each status as the server reports it, next to the services. The server's
data directory and org A's device hold no plaintext canary."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from fieldapp.store import CaseReferral, Store
from sync.client import NoConsentToRefer, ReferralsClient, open_referral
from tests.conftest import CANARY
from tests.security.canary import scan_paths
from tests.sync._harness import Deployment
from tests.sync._victim_services import Sides, record_case_offline, synced

NOTE = f"{CANARY} needs a lawyer for her wage claim"


def _referrals_on_case(worker: Store, case_id: str) -> list[tuple[str, str, str]]:
    return [(r.to_org_name, r.service, r.status) for r in worker.cases.timeline(case_id).referrals]


def test_a_case_refers_its_survivor_to_org_b_and_shows_the_service_delivered(
    deployment: Deployment,
    sides: Sides,
    app_transport: httpx.BaseTransport,
    b_office: Store,
) -> None:
    worker, b_id, b_key = sides.worker, sides.b_id, sides.b_key
    case_id = record_case_offline(worker)  # the device is offline: nothing has been sent
    screening_id = worker.cases.timeline(case_id).case.values["source_record_id"]
    assert worker.cases.timeline(case_id).referrals == []
    synced(worker, app_transport)

    with ReferralsClient(worker, transport=app_transport) as client:
        client.directory()
        sent = client.refer(case_id, b_id, "legal", note=NOTE)
    assert str(sent.record_id) == screening_id  # the case's screening, never the case
    assert _referrals_on_case(worker, case_id) == [("Legal Aid Cambodia", "legal", "sent")]

    with ReferralsClient(b_office, transport=app_transport) as office:
        [incoming] = office.referrals("incoming")
        contents = open_referral(b_key, incoming)
        assert contents is not None
        assert (contents.form_id, contents.fields["given_name"], contents.note) == (
            "victim_screening",
            CANARY,
            NOTE,
        )
        office.accept(str(incoming.id))
    synced(worker, app_transport)  # a sync brings the status of the referrals sent
    assert _referrals_on_case(worker, case_id) == [("Legal Aid Cambodia", "legal", "accepted")]

    with ReferralsClient(b_office, transport=app_transport) as office:
        office.delivered(str(incoming.id))
    synced(worker, app_transport)

    timeline = worker.cases.timeline(case_id)
    [legal] = timeline.referrals
    assert isinstance(legal, CaseReferral)
    assert (legal.referral_id, legal.to_org, legal.service, legal.status) == (
        str(sent.id),
        b_id,
        "legal",
        "delivered",
    )
    assert [s.values["service_type"] for s in timeline.services] == [
        "psychosocial",
        "psychosocial",
        "shelter",
    ]
    hits, scanned = scan_paths([deployment.settings.data_dir], CANARY)
    assert hits == [] and scanned > 0
    hits, scanned = scan_paths([worker.path.parent], CANARY)  # nor org A's device
    assert hits == [] and scanned > 0


def test_a_case_without_a_screening_cannot_be_referred(
    sides: Sides, app_transport: httpx.BaseTransport
) -> None:
    worker, b_id = sides.worker, sides.b_id
    hotline = worker.cases.open(assigned_worker="Dara", identified_on=date(2026, 3, 2))
    with ReferralsClient(worker, transport=app_transport) as client:
        client.directory()
        with pytest.raises(NoConsentToRefer, match="source_record_id"):
            client.refer(hotline.id, b_id, "legal")
        assert client.referrals("outgoing") == []
    assert worker.cases.timeline(hotline.id).referrals == []
