"""A built-in form's new version (training attendance 3: the province from the country's
ISO 3166-2 list) leaves the records made on the one before (2: the province typed) as they
were: they validate against their own version, open, sync to a real server over HTTP, and
count in the aggregates as they are. A device updated later, or a new one, makes its new
records on the newest version even after the server sends it the older one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from fieldapp.forms.builtin import load_archived_forms, load_builtin_forms
from fieldapp.forms.validate import check
from fieldapp.office.aggregates.counting import count_tables
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from tests.conftest import PASSPHRASE, attendance_values
from tests.sync._harness import Deployment

TRAINING = "training_attendance"
TYPED = "Battambang, near the old market"  # as version 2 took it: free text


def test_a_record_on_the_previous_version_keeps_validating_opening_and_syncing(
    device: Store,
    client: SyncClient,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    tmp_path: Path,
) -> None:
    store = device  # enrolled; it has not synced yet
    v2 = load_archived_forms()[[s.id for s in load_archived_forms()].index(TRAINING)]
    assert (v2.version, v2.node("province").type) == ("2", "text")
    # the device as the previous release left it: version 2 its training form
    store.core.db.execute("DELETE FROM forms WHERE id = ?", [TRAINING])
    store.forms.add(v2, source="builtin")
    old = store.records.create_final(TRAINING, {**attendance_values(), "province": TYPED})
    assert old.form_version == "2"
    # the app is updated: version 3 comes in beside it
    store.forms.install_builtin()
    v3 = store.forms.get(TRAINING)
    assert v3 == load_builtin_forms()[TRAINING] and v3.version == "3"
    new = store.records.create_final(TRAINING, attendance_values())  # province KH-2
    assert new.form_version == "3"

    # the old record opens with its own version, and validates there as it was
    record = store.records.get(old.id)
    assert record.values["province"] == TYPED
    spec = store.forms.get(TRAINING, record.form_version)
    assert spec == v2 and check(spec, record.values).ok
    assert not check(v3, record.values).ok  # its text is no province code of version 3

    # both reach the server, which knows version 2 (it publishes the archived versions)
    report = client.sync()
    assert report.ok, report.errors
    assert report.accepted == 2
    rows = deployment.query("SELECT form_version, stats FROM records ORDER BY form_version")
    assert [version for version, _ in rows] == ["2", "3"]
    stats = {version: json.loads(text) for version, text in rows}
    assert "province" not in stats["2"]  # sealed then (free text), as it always was
    assert stats["3"]["province"] == "KH-2"  # in clear now: a code, countable
    assert TYPED not in json.dumps(deployment.query("SELECT stats FROM records"))

    # "trainings by province": the old record as it is (not answered), the new by code,
    # the categories Cambodia's provinces (the country counted), not the world's
    [table] = count_tables(v3, stats.values(), [["province"]])
    [dimension] = table.dims
    values = [c.value for c in dimension.categories]
    assert "KH-2" in values and "other" in values and None in values
    assert all(v is None or v == "other" or v.startswith("KH-") for v in values)
    assert len(values) == 25 + 2  # 25 provinces, other, not answered
    counts = {c.value: table.counts[(i,)] for i, c in enumerate(dimension.categories)}
    assert (counts["KH-2"], counts[None], counts["KH-7"]) == (1, 1, 0)

    # a new device: it pulls version 2 from the server, and still makes records on 3
    fresh = Store.create(tmp_path / "fresh" / "fieldapp.db", PASSPHRASE)
    try:
        enrol(fresh, app_url, deployment.code(), transport=app_transport)
        with SyncClient(fresh, transport=app_transport) as client:
            assert client.sync().ok
        assert fresh.forms.get(TRAINING, "2") == v2
        assert fresh.forms.get(TRAINING).version == "3"
        assert fresh.records.new_draft(TRAINING).form_version == "3"
    finally:
        fresh.close()


def test_an_older_version_arriving_later_does_not_stand_in_for_the_newest(store: Store) -> None:
    """The server publishes a form's earlier versions (for their records): added after the
    newest, one still never becomes the version new records are made on."""
    newest = store.forms.get(TRAINING)
    older = newest.model_copy(update={"version": "1"})
    store.forms.add(older, source="server")
    assert store.forms.get(TRAINING) == newest
    assert {spec.id: spec.version for spec in store.forms.usable()}[TRAINING] == newest.version
    assert store.records.new_draft(TRAINING).form_version == newest.version
    later = newest.model_copy(update={"version": "10"})  # 10 after 3, not before it
    store.forms.add(later, source="server")
    assert store.forms.get(TRAINING).version == "10"
