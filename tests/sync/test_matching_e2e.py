"""People, not rows, end to end through the real server and the real clients: two social
workers' devices, enrolled with codes that carry the organisation's match key, record the
same victim with a typo in one field; the case manager's device sees one flagged pair, merges
it, and the report counts one victim. Two trainings with the same participant count one
person and two attendances. A trainer may neither list nor decide; the server's database
holds no victim name, and its digests are not unkeyed hashes of it."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import OfficeClient, ServerRefused, SyncClient, enrol
from tests.conftest import CANARY, PASSPHRASE, attendance_values, screening_values
from tests.sync._harness import Deployment

FAMILY = "Sokhaqua"  # a canary family name too


def _enrolled(
    deployment: Deployment, org_key: crypto.OrgKeyPair, url: str, transport: Any, path: Path,
    role: str, region: str | None = None,
) -> Store:  # fmt: skip
    store = Store.create(path / STORE_FILENAME, PASSPHRASE)
    code = deployment.issue(
        role,  # type: ignore[arg-type]
        region,
        team_key=org_key.team_key(deployment.org_id, region),
        match_key=org_key.match_key(deployment.org_id),
    ).code
    result = enrol(store, url, code, transport=transport)
    assert result.match_key
    return store


def test_two_devices_record_one_victim_the_case_manager_merges_and_the_report_counts_one(
    deployment: Deployment,
    org_key: crypto.OrgKeyPair,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
    cli: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the server runs in this process: its logs land here
    one = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "a", "collector", "north"
    )
    two = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "b", "collector", "north"
    )
    values = screening_values(CANARY, family_name=FAMILY, date_of_birth="1997-05-01")
    first = one.records.create_final("victim_screening", values)
    # The second social worker types the given name with a typo and adds the case code anew.
    second = two.records.create_final(
        "victim_screening", {**values, "given_name": CANARY + "h", "case_code": "KH-2026-0099"}
    )
    other = two.records.create_final(
        "victim_screening",
        screening_values("Someone", family_name="Else", date_of_birth="1980-01-01"),
    )
    for store in (one, two):
        with SyncClient(store, transport=app_transport) as client:
            assert client.sync().ok

    office_store = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "o", "case_manager"
    )
    trainer = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "t", "trainer", "north"
    )
    with OfficeClient(trainer, transport=app_transport) as refused:
        with pytest.raises(ServerRefused, match="may not"):
            refused.duplicates()
        with pytest.raises(ServerRefused, match="may not"):
            refused.merge(
                f"{first.id}~{second.id}" if first.id < second.id else f"{second.id}~{first.id}"
            )
    with OfficeClient(office_store, transport=app_transport) as office:
        [pair] = office.duplicates().pairs
        assert {str(r.id) for r in pair.records} == {first.id, second.id}
        assert pair.shared == ["family_dob"]
        assert all("given_name" not in r.stats for r in pair.records)
        result = office.merge(pair.pair, keep=first.id)
        assert (result.decision, result.kept) == ("merged", first.id)
        assert office.duplicates().pairs == []
        listed = {str(r.id): r for r in office.records(form="victim_screening")}
        assert len(listed) == 3 and str(listed[second.id].duplicate_of) == first.id
        assert other.id in listed

    office_store.close()
    report = cli(
        tmp_path / "o",
        "office",
        "report",
        "--form",
        "victim_screening",
        "--by",
        "sex",
        "--json",
        "--k",
        "2",
    )
    assert report["total"] == 2  # the merged pair counts once

    # Nothing identifying on the server or in its logs, nor an unkeyed hash of the names.
    assert caplog.records and CANARY not in caplog.text and FAMILY not in caplog.text
    dump = b"".join(p.read_bytes() for p in deployment.settings.data_dir.rglob("*") if p.is_file())
    for name in (CANARY, FAMILY):
        assert name.encode() not in dump and name.lower().encode() not in dump
        for text in (name, name.lower(), crypto.fold_name(f"{CANARY} {FAMILY}")):
            assert hashlib.sha256(text.encode()).hexdigest()[:32].encode() not in dump
    digests = {row[0] for row in deployment.query("SELECT digest FROM record_match_keys")}
    assert len(digests) >= 6
    for store in (one, two, trainer):
        store.close()


def test_two_trainings_with_one_participant_count_one_person_and_two_attendances(
    deployment: Deployment,
    org_key: crypto.OrgKeyPair,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
    cli: Any,
) -> None:
    trainer = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "t", "trainer", "north"
    )
    sheets = (("Court of Appeal", "+855 12 345 678"), ("court of appeal", "012 999 999"))
    for index, (organisation, phone) in enumerate(sheets):
        values = attendance_values("Ana Lima", participants=1)
        values["participants"][0].update(
            _id=f"p-{index}", full_name="Ana Lima", organisation=organisation, phone=phone
        )
        trainer.records.create_final("training_attendance", values)
    with SyncClient(trainer, transport=app_transport) as client:
        assert client.sync().ok
    coordinator = _enrolled(
        deployment, org_key, app_url, app_transport, tmp_path / "c", "coordinator"
    )
    with OfficeClient(coordinator, transport=app_transport) as office:
        people = office.people("training_attendance")
        assert (people.attendances, people.people, people.to_confirm) == (2, 1, [])
    coordinator.close()
    counted = cli(tmp_path / "c", "office", "report", "--form", "training_attendance",
                   "--by", "programme_type", "--people", "--json")  # fmt: skip
    assert (counted["attendances"], counted["people"]) == (2, 1)
    trainer.close()
