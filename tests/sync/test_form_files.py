"""A form version's attached file reaches the device with it: fetched once by digest after
the pull (a later version naming the same file fetches nothing), kept encrypted in the store,
read into the form the app and the device's checks use; a version whose file is missing
cannot be started, and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldapp.errors import StoreLocked
from fieldapp.office.xlsform import import_form
from fieldapp.store import FormUnusable, Store, ValidationFailed
from sync.client import SyncClient
from sync.server import admin
from tests._cascade_form import write_cascade_form
from tests.conftest import PASSPHRASE
from tests.sync._harness import Deployment


def store_bytes(store: Store) -> bytes:
    store.core.checkpoint()
    path = Path(store.path)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_attached_file_travels_with_the_form_version(
    device: Store, client: SyncClient, deployment: Deployment, tmp_path: Path
) -> None:
    imported = import_form(write_cascade_form(tmp_path / "form", repeat_count=False))
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, imported.spec, files=imported.files)

    report = client.sync()
    assert report.ok, report.errors
    assert report.form_files == 1
    spec = device.forms.get("cascade")
    assert [c.value for c in spec.choices["provinces"]] == ["nairobi", "mombasa", "kampala", "gulu"]
    # encrypted at rest: no row of the file is in the store's files
    on_disk = store_bytes(device)
    assert b"Kampala Central" not in on_disk and b"nairobi" not in on_disk

    # the device's own checks read the file: a province of another country is refused
    values = {"case_code": "C-7", "country": "ke", "province": "gulu", "n": 0}
    with pytest.raises(ValidationFailed) as refused:
        device.records.create_final("cascade", values)
    assert [(e.field, e.code) for e in refused.value.errors] == [("province", "choice")]
    record = device.records.create_final("cascade", {**values, "province": "mombasa"})
    assert record.values["capital"] == "Mombasa Island"  # pulldata from the file
    sent = client.sync()
    assert (sent.accepted, sent.errors) == (1, [])
    [(stats,)] = deployment.query("SELECT stats FROM records WHERE form_id = 'cascade'")
    assert json.loads(stats)["province"] == "mombasa"

    # version 2 names the same file: the form comes, the file is not fetched again
    v2 = imported.spec.model_copy(update={"version": "2"})
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, v2)
    again = client.sync()
    assert again.ok, again.errors
    assert (again.forms_added, again.form_files) == (1, 0)
    assert device.forms.get("cascade").version == "2"
    assert device.forms.get("cascade").choices["provinces"][0].value == "nairobi"


def test_a_version_whose_file_is_missing_cannot_be_started(store: Store, tmp_path: Path) -> None:
    imported = import_form(write_cascade_form(tmp_path / "form", repeat_count=False))
    store.forms.add(imported.spec, source="server")
    assert [s.id for s in store.forms.usable()].count("cascade") == 1  # listed all the same
    with pytest.raises(FormUnusable, match=r"needs the file provinces\.csv.*sync to fetch it"):
        store.forms.get("cascade")
    with pytest.raises(FormUnusable, match=r"provinces\.csv"):
        store.records.new_draft("cascade", {"case_code": "C-1"})
    assert store.forms.missing_files() == {
        imported.spec.attachments["provinces"].sha256: "provinces.csv"
    }
    # a file is kept only with the key, and only if it is what its digest says
    [(digest, content)] = imported.files.items()
    store.keyring.lock()
    with pytest.raises(StoreLocked):
        store.forms.files.put(digest, content)
    store.keyring.unlock(PASSPHRASE)
    with pytest.raises(Exception, match="does not match its sha256"):
        store.forms.files.put(digest, content + b"x,X,ke,Y\n")
    store.forms.files.put(digest, content)
    assert store.forms.missing_files() == {}
    assert store.forms.get("cascade").choices["provinces"][2].value == "kampala"


def test_a_file_comes_with_a_new_device_too(
    deployment: Deployment, app_url: str, tmp_path: Path, app_transport
) -> None:  # type: ignore[no-untyped-def]
    from sync.client import enrol

    imported = import_form(write_cascade_form(tmp_path / "form", repeat_count=False))
    with admin.open_server_storage(deployment.settings) as storage:
        org = admin.find_org(storage, deployment.org_id)
        admin.publish_form(storage, imported.spec, org=org.id, files=imported.files)
    fresh = Store.create(tmp_path / "fresh" / "fieldapp.db", PASSPHRASE)
    try:
        enrol(fresh, app_url, deployment.code(), transport=app_transport)
        with SyncClient(fresh, transport=app_transport) as sync_client:
            report = sync_client.sync()
        assert report.ok and report.form_files == 1
        assert len(fresh.forms.get("cascade").choices["provinces"]) == 4
    finally:
        fresh.close()
