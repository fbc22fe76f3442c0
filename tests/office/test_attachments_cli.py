"""`fieldapp office attachments RECORD_ID --out DIR --org-key FILE` on an enrolled case
manager's data directory, against a real server on 127.0.0.1: a collector's photo (EXIF and
GPS naming the canary) and signature, synced in chunks, are written to DIR byte-identical to
what the phone stored, the canary in no byte of the server's folder; a coordinator is refused
with a clear error and nothing is written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from fieldapp import crypto
from fieldapp.cli import main
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Store
from sync.client import SyncClient, enrol
from sync.server.app import create_app
from tests.conftest import CANARY, PASSPHRASE, screening_values
from tests.security.canary import scan_paths
from tests.server._harness import running
from tests.sync._harness import Deployment

KEY_PASSPHRASE = "the organisation's own passphrase"


def camera_photo() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif.get_ifd(0x8825).update({0x0001: "N", 0x001C: CANARY})  # GPS
    out = io.BytesIO()
    Image.new("RGB", (2400, 1200), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def enrolled(data_dir: Path, url: str, deployment: Deployment, role: str) -> Path:
    store = Store.create(data_dir / STORE_FILENAME, PASSPHRASE)
    enrol(store, url, deployment.issue(role).code)  # type: ignore[arg-type]
    store.close()
    return data_dir


def test_a_case_manager_writes_a_records_attachments_a_coordinator_may_not(
    tmp_path: Path,
    org_key: crypto.OrgKeyPair,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    deployment = Deployment.create(tmp_path / "server" / "data", org_key)
    key_file = tmp_path / "org.key"
    org_key.save(key_file, KEY_PASSPHRASE)
    monkeypatch.setenv("FIELDAPP_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ORG_KEY_PASSPHRASE", KEY_PASSPHRASE)
    key = ["--org-key", str(key_file), "--passphrase-env", "ORG_KEY_PASSPHRASE"]
    with running(create_app(deployment.settings)) as url:
        phone = Store.create(tmp_path / "phone" / STORE_FILENAME, PASSPHRASE)
        enrol(phone, url, deployment.issue("collector", "north").code)
        values = screening_values()
        draft = phone.records.new_draft("victim_screening", values)
        photo = phone.attachments.add_image(draft.id, "document_photo", camera_photo())
        phone.records.finalise(draft.id, {**values, "document_photo": photo.id})
        stored = phone.attachments.read(photo.id)
        with SyncClient(phone) as client:
            assert client.sync().ok
        phone.close()
        manager = enrolled(tmp_path / "manager", url, deployment, "case_manager")
        coordinator = enrolled(tmp_path / "coordinator", url, deployment, "coordinator")
        out = tmp_path / "out"

        refused = main(["--data-dir", str(coordinator), "office", "attachments", draft.id,
                        "--out", str(out), *key])  # fmt: skip
        assert refused == 1 and not out.exists()
        assert "coordinator" in capfd.readouterr().err
        written = main(["--data-dir", str(manager), "office", "attachments", draft.id,
                        "--out", str(out), *key, "--json"])  # fmt: skip

    assert written == 0
    answer = json.loads(capfd.readouterr().out)
    [entry] = answer["attachments"]
    path = Path(entry["path"])
    assert path.parent == out and path.suffix == ".jpg" and entry["field"] == "document_photo"
    assert path.read_bytes() == stored
    with Image.open(path) as image:
        assert not image.getexif()
    hits, scanned = scan_paths([deployment.settings.data_dir], CANARY)
    assert not hits and scanned > 0
