"""Referrals between two organisations end to end, through the real server on loopback and
the real device stores and clients.

One multi-organisation server holds both organisations (it scopes everything by
organisation): org A's social worker records a survivor and refers her to org B's legal
service, from the directory org B's admin published; org B's case manager opens the
referral with org B's own key (which neither the server nor org A holds), accepts it and
reports the service delivered; org A's device sees it. The server's files hold no canary;
the record's fields the referral form does not name never reach org B; consent withdrawn on
org A's side erases org B's copy; a referral without consent, or to an organisation not in
the directory, is refused with a named error, by the device and by the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.store import Store
from sync.client import (
    NoConsentToRefer,
    NotInDirectory,
    ReferralRefused,
    ReferralsClient,
    cached_directory,
    open_referral,
)
from sync.protocol import ReferralRequest
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.sync._victim_services import Sides, synced

NOTE = "Needs a lawyer for the Qwuuxplat wage claim"  # a canary in the note too
CASE_NOTES = "Vexmorrow recounted the journey"  # never named by the referral form
PLACE = "Quillbrix market"


def test_org_a_refers_to_org_b_which_accepts_and_delivers_and_nobody_else_reads_it(
    deployment: Deployment,
    org_key: crypto.OrgKeyPair,
    sides: Sides,
    app_transport: httpx.BaseTransport,
    b_office: Store,
) -> None:
    worker, b_id, b_key = sides.worker, sides.b_id, sides.b_key
    survivor = worker.records.create_final(
        "victim_screening",
        screening_values(CANARY, case_notes=CASE_NOTES, identification_place=PLACE),
    )
    synced(worker, app_transport)

    with ReferralsClient(worker, transport=app_transport) as client:
        [listed] = client.directory().organisations
        assert (listed.org_id, [s.service for s in listed.services]) == (b_id, ["legal", "shelter"])
        sent = client.refer(survivor.id, b_id, "legal", note=NOTE)
    assert cached_directory(worker).organisations == [listed]  # for the device offline
    assert (sent.status, sent.direction, str(sent.record_id)) == ("sent", "outgoing", survivor.id)

    with ReferralsClient(b_office, transport=app_transport) as office:
        [incoming] = office.referrals("incoming")
        assert incoming.record_id is None and incoming.from_org_name == "Field Team"
        contents = open_referral(b_key, incoming)
        assert contents is not None
        assert contents.fields["given_name"] == CANARY and contents.note == NOTE
        assert contents.fields["immediate_needs"] == ["shelter", "medical"]
        shared = contents.model_dump_json()
        for never in ("case_notes", "case_code", "identification_place", CASE_NOTES, PLACE):
            assert never not in shared  # fields the referral form does not name stay home
        with pytest.raises(crypto.IntegrityError):  # org A's key does not open it either
            open_referral(org_key, incoming)
        assert office.accept(str(incoming.id)).status == "accepted"
        assert office.delivered(str(incoming.id)).status == "delivered"

    with ReferralsClient(worker, transport=app_transport) as client:
        [outgoing] = client.referrals("outgoing")
        assert (outgoing.id, outgoing.status, outgoing.sealed) == (sent.id, "delivered", None)

    dump = b"".join(p.read_bytes() for p in deployment.settings.data_dir.rglob("*") if p.is_file())
    for canary in (CANARY, "Qwuuxplat", "Vexmorrow", "Quillbrix"):
        assert canary.encode() not in dump


def test_without_consent_or_outside_the_directory_nothing_is_referred(
    sides: Sides, app_transport: httpx.BaseTransport
) -> None:
    worker, b_id, b_key = sides.worker, sides.b_id, sides.b_key
    refused = worker.records.create_final(
        "victim_screening", screening_values(CANARY, consent_refer="no", referral_org_shelter=None,
                                             referral_org_medical=None),
    )  # fmt: skip
    consented = worker.records.create_final("victim_screening", screening_values(CANARY))
    synced(worker, app_transport)
    with ReferralsClient(worker, transport=app_transport) as client:
        client.directory()
        with pytest.raises(NoConsentToRefer, match="consent_refer"):
            client.refer(refused.id, b_id, "legal")
        with pytest.raises(NotInDirectory, match="directory"):
            client.refer(consented.id, "org-not-listed", "legal")
        with pytest.raises(NotInDirectory):
            client.refer(consented.id, b_id, "repatriation")

        # A modified device skipping its own checks meets the server's, named the same.
        def forged(record_id: str, to_org: str) -> ReferralRequest:
            sealed = crypto.seal(b"{}", [b_key.recipient], b"any")
            return ReferralRequest(
                id=uuid.uuid4(), record_id=uuid.UUID(record_id), to_org=to_org, service="legal",
                sealed=sealed,
            )  # fmt: skip

        with pytest.raises(NoConsentToRefer) as no_consent:
            client.send(forged(refused.id, b_id))
        with pytest.raises(NotInDirectory) as not_listed:
            client.send(forged(consented.id, "org-not-listed"))
        assert (no_consent.value.error, not_listed.value.error) == (
            "no_consent_to_refer",
            "not_in_directory",
        )
        assert client.referrals("outgoing") == []


def test_consent_withdrawn_on_org_a_erases_org_bs_copy(
    deployment: Deployment, sides: Sides, app_transport: httpx.BaseTransport
) -> None:
    worker, b_admin, b_id, b_key = sides.worker, sides.b_admin, sides.b_id, sides.b_key
    survivor = worker.records.create_final("victim_screening", screening_values(CANARY))
    synced(worker, app_transport)
    with ReferralsClient(worker, transport=app_transport) as client:
        client.directory()
        sent = client.refer(survivor.id, b_id, "legal")
    with ReferralsClient(b_admin, transport=app_transport) as b_client:
        [before] = b_client.referrals("incoming")
        assert open_referral(b_key, before) is not None
        b_client.accept(str(sent.id))

    worker.consent.withdraw(survivor.id)
    synced(worker, app_transport)

    with ReferralsClient(b_admin, transport=app_transport) as b_client:
        [after] = b_client.referrals("incoming")
        assert (after.status, after.sealed, open_referral(b_key, after)) == (
            "withdrawn",
            None,
            None,
        )
        with pytest.raises(ReferralRefused) as refused:
            b_client.delivered(str(sent.id))
        assert refused.value.error == "referral_withdrawn"
    with ReferralsClient(worker, transport=app_transport) as client:
        assert [r.status for r in client.referrals("outgoing")] == ["withdrawn"]
    assert deployment.query("SELECT COUNT(*) FROM referrals WHERE sealed IS NOT NULL") == [(0,)]


def test_the_command_line_refers_lists_opens_and_answers(
    deployment: Deployment,
    org_b: tuple[str, crypto.OrgKeyPair],
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
    new_device: Callable[[str, str, str], Store],
    cli: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b_id, b_key = org_b
    key_file = tmp_path / "org-b.key"
    b_key.save(key_file, PASSPHRASE)
    monkeypatch.setenv("ORG_B_KEY_PASSPHRASE", PASSPHRASE)
    worker = new_device(deployment.org_id, "collector", "a")
    survivor = worker.records.create_final("victim_screening", screening_values(CANARY))
    no_consent = worker.records.create_final(
        "victim_screening", screening_values(CANARY, consent_refer="no", referral_org_shelter=None,
                                             referral_org_medical=None),
    )  # fmt: skip
    synced(worker, app_transport)
    worker.close()
    for name, role in (("ba", "admin"), ("bo", "case_manager")):
        new_device(b_id, role, name).close()

    assert (
        main(["--data-dir", str(tmp_path / "ba"), "referrals", "services", "legal=Legal aid"]) == 0
    )
    [entry] = cli(tmp_path / "a", "referrals", "directory", "--json")["organisations"]
    assert (entry["org_id"], entry["services"][0]["service"]) == (b_id, "legal")
    sent = cli(tmp_path / "a", "referrals", "send", survivor.id, "--to", b_id, "--service",
               "legal", "--note", NOTE, "--json")  # fmt: skip
    assert sent["status"] == "sent"
    capsys.readouterr()
    refused = main(["--data-dir", str(tmp_path / "a"), "referrals", "send", no_consent.id,
                    "--to", b_id, "--service", "legal"])  # fmt: skip
    assert refused == 1 and "consent_refer" in capsys.readouterr().err

    opening = ["--org-key", str(key_file), "--passphrase-env", "ORG_B_KEY_PASSPHRASE"]
    [incoming] = cli(tmp_path / "bo", "referrals", "list", "--incoming", *opening, "--json")
    assert incoming["contents"]["fields"]["given_name"] == CANARY
    assert incoming["contents"]["note"] == NOTE and "record_id" not in str(incoming["contents"])
    for answer in ("accept", "delivered"):
        assert main(["--data-dir", str(tmp_path / "bo"), "referrals", answer, sent["id"]]) == 0
    [outgoing] = cli(tmp_path / "a", "referrals", "list", "--json")
    assert (outgoing["id"], outgoing["status"]) == (sent["id"], "delivered")
