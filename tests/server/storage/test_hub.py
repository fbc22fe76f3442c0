"""The storage contract of the data collaborative's hub: members, consent, sealed
contributions and releases (withdrawal marks the releases that counted the member)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.protocol.hub import ConsentStatement, HubConsent, HubReleaseUpload
from sync.server.storage import AlreadyExists, NotFound, Storage
from sync.server.storage.hub import NotSharing
from tests.server.storage._support import NOW

KEY_A, KEY_B, STEWARD = b"a" * 32, b"b" * 32, b"s" * 32


def _consent(key: bytes, share: bool, minutes: int = 0) -> HubConsent:
    statement = ConsentStatement(
        org_key=key, hub_steward_key=STEWARD, share=share, at=NOW + timedelta(minutes=minutes)
    )
    return HubConsent(statement=statement, signature=b"sig")


def _release(version: int, contributors: list[bytes]) -> HubReleaseUpload:
    return HubReleaseUpload(
        period="2026Q3",
        version=version,
        tables=[{"by": ["sex"], "total": 30}],
        contributors=contributors,
        signature=b"signed",
        sealed_counts=b"sealed-true-counts",
    )


def test_members_consent_and_contributions(storage: Storage) -> None:
    admitted = storage.hub_admit(KEY_A, "Org A", NOW)
    assert (admitted.name, admitted.sharing, admitted.consent) == ("Org A", False, None)
    with pytest.raises(AlreadyExists):
        storage.hub_admit(KEY_A, "Org A again", NOW)
    with pytest.raises(NotFound):
        storage.hub_member(KEY_B)
    with pytest.raises(NotSharing):
        storage.hub_put_contribution(KEY_A, "2026Q3", b"sealed", NOW)
    assert storage.hub_record_consent(_consent(KEY_A, True)).sharing
    storage.hub_put_contribution(KEY_A, "2026Q3", b"first", NOW)
    storage.hub_put_contribution(KEY_A, "2026Q3", b"late sync", NOW + timedelta(days=1))
    [stored] = storage.hub_contributions("2026Q3")
    assert (stored.org_key, stored.sealed) == (KEY_A, b"late sync")
    assert storage.hub_contributions("2026Q2") == []
    with pytest.raises(AlreadyExists):  # a replayed, older statement changes nothing
        storage.hub_record_consent(_consent(KEY_A, False, minutes=-1))
    assert storage.hub_member(KEY_A).consent == _consent(KEY_A, True)


def test_withdrawal_drops_contributions_and_marks_releases(storage: Storage) -> None:
    for key, name in ((KEY_A, "Org A"), (KEY_B, "Org B")):
        storage.hub_admit(key, name, NOW)
        storage.hub_record_consent(_consent(key, True))
        storage.hub_put_contribution(key, "2026Q3", b"sealed " + name.encode(), NOW)
    first = storage.hub_put_release(_release(1, [KEY_A, KEY_B]), NOW)
    assert (first.version, first.withdrawn, first.sealed_counts) == (1, [], b"sealed-true-counts")
    with pytest.raises(AlreadyExists):
        storage.hub_put_release(_release(1, [KEY_A]), NOW)
    with pytest.raises(AlreadyExists):
        storage.hub_put_release(_release(3, [KEY_A]), NOW)
    member = storage.hub_record_consent(_consent(KEY_B, False, minutes=5))
    assert not member.sharing and member.consent is not None
    [release] = storage.hub_releases("2026Q3")
    assert release.withdrawn == [KEY_B] and release.sealed_counts is None
    assert [c.org_key for c in storage.hub_contributions("2026Q3")] == [KEY_A]
    with pytest.raises(NotSharing):
        storage.hub_put_contribution(KEY_B, "2026Q4", b"after withdrawal", NOW)
    second = storage.hub_put_release(_release(2, [KEY_A]), NOW)
    assert second.withdrawn == []
    assert [r.version for r in storage.hub_releases(None)] == [1, 2]
