"""The authorisation tests' world (`Matrix`): built afresh for each test over SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldapp import crypto
from fieldapp.forms.files import FormFile
from sync.server import admin
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.server._harness import FORM, World, running
from tests.server.authz._matrix import A_FILE, A_FILE_SHA, A_ONLY_VERSION, ROLES, Matrix


@pytest.fixture
def matrix(tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[Matrix]:
    settings = ServerSettings(data_dir=tmp_path / "server", rate_limit_burst=10_000)
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        world = World(app, client, org_key)
        org_a, org_b = world.org("Org A"), world.org("Org B")
        admin.publish_form(
            world.storage, FORM.model_copy(update={"version": A_ONLY_VERSION}), org=org_a.id
        )
        ref = FormFile(file="places.csv", sha256=A_FILE_SHA, size=len(A_FILE))
        with_file = FORM.model_copy(update={"version": "a-file", "attachments": {"places": ref}})
        admin.publish_form(world.storage, with_file, org=org_a.id, files={A_FILE_SHA: A_FILE})
        author = world.enrol(org_a, "collector", "north")
        envelope = author.envelope(form=(FORM.id, A_ONLY_VERSION))
        pushed = world.push(author, envelope)
        assert pushed.json()["outcomes"][0]["status"] == "accepted"
        by_role = {
            role: world.enrol(
                org_a, role, "north" if role in ("collector", "trainer", "relay") else None
            )
            for role in ROLES
        }
        revoked = world.enrol(org_a, "admin")
        admin.revoke(world.storage, revoked.device_id)
        yield Matrix(
            world,
            org_a,
            org_b,
            author,
            envelope.id,
            envelope.revision,
            by_role,
            revoked,
            world.enrol(org_b, "admin"),
        )
