"""The storage contract of relays (issue #11): a relay pushes the envelopes of the devices
enrolled at it, each stored with the relays it came through; a relay reads its revisions
after a cursor to forward them; the centre lists what came through relays."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from sync.protocol import RecordChangeData
from sync.server.storage import Storage
from tests.server._harness import chunk_manifest
from tests.server.storage._support import NOW, Member, all_changes, revision
from tests.server.storage.test_attachments import digest


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


def test_a_relay_speaks_for_the_roster_entries_of_its_writers_only_as_theirs(
    storage: Storage, org_id: str
) -> None:
    relay = Member(storage, org_id, "relay", "north")
    author = Member(storage, org_id, "trainer", "north")
    mate = Member(storage, org_id, "collector", "north")
    key = str(uuid.uuid4())
    statuses = storage.put_roster(
        relay.device, [(key, b"sealed-1"), (str(uuid.uuid4()), b"x")], NOW,
        [author.device, None],
    )  # fmt: skip
    assert statuses == ["stored", "refused"]
    # The entry is the author's: the relay writing as a team mate, or the mate, may not
    # replace it; the author may, through the relay or itself.
    assert storage.put_roster(relay.device, [(key, b"forged")], NOW, [mate.device]) == ["refused"]
    assert storage.put_roster(mate.device, [(key, None)], NOW) == ["refused"]
    assert storage.put_roster(author.device, [(key, b"sealed-2")], NOW) == ["stored"]
    assert storage.put_roster(relay.device, [(key, None)], NOW, [author.device]) == ["withdrawn"]
    # Each change keeps its writer, which is what a relay forwards after its cursor.
    writes = storage.roster_writes_after(org_id, 0, 10)
    assert [(w.key, w.sealed, w.author) for w in writes] == [
        (key, b"sealed-1", author.device.id),
        (key, b"sealed-2", author.device.id),
        (key, None, author.device.id),
    ]
    assert storage.roster_writes_after(org_id, writes[1].seq, 10) == writes[2:]


def test_codes_for_a_relay_and_the_enrolments_it_made_offline(
    storage: Storage, org_id: str
) -> None:
    relay = Member(storage, org_id, "relay", "north")
    later = NOW + timedelta(days=1)
    for code_hash, relay_id in (("a" * 64, relay.device.id), ("b" * 64, "other"), ("c" * 64, None)):
        storage.create_enrol_code(
            org_id, code_hash, "collector", "north", later, NOW, relay_id=relay_id,
            proof_key=None if relay_id is None else "f" * 64,
        )  # fmt: skip
    [code] = storage.relay_codes(relay.device.id, NOW)
    assert (code.code_hash, code.relay_id, code.proof_key) == ("a" * 64, relay.device.id, "f" * 64)
    assert storage.relay_codes(relay.device.id, later) == []  # expired
    device = storage.redeem_enrol_code(
        "a" * 64, "phone-1", b"k" * 32, "", "t" * 64, NOW, pending_proof="9" * 64,
        enrolled_via=relay.device.id,
    )  # fmt: skip
    assert device.enrolled_via == relay.device.id
    assert storage.relay_codes(relay.device.id, NOW) == []  # used
    [pending] = storage.pending_enrolments(10)
    assert (pending.device_id, pending.code_hash, pending.proof) == ("phone-1", "a" * 64, "9" * 64)
    assert pending.enrolled_at == NOW
    storage.settle_pending_enrolment("phone-1")
    assert storage.pending_enrolments(10) == []


def test_a_relay_forwards_each_chunk_once_after_the_revision_naming_it(
    storage: Storage, org_id: str
) -> None:
    phone = Member(storage, org_id, "trainer", "north")
    chunk = b"ciphertext of a photo"
    envelope = phone.envelope(attachments=[chunk_manifest(chunk)])
    storage.push_records(phone.device, [envelope], NOW)
    assert storage.store_chunk(phone.device, digest(chunk), chunk, NOW)
    [revision_seq] = [r.seq for r in storage.revisions_after(org_id, 0, 10)]
    assert storage.chunks_to_forward(org_id, revision_seq - 1, 10) == []  # not upstream yet
    assert storage.chunks_to_forward(org_id, revision_seq, 10) == [(digest(chunk), chunk)]
    storage.mark_chunks_forwarded(org_id, [digest(chunk)], NOW)
    assert storage.chunks_to_forward(org_id, revision_seq, 10) == []


def _record_change(revision_id: str, device_id: str, **flags: Any) -> RecordChangeData:
    """What the upstream says of a record in its `record` change (ids and states only)."""
    return RecordChangeData(
        revision=revision_id, base_revision=None, head_revision=revision_id,
        device_id=device_id, form_id="f", form_version="1", conflict=False, siblings=(),
        **flags,
    )  # fmt: skip


def _record_changes(storage: Storage, viewer: Member) -> list[tuple[str, str]]:
    page = storage.changes_since(viewer.device, 0, 100)
    return [(c.key, c.data.model_dump_json()) for c in page.changes if c.kind == "record"]


def test_an_upstream_record_change_reaches_the_devices_that_wrote_the_record_here_once(
    storage: Storage, org_id: str
) -> None:
    district = Member(storage, org_id, "relay", "north")
    phone = Member(storage, org_id, "trainer", "north")
    stranger = Member(storage, org_id, "trainer", "north")
    first = phone.envelope()
    storage.push_records(district.device, [first], NOW, hops=[[_hop(district.device.id, 3)]])
    before = {who: _record_changes(storage, who) for who in (phone, district, stranger)}
    flagged = _record_change(first.revision, phone.device.id, resolved=True,
                             superseded=("2-other",))  # fmt: skip

    args = (org_id, 41, first.id, False, flagged, NOW, "relay:me")
    assert storage.pass_record_change_down(*args) is True
    assert storage.pass_record_change_down(*args) is False  # the same page pulled again
    elsewhere = (org_id, 42, uuid.uuid4(), False, flagged, NOW, "relay:me")
    assert storage.pass_record_change_down(*elsewhere) is False  # not a record held here

    passed = (str(first.id), flagged.model_dump_json())
    for who in (phone, district):  # the writer, and the relay below that pushed it here
        assert _record_changes(storage, who) == [*before[who], passed]
    assert _record_changes(storage, stranger) == before[stranger]


def test_a_consent_withdrawal_from_upstream_erases_the_sealed_parts_here(
    storage: Storage, org_id: str
) -> None:
    phone = Member(storage, org_id, "collector", "north")
    first = phone.envelope()
    edit = phone.envelope(first.id, revision(2), base=first.revision)
    storage.push_records(phone.device, [first, edit], NOW)
    withdrawal = _record_change(revision(3), phone.device.id, consent_withdrawn=True)

    assert storage.pass_record_change_down(org_id, 7, first.id, False, withdrawal, NOW, "relay:me")
    assert [r.sealed for r in storage.list_revisions(org_id, first.id)] == [None, None]
    assert storage.get_record(org_id, first.id).consent_withdrawn
    [later] = storage.push_records(
        phone.device, [phone.envelope(first.id, revision(4), base=edit.revision)], NOW
    )
    assert later.status == "rejected" and later.errors[0].code == "consent_withdrawn"
    assert ("withdraw_consent", "erased:upstream") in {
        (entry.action, entry.outcome) for entry in storage.list_audit(org_id=org_id)
    }


def test_a_resolution_from_upstream_settles_the_conflict_here_when_the_kept_version_is_here(
    storage: Storage, org_id: str
) -> None:
    phone = Member(storage, org_id, "collector", "north")
    first = phone.envelope()
    edit_a = phone.envelope(first.id, revision(2), base=first.revision)
    edit_b = phone.envelope(first.id, "2-" + "b" * 32, base=first.revision)
    outcomes = storage.push_records(phone.device, [first, edit_a, edit_b], NOW)
    assert [r.status for r in outcomes] == ["accepted", "accepted", "conflict"]
    settled = _record_change(edit_b.revision, phone.device.id, resolved=True,
                             superseded=(edit_a.revision,))  # fmt: skip

    assert storage.pass_record_change_down(org_id, 9, first.id, False, settled, NOW, "relay:me")
    head = storage.get_record(org_id, first.id)
    assert (head.head_revision, head.in_conflict) == (edit_b.revision, False)
    # An edit built on the kept version is no new conflict here.
    on_kept = phone.envelope(first.id, revision(3), base=edit_b.revision)
    assert storage.push_records(phone.device, [on_kept], NOW)[0].status == "accepted"
    # One resolution reached the phone: the upstream's, not one of this relay's own as well.
    resolutions = [c for c in all_changes(storage, phone.device) if c.kind == "record"
                   and c.data.resolved]  # fmt: skip
    assert [c.data for c in resolutions] == [settled]
