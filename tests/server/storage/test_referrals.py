"""The storage contract of referrals between organisations, on SQLite and PostgreSQL: the
directory, a referral refused (nothing written) without consent, outside the directory or
sealed to other keys, answered by the receiver only and in order, and its sealed part erased
when the survivor withdraws consent."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from fieldapp import crypto
from sync.server.storage import NotFound, ReferralRefused, Storage
from tests.server.conftest import Backend
from tests.server.storage._support import NOW, Member

CONSENTED = {"consent_refer": "yes"}


@pytest.fixture
def two_orgs(storage: Storage) -> tuple[str, str, crypto.OrgKeyPair]:
    """Org A and org B (its own key pair), B offering a legal service."""
    b_key = crypto.OrgKeyPair.generate("X25519")
    org_a = storage.create_organisation("Org A", NOW).id
    org_b = storage.create_organisation("Org B", NOW).id
    storage.set_recipients(org_b, [b_key.recipient.model_dump(mode="json")])
    storage.put_directory_services(org_b, [("legal", "Legal aid")], NOW)
    return org_a, org_b, b_key


def _sealed(key: crypto.OrgKeyPair) -> bytes:
    return crypto.seal(b'{"given_name": "x"}', [key.recipient], b"aad")


def _pushed(storage: Storage, member: Member, stats: dict[str, str]) -> uuid.UUID:
    envelope = member.envelope(stats=stats, form_id="victim_screening")
    [result] = storage.push_records(member.device, [envelope], NOW)
    assert result.status == "accepted"
    return envelope.id


def test_the_directory_lists_organisations_with_services_and_their_keys(
    storage: Storage, two_orgs: tuple[str, str, crypto.OrgKeyPair]
) -> None:
    _, org_b, b_key = two_orgs
    [listed] = storage.directory()
    assert (listed.org_id, listed.org_name, listed.services) == (
        org_b,
        "Org B",
        [("legal", "Legal aid")],
    )
    assert listed.recipients == [b_key.recipient.model_dump(mode="json")]
    storage.put_directory_services(org_b, [], NOW)
    assert storage.directory() == []


def test_a_referral_is_sent_answered_in_order_and_seen_by_both_sides(
    storage: Storage, two_orgs: tuple[str, str, crypto.OrgKeyPair]
) -> None:
    org_a, org_b, b_key = two_orgs
    worker = Member(storage, org_a, "collector", "north")
    receiver = Member(storage, org_b, "case_manager", None)
    record_id = _pushed(storage, worker, CONSENTED)
    referral_id, sealed = str(uuid.uuid4()), _sealed(b_key)

    row, new = storage.send_referral(
        worker.device, referral_id, str(record_id), org_b, "legal", sealed, NOW
    )
    again, new_again = storage.send_referral(
        worker.device, referral_id, str(record_id), org_b, "legal", sealed, NOW
    )

    assert (new, new_again, row.status, again) == (True, False, "sent", row)
    [incoming] = storage.list_referrals(receiver.device, "incoming")
    assert (incoming.id, incoming.sealed, incoming.from_org_name) == (referral_id, sealed, "Org A")
    assert storage.list_referrals(worker.device, "incoming") == []
    with pytest.raises(ReferralRefused) as early:
        storage.answer_referral(receiver.device, referral_id, "delivered", None, NOW)
    assert early.value.error == "referral_state"
    with pytest.raises(NotFound):  # the sender's own office is not the receiver
        storage.answer_referral(
            Member(storage, org_a, "admin", None).device, referral_id, "accepted", None, NOW
        )
    storage.answer_referral(receiver.device, referral_id, "accepted", None, NOW)
    later = NOW + timedelta(days=9)
    storage.answer_referral(receiver.device, referral_id, "delivered", None, later)
    [outgoing] = storage.list_referrals(worker.device, "outgoing")
    assert (outgoing.status, outgoing.updated_at) == ("delivered", later)


@pytest.mark.parametrize(
    ("stats", "to", "service", "error"),
    [
        ({"consent_refer": "no"}, "b", "legal", "no_consent_to_refer"),
        ({}, "b", "legal", "no_consent_to_refer"),
        (CONSENTED, "b", "shelter", "not_in_directory"),
        (CONSENTED, "a", "legal", "referral_to_self"),
        (CONSENTED, "nobody", "legal", "not_in_directory"),
        (CONSENTED, "b-wrong-key", "legal", "not_sealed_to_receiver"),
    ],
)
def test_a_referral_refused_writes_nothing(
    backend: Backend,
    storage: Storage,
    two_orgs: tuple[str, str, crypto.OrgKeyPair],
    stats: dict[str, str],
    to: str,
    service: str,
    error: str,
) -> None:
    org_a, org_b, b_key = two_orgs
    worker = Member(storage, org_a, "collector", "north")
    record_id = _pushed(storage, worker, stats)
    to_org = {"a": org_a, "b": org_b, "b-wrong-key": org_b}.get(to, to)
    key = crypto.OrgKeyPair.generate("X25519") if to == "b-wrong-key" else b_key
    with pytest.raises(ReferralRefused) as refused:
        storage.send_referral(
            worker.device, str(uuid.uuid4()), str(record_id), to_org, service, _sealed(key), NOW
        )
    assert refused.value.error == error
    assert backend.count("referrals") == 0


def test_only_the_records_author_or_its_office_refers_it(
    storage: Storage, two_orgs: tuple[str, str, crypto.OrgKeyPair]
) -> None:
    org_a, org_b, b_key = two_orgs
    worker = Member(storage, org_a, "collector", "north")
    record_id = _pushed(storage, worker, CONSENTED)
    for stranger, error in (
        (Member(storage, org_a, "collector", "north"), "not_record_owner"),
        (Member(storage, org_b, "admin", None), "record_not_found"),
    ):
        with pytest.raises(ReferralRefused) as refused:
            storage.send_referral(
                stranger.device, str(uuid.uuid4()), str(record_id), org_b, "legal",
                _sealed(b_key), NOW,
            )  # fmt: skip
        assert refused.value.error == error
    office = Member(storage, org_a, "case_manager", None)
    storage.send_referral(
        office.device, str(uuid.uuid4()), str(record_id), org_b, "legal", _sealed(b_key), NOW
    )


def test_consent_withdrawn_erases_the_referrals_sealed_part_and_marks_it(
    backend: Backend, storage: Storage, two_orgs: tuple[str, str, crypto.OrgKeyPair]
) -> None:
    org_a, org_b, b_key = two_orgs
    worker = Member(storage, org_a, "collector", "north")
    receiver = Member(storage, org_b, "case_manager", None)
    first = worker.envelope(stats=CONSENTED, form_id="victim_screening")
    storage.push_records(worker.device, [first], NOW)
    referral_id = str(uuid.uuid4())
    storage.send_referral(
        worker.device, referral_id, str(first.id), org_b, "legal", _sealed(b_key), NOW
    )
    storage.answer_referral(receiver.device, referral_id, "accepted", None, NOW)

    withdrawal = worker.envelope(
        record_id=first.id, base=first.revision, rev=f"2-{uuid.uuid4().hex}",
        stats=CONSENTED, form_id="victim_screening", withdrawn=True,
    )  # fmt: skip
    storage.push_records(worker.device, [withdrawal], NOW + timedelta(days=1))

    [incoming] = storage.list_referrals(receiver.device, "incoming")
    assert (incoming.status, incoming.sealed) == ("withdrawn", None)
    assert backend.raw("SELECT COUNT(*) FROM referrals WHERE sealed IS NOT NULL")[0][0] == 0
    with pytest.raises(ReferralRefused) as refused:
        storage.answer_referral(receiver.device, referral_id, "delivered", None, NOW)
    assert refused.value.error == "referral_withdrawn"
    with pytest.raises(ReferralRefused) as again:  # nor can it be referred anew
        storage.send_referral(
            worker.device, str(uuid.uuid4()), str(first.id), org_b, "legal", _sealed(b_key), NOW
        )
    assert again.value.error == "no_consent_to_refer"
