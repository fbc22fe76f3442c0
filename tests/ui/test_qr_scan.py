"""First run enrols from a picture of an enrolment QR code: the state over a real store, and
the real app in headless Chromium against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from sync.protocol import EnrolmentLink
from sync.server import admin
from tests._qr_images import encoded, render
from tests.conftest import PASSPHRASE
from tests.sync._harness import Deployment
from tests.ui._browser import AppProcess, open_phone, shoot, tap, type_into

SERVER = "https://field.example.org"


@pytest.fixture
def first_run(tmp_path: Path) -> AppState:
    """The app at its server step: language chosen, device protected, not yet enrolled."""
    state = AppState(services=Services(tmp_path / "device"))
    assert state.create_device(PASSPHRASE, PASSPHRASE)
    return state


def test_a_scanned_enrolment_code_gives_the_server_and_code(
    first_run: AppState, tmp_path: Path
) -> None:
    path = tmp_path / "enrol.png"
    issued = admin.IssuedCode(
        code="7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGY",
        fingerprint="3f" * 32,
        org_id="org",
        role="collector",
        region=None,
        expires_at=datetime.now(UTC),
    )
    written = admin.write_enrolment_qr(path, SERVER, issued)
    link = asyncio.run(first_run.scan_enrolment(path.read_bytes()))
    assert link == written == EnrolmentLink(SERVER, issued.code, issued.fingerprint)
    assert first_run.message_key == "qr_read"
    assert first_run.message is not None and "Connect" in first_run.message


def test_a_scanned_link_enrols_only_with_the_keys_its_fingerprint_names(
    first_run: AppState, deployment: Deployment, app_url: str, tmp_path: Path
) -> None:
    """The app checks the link's full fingerprint; a short code of the earlier kind and a
    fingerprint that does not match the server's keys are refused in the user's language,
    with nothing stored."""
    first_run.set_language("fr")
    issued = deployment.issue()
    assert not first_run.enrol(app_url, issued.code[:19])
    assert first_run.message_key == "code_malformed"
    assert first_run.message is not None and "demandez-en un nouveau" in first_run.message
    other = issued.model_copy(update={"fingerprint": "0" * 64})
    assert not first_run.enrol(app_url, other.code, other.fingerprint)
    assert first_run.message_key == "enrol_untrusted"
    assert first_run.message is not None and "rien n'a été enregistré" in first_run.message
    assert not first_run.services.device.enrolled

    path = tmp_path / "enrol.png"
    admin.write_enrolment_qr(path, app_url, issued)
    link = asyncio.run(first_run.scan_enrolment(path.read_bytes()))
    assert link is not None and link.fingerprint == issued.fingerprint
    assert first_run.enrol(link.server, link.code, link.fingerprint)
    assert first_run.services.device.enrolled


@pytest.mark.parametrize(
    ("picture", "key", "french"),
    [
        ("blank", "qr_not_found", "Aucun code QR"),
        ("other", "qr_not_enrolment", "pas un code d'inscription"),
        ("not an image", "qr_not_found", "Aucun code QR"),
    ],
)
def test_a_picture_without_an_enrolment_code_says_so_in_the_users_language(
    first_run: AppState, picture: str, key: str, french: str
) -> None:
    first_run.set_language("fr")
    if picture == "blank":
        data = encoded(Image.new("L", (400, 300), 255))
    elif picture == "other":
        data = encoded(render(segno.make_qr("WIFI:S:office;T:WPA;P:secret;;")))
    else:
        data = b"%PDF-1.7"
    assert asyncio.run(first_run.scan_enrolment(data)) is None
    assert first_run.message_key == key
    assert first_run.message is not None and french in first_run.message
    assert not first_run.services.device.enrolled


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "device")  # no server address given: the code brings it
    yield process
    process.stop()


def scan(page: Page, picture: Path) -> None:
    """Tap "Scan a QR image" and pick `picture` in the browser's file chooser."""
    with page.expect_file_chooser() as chooser:
        tap(page, "button", "Scan a QR image")
    chooser.value.set_files(str(picture))


@pytest.mark.browser
def test_first_run_enrols_by_scanning_a_qr_image(
    browser: Browser, app: AppProcess, deployment: Deployment, app_url: str, tmp_path: Path
) -> None:
    wrong = tmp_path / "not-enrolment.png"
    segno.make_qr("https://example.org/menu").save(str(wrong), scale=6)
    enrolment = tmp_path / "enrol.png"
    admin.write_enrolment_qr(enrolment, app_url, deployment.issue())

    app.start()
    page = open_phone(browser, app.url)
    tap(page, "button", "Continue")
    type_into(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_into(page, page.get_by_label("Repeat the passphrase"), PASSPHRASE)
    tap(page, "button", "Protect this device")

    scan(page, wrong)
    expect(page.get_by_text("That QR code is not a fieldapp enrolment code")).to_be_visible()
    scan(page, enrolment)
    expect(page.get_by_text("read from the QR image", exact=False)).to_be_visible()
    address = page.get_by_label("Server address")
    address.click()  # Flutter shows a field's text to the page only while it has the focus
    expect(address).to_have_value(app_url)
    shoot(page, "03b-first-run-scanned-qr")
    tap(page, "button", "Connect")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()
    expect(page.get_by_text("Connected to your organisation.")).to_be_visible()
    assert deployment.query("SELECT count(*) FROM devices")[0][0] == 1
