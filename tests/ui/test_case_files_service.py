"""Case files through the app's service and state against the real server: a case manager's
device unlocks the organisation's key from its file's bytes and passphrase, opens a victim's
record (sealed answers labelled as the review shows them), locks; named messages for a wrong
passphrase, another file, another organisation's key; a coordinator's device never gets the
section and is refused by the service; the key is forgotten when the device locks. And the
canary: after the openings, the victim's name is in no byte of the case manager's data
folder, the server's folder (database, -wal, -shm, its DEBUG log), any log line, nor any
temporary file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.ui.screens.office import sections_for
from fieldapp.ui.services import NotACaseManager
from fieldapp.ui.services.case_files import CaseFilesLocked
from fieldapp.ui.state import AppState
from tests.conftest import CANARY
from tests.security.canary import scan_bytes, scan_paths, temporary_files_in
from tests.security.test_canary import everything_logged_at_debug
from tests.ui._office import OfficeWorld, office_world, screening_values

KEY_PASSPHRASE = "the organisation's own passphrase"


@pytest.fixture
def world(
    tmp_path: Path, org_key: crypto.OrgKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OfficeWorld]:
    temporary_files_in(tmp_path / "tmp", monkeypatch)
    with office_world(tmp_path / "world", org_key) as made:
        yield made


@pytest.fixture
def key_file(tmp_path: Path, org_key: crypto.OrgKeyPair) -> bytes:
    path = tmp_path / "keys" / "org.key"
    path.parent.mkdir()
    org_key.save(path, KEY_PASSPHRASE)
    return path.read_bytes()


def test_a_case_manager_unlocks_opens_and_locks_leaving_nothing_in_clear(
    world: OfficeWorld, key_file: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = world.collect(world.enrol("phone", "collector", "north"), "victim_screening",
                         screening_values())  # fmt: skip
    manager_dir = world.enrol("manager", "case_manager")
    server_dir = world.deployment.settings.data_dir
    with everything_logged_at_debug(server_dir / "server-debug.log"):
        services = world.services(manager_dir)
        try:
            state = AppState(services=services)
            state.go("office")
            assert "case_files" in [s.id for s in sections_for(state.office.role)]
            files = state.office.case_files
            assert files.available and not files.unlocked
            assert not files.unlock("anything at all")
            assert files.message_key == "no_key_file"
            files.pick_key_file("notes.txt", b"just some notes")
            assert not files.unlock(KEY_PASSPHRASE) and files.message_key == "not_a_key_file"
            files.pick_key_file("org.key", key_file)
            assert (
                not files.unlock("not the passphrase") and files.message_key == "wrong_passphrase"
            )
            assert files.message == "Wrong passphrase for this key file."
            assert files.unlock(KEY_PASSPHRASE) and files.unlocked
            assert [str(r.id) for r in files.records] == [sent.id]
            assert files.open(sent.id)
            shown = {line.label: line.text for line in files.lines}
            assert shown["Given name(s)"] == CANARY and shown["Sex / gender"] == "Female"
            files.set_language("fr")
            assert {line.label: line.text for line in files.lines}["Prénom(s)"] == CANARY
            open_hits, _ = scan_paths([manager_dir, server_dir, tmp_path / "tmp"], CANARY)
            files.lock()
            assert not files.unlocked and files.lines == [] and files.opened is None
            with pytest.raises(CaseFilesLocked):
                services.case_files.open(sent.id)
            # The device's lock forgets the key too.
            files.pick_key_file("org.key", key_file)
            assert files.unlock(KEY_PASSPHRASE)
            state.lock()
            assert not services.case_files.unlocked and not files.unlocked
        finally:
            services.close()
    closed_hits, scanned = scan_paths([manager_dir, server_dir, tmp_path / "tmp"], CANARY)
    log_hits = scan_bytes("caplog", caplog.text.encode(), CANARY)
    assert not [*open_hits, *closed_hits, *log_hits], [*open_hits, *closed_hits, *log_hits]
    assert scanned > 50_000 and list((tmp_path / "tmp").rglob("*")) == []
    assert "/sealed" in (server_dir / "server-debug.log").read_text()


def test_another_organisations_key_is_refused_by_name(world: OfficeWorld) -> None:
    other = crypto.OrgKeyPair.generate("X25519")
    path = world.root.parent / "other.key"
    other.save(path, KEY_PASSPHRASE)
    services = world.services(world.enrol("manager", "case_manager"))
    try:
        state = AppState(services=services)
        state.go("office")
        files = state.office.case_files
        files.pick_key_file("other.key", path.read_bytes())
        assert not files.unlock(KEY_PASSPHRASE)
        assert files.message_key == "wrong_organisation" and not files.unlocked
    finally:
        services.close()


def test_a_coordinator_never_gets_case_files(world: OfficeWorld, key_file: bytes) -> None:
    sent = world.collect(world.enrol("phone", "collector", "north"), "victim_screening",
                         screening_values())  # fmt: skip
    services = world.services(world.enrol("coordinator", "coordinator"))
    try:
        state = AppState(services=services)
        state.go("office")
        assert state.office.role == "coordinator"
        assert "case_files" not in [s.id for s in sections_for("coordinator")]
        assert not services.case_files.available
        with pytest.raises(NotACaseManager, match="not coordinator"):
            services.case_files.unlock(key_file, KEY_PASSPHRASE)
        with pytest.raises(NotACaseManager):
            services.case_files.open(sent.id)
        files = state.office.case_files
        files.pick_key_file("org.key", key_file)
        assert not files.unlock(KEY_PASSPHRASE) and files.message_key == "refused"
    finally:
        services.close()
