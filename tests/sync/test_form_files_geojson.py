"""A form version choosing from a GeoJSON file reaches the device with it, through the real
server: fetched by digest, kept encrypted in the store, read into the list the app shows and
the device's checks use (features, their properties and geometry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldapp.office.xlsform import import_form
from fieldapp.store import Store, ValidationFailed
from sync.client import SyncClient
from sync.server import admin
from tests.sync._harness import Deployment
from tests.sync.test_form_files import store_bytes
from tests.test_xlsform_geojson import PLACES, write_places_form


def test_the_geojson_file_travels_with_the_form_version(
    device: Store, client: SyncClient, deployment: Deployment, tmp_path: Path
) -> None:
    imported = import_form(write_places_form(tmp_path / "form", PLACES))
    with admin.open_server_storage(deployment.settings) as storage:
        admin.publish_form(storage, imported.spec, files=imported.files)

    report = client.sync()
    assert report.ok, report.errors
    assert report.form_files == 1
    spec = device.forms.get("places")
    assert [c.value for c in spec.choices["places"]] == ["w1", "w2", "w4", "w3"]
    assert spec.choice_label("places", "w3", "en") == "Access road"
    on_disk = store_bytes(device)
    assert b"Mbagathi" not in on_disk and b"Ngong road" not in on_disk  # encrypted at rest

    with pytest.raises(ValidationFailed) as refused:
        device.records.create_final("places", {"kind": "clinic", "place": "w2"})
    assert [(e.field, e.code) for e in refused.value.errors] == [("place", "choice")]
    record = device.records.create_final("places", {"kind": "road", "place": "w3"})
    assert record.values["street"] == "Ngong road"
    assert record.values["where"] == "-1.2 36.8 0 0; -1.21 36.81 0 0"
    sent = client.sync()
    assert (sent.accepted, sent.errors) == (1, [])
