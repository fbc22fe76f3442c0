"""The storage contract of people, not rows (SQLite and PostgreSQL): match digests kept per
revision, candidate duplicate pairs (same form, heads only, scoped to the viewer's
organisation and region), a merge that marks one record the duplicate of the other and a
dismissal that undoes it, digests erased with a consent withdrawal, and participants counted
as people (same name with the same organisation or phone) with same-name pairs to confirm."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync.server.storage import NotFound, OfficeFilter, Storage
from tests.server.storage._support import NOW, Member, revision


def digest(label: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, label).hex


def victim(name: str, dob: str) -> list[dict[str, str]]:
    given, family = name.split()
    return [
        {"subject": "", "kind": "name", "digest": digest(f"n:{name}")},
        {"subject": "", "kind": "given_dob", "digest": digest(f"g:{given}:{dob}")},
        {"subject": "", "kind": "family_dob", "digest": digest(f"f:{family}:{dob}")},
    ]


def test_pairs_found_by_shared_digests_and_merged_without_losing_a_record(
    storage: Storage, org_id: str
) -> None:
    north = Member(storage, org_id, "collector", "north")
    south = Member(storage, org_id, "collector", "south")
    first = north.envelope(form_id="victim", match=victim("Ana Lima", "2001-02-03"))
    # A typo in the family name: the name and family+dob keys differ, given+dob matches.
    typo = south.envelope(form_id="victim", match=victim("Ana Lina", "2001-02-03"))
    other = south.envelope(form_id="victim", match=victim("Bo Chan", "1990-01-01"))
    other_form = south.envelope(form_id="attendance", match=victim("Ana Lima", "2001-02-03"))
    storage.push_records(north.device, [first], NOW)
    storage.push_records(south.device, [typo, other, other_form], NOW + timedelta(minutes=1))

    case_manager = Member(storage, org_id, "case_manager", None)
    [pair] = storage.office_duplicates(case_manager.device, 100)
    assert {row.id for row in pair.rows} == {first.id, typo.id}
    assert pair.shared == ("given_dob",)
    assert all(not hasattr(row, "sealed") for row in pair.rows)
    # A regional viewer sees pairs of its region only.
    assert (
        storage.office_duplicates(Member(storage, org_id, "case_manager", "north").device, 9) == []
    )

    stored = storage.decide_duplicate(case_manager.device, pair.pair, "merged", None, NOW)
    assert stored.kept == str(first.id)  # received first
    assert storage.office_duplicates(case_manager.device, 100) == []
    rows = {
        r.id: r for r in storage.office_records(case_manager.device, OfficeFilter(), None, 9).rows
    }
    assert len(rows) == 4  # nothing deleted
    assert rows[typo.id].duplicate_of == first.id and rows[first.id].duplicate_of is None

    storage.decide_duplicate(case_manager.device, pair.pair, "dismissed", None, NOW)
    rows = {
        r.id: r for r in storage.office_records(case_manager.device, OfficeFilter(), None, 9).rows
    }
    assert rows[typo.id].duplicate_of is None

    with pytest.raises(NotFound):
        storage.decide_duplicate(case_manager.device, f"{first.id}~{other.id}", "merged", None, NOW)
    with pytest.raises(ValueError, match="keep"):
        storage.decide_duplicate(case_manager.device, pair.pair, "merged", other.id, NOW)
    stranger = Member(storage, storage.create_organisation("Org B", NOW).id, "case_manager", None)
    assert storage.office_duplicates(stranger.device, 100) == []
    with pytest.raises(NotFound):
        storage.decide_duplicate(stranger.device, pair.pair, "merged", None, NOW)


def test_only_heads_count_and_a_withdrawal_erases_the_digests(
    storage: Storage, org_id: str
) -> None:
    alice = Member(storage, org_id, "collector", None)
    one = alice.envelope(form_id="victim", match=victim("Ana Lima", "2001-02-03"))
    two = alice.envelope(form_id="victim", match=victim("Ana Lima", "2001-02-03"))
    storage.push_records(alice.device, [one, two], NOW)
    office = Member(storage, org_id, "admin", None)
    assert len(storage.office_duplicates(office.device, 10)) == 1
    # The second record's new revision names someone else: no pair any more.
    edit = alice.envelope(record_id=two.id, rev=revision(2), base=two.revision, form_id="victim",
                          match=victim("Bo Chan", "1990-01-01"))  # fmt: skip
    storage.push_records(alice.device, [edit], NOW)
    assert storage.office_duplicates(office.device, 10) == []
    back = alice.envelope(record_id=two.id, rev=revision(3), base=edit.revision, form_id="victim",
                          match=victim("Ana Lima", "2001-02-03"))  # fmt: skip
    storage.push_records(alice.device, [back], NOW)
    assert len(storage.office_duplicates(office.device, 10)) == 1
    gone = alice.envelope(record_id=two.id, rev=revision(4), base=back.revision, form_id="victim",
                          withdrawn=True)  # fmt: skip
    storage.push_records(alice.device, [gone], NOW)
    assert storage.office_duplicates(office.device, 10) == []


def participant(pid: str, name: str, org: str | None, phone: str | None) -> tuple[dict, list]:
    keys = [{"subject": pid, "kind": "name", "digest": digest(f"n:{name}")}]
    if org:
        keys.append({"subject": pid, "kind": "name_org", "digest": digest(f"o:{name}:{org}")})
    if phone:
        keys.append({"subject": pid, "kind": "name_phone", "digest": digest(f"p:{name}:{phone}")})
    return {"_id": pid, "sex": "female"}, keys


def training(member: Member, *people: tuple[dict, list]) -> object:
    return member.envelope(
        form_id="training",
        stats={"participants": [p for p, _ in people]},
        match=[k for _, keys in people for k in keys],
    )


def test_participants_are_counted_as_people(storage: Storage, org_id: str) -> None:
    trainer = Member(storage, org_id, "trainer", "north")
    storage.push_records(trainer.device, [
        training(trainer, participant("p1", "ana lima", "court", "111"),
                 participant("p2", "bo chan", "police", None)),
        # Ana again (same organisation, new phone); Bo with another organisation and no
        # phone: the same name only, for a coordinator.
        training(trainer, participant("p3", "ana lima", "court", "222"),
                 participant("p4", "bo chan", "ngo", None)),
        training(trainer, participant("p5", "cy dee", None, None)),
    ], NOW)  # fmt: skip
    coordinator = Member(storage, org_id, "coordinator", None)
    count = storage.office_people(coordinator.device, "training")
    assert (count.attendances, count.people) == (5, 4)
    [(pair, one, two)] = count.to_confirm
    assert {one.subject, two.subject} == {"p2", "p4"} and one.stats == {"sex": "female"}

    storage.decide_people(coordinator.device, pair, "confirmed", NOW)
    count = storage.office_people(coordinator.device, "training")
    assert (count.attendances, count.people, count.to_confirm) == (5, 3, [])
    storage.decide_people(coordinator.device, pair, "rejected", NOW)
    count = storage.office_people(coordinator.device, "training")
    assert (count.attendances, count.people, count.to_confirm) == (5, 4, [])

    south = Member(storage, org_id, "coordinator", "south")
    assert storage.office_people(south.device, "training").attendances == 0
    with pytest.raises(NotFound):
        storage.decide_people(south.device, pair, "confirmed", NOW)
