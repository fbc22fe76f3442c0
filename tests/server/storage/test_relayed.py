"""The storage contract of relays (issue #11): a relay pushes the envelopes of the devices
enrolled at it, each stored with the relays it came through; a relay reads its revisions
after a cursor to forward them; the centre lists what came through relays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.server.storage import Storage
from tests.server.storage._support import NOW, Member, revision


def _hop(node: str, minutes: int) -> dict[str, str]:
    return {"node": node, "received_at": (NOW - timedelta(minutes=minutes)).isoformat()}


def test_a_relay_stores_its_devices_envelopes_with_their_hops_and_writes_as_the_signer(
    storage: Storage, org_id: str
) -> None:
    relay = Member(storage, org_id, "relay", "north")
    phone = Member(storage, org_id, "trainer", "north")
    first = phone.envelope()
    path = [_hop("district-1", 30), _hop(relay.device.id, 10)]
    [result] = storage.push_records(relay.device, [first], NOW, hops=[path])
    assert result.status == "accepted"
    [stored] = storage.list_revisions(org_id, first.id)
    assert (stored.device_id, stored.pushed_by, stored.region) == (
        phone.device.id,
        relay.device.id,
        "north",
    )
    assert list(stored.hops) == path
    assert stored.to_envelope() == first  # as the device signed it

    # The record is the signer's: an edit of it through the relay is the signer's edit, and
    # a duplicate keeps the hops it was first stored with.
    edit = phone.envelope(first.id, revision(2), base=first.revision)
    again = storage.push_records(relay.device, [first, edit], NOW, hops=[[], [_hop("x", 1)]])
    assert [r.status for r in again] == ["duplicate", "accepted"]
    assert list(storage.list_revisions(org_id, first.id)[0].hops) == path
    # Another device's envelope pushed by a relay is still only its signer's to write.
    stranger = Member(storage, org_id, "trainer", "north")
    [taken] = storage.push_records(
        relay.device, [stranger.envelope(first.id, revision(3), base=edit.revision)], NOW, hops=[[]]
    )
    assert taken.status == "rejected" and taken.errors[0].code == "not_record_owner"


def test_revisions_after_a_cursor_come_in_the_order_stored_and_relayed_ones_newest_first(
    storage: Storage, org_id: str
) -> None:
    relay = Member(storage, org_id, "relay", None)
    phone = Member(storage, org_id, "collector", "south")
    direct = storage.push_records(phone.device, [phone.envelope() for _ in range(3)], NOW)
    relayed = storage.push_records(
        relay.device, [phone.envelope() for _ in range(2)], NOW,
        hops=[[_hop(relay.device.id, 5)], [_hop(relay.device.id, 4)]],
    )  # fmt: skip
    seqs = [r.seq for r in [*direct, *relayed]]
    page = storage.revisions_after(org_id, 0, 4)
    assert [r.seq for r in page] == seqs[:4]
    assert [r.seq for r in storage.revisions_after(org_id, page[-1].seq, 4)] == seqs[4:]
    assert storage.revisions_after(org_id, seqs[-1], 4) == []
    other = storage.create_organisation("Org B", NOW).id
    assert storage.revisions_after(other, 0, 10) == []

    newest = storage.relayed_revisions(org_id, 10)
    assert [r.revision for r in newest] == [r.revision for r in reversed(relayed)]
    assert [r.hops[0]["node"] for r in newest] == [relay.device.id] * 2
    assert len(storage.relayed_revisions(None, 1)) == 1
    with pytest.raises(ValueError):
        storage.revisions_after(org_id, 0, 0)


def test_an_organisation_can_take_its_upstream_id(storage: Storage) -> None:
    org = storage.create_organisation("Upstream", NOW, org_id="0b5e0c9e-org-upstream")
    assert storage.get_organisation("0b5e0c9e-org-upstream") == org
