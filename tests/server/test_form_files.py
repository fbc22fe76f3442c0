"""Files attached to a form version, through the real server: published content-addressed,
served to the devices of the organisation only, and read by the server's own checks of a
record's statistics (a province forged outside the country's list is refused)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from fieldapp.office.xlsform import import_form
from sync.protocol import PushResponse
from sync.server import admin
from tests._cascade_form import PROVINCES_CSV, write_cascade_form
from tests.server._harness import World


def test_a_published_file_is_served_by_digest_to_its_organisation_only(
    world: World, tmp_path: Path
) -> None:
    imported = import_form(write_cascade_form(tmp_path / "form", repeat_count=False))
    org, other = world.org("Files Org"), world.org("Other Org")
    admin.publish_form(world.storage, imported.spec, org=org.id, files=imported.files)
    digest = hashlib.sha256(PROVINCES_CSV.encode()).hexdigest()
    phone, stranger = world.enrol(org), world.enrol(other)
    answer = world.client.get(f"/v1/form-files/{digest}", headers=phone.auth)
    assert answer.status_code == 200
    assert answer.content == PROVINCES_CSV.encode()
    assert "immutable" in answer.headers["cache-control"]
    refused = world.client.get(f"/v1/form-files/{digest}", headers=stranger.auth)
    assert (refused.status_code, refused.json()["error"]) == (404, "form_file_not_found")
    assert world.client.get(f"/v1/form-files/{digest}").status_code == 401
    assert world.client.get("/v1/form-files/../x", headers=phone.auth).status_code == 404
    # version 2 with the same file: published without sending the file again
    v2 = imported.spec.model_copy(update={"version": "2"})
    admin.publish_form(world.storage, v2, org=org.id)


def outcomes(response: httpx.Response) -> PushResponse:
    assert response.status_code == 200, response.text
    return PushResponse.model_validate_json(response.content)


def test_the_server_checks_statistics_against_the_attached_file(
    world: World, tmp_path: Path
) -> None:
    imported = import_form(write_cascade_form(tmp_path / "form", repeat_count=False))
    org = world.org("Checks Org")
    admin.publish_form(world.storage, imported.spec, org=org.id, files=imported.files)
    phone = world.enrol(org)
    form = ("cascade", "1")
    honest = phone.envelope(form=form, stats={"country": "ug", "province": "gulu", "n": 0})
    forged = phone.envelope(form=form, stats={"country": "ke", "province": "gulu", "n": 0})
    unknown = phone.envelope(form=form, stats={"country": "ke", "province": "atlantis", "n": 0})
    result = outcomes(world.push(phone, honest, forged, unknown)).outcomes
    assert [o.status for o in result] == ["accepted", "rejected", "rejected"]
    assert [(e.code, e.path) for e in result[1].errors] == [("choice", "province")]
    assert [(e.code, e.path) for e in result[2].errors] == [("choice", "province")]
