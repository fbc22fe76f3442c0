"""Headless Chromium at 360x640: a victim screening with two photos (picked through the file
chooser, as a phone's camera or gallery gives them) and a signature drawn with the mouse.
Through the store: three attachments, encrypted at rest, the photos re-encoded without their
EXIF (a canary in it never reaches the disk), the signature a PNG."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from fieldapp.store import Store
from tests._media import CANARY, exif_photo
from tests.conftest import PASSPHRASE
from tests.ui._browser import AppProcess, open_phone, reveal, serve, tap, type_into
from tests.ui.test_browser import choose, unlock

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    root = tmp_path_factory.mktemp("media")
    Store.create(root / "device" / "fieldapp.db", PASSPHRASE).close()
    yield from serve(root / "device")


def said(page: Page, text: str) -> Locator:
    """`text` on screen: its own text, or in the label of the picture it is drawn with."""
    return page.get_by_text(text, exact=False).or_(page.get_by_role("img", name=text, exact=False))


def attach_photo(page: Page, button: str, photo: Path) -> None:
    with page.expect_file_chooser() as chooser:
        tap(page, "button", button)
    chooser.value.set_files(str(photo))


def draw_signature(page: Page) -> None:
    expect(page.get_by_role("button", name="Save signature")).to_be_visible()
    pad = reveal(page, page.get_by_role("img", name="Signature pad: sign here"))
    box = pad.bounding_box()
    assert box is not None
    left, top = box["x"] + 20, box["y"] + 30
    page.mouse.move(left, top)
    page.mouse.down()
    for step in range(1, 25):  # a zigzag, as a hand signs
        page.mouse.move(left + step * 10, top + (40 if step % 2 else 0), steps=3)
    page.mouse.up()


def test_two_photos_and_a_drawn_signature_are_kept_encrypted_without_exif(
    browser: Browser, app: AppProcess, tmp_path: Path
) -> None:
    first = exif_photo(tmp_path / "consent-form.jpg", 1)
    second = exif_photo(tmp_path / "passport.jpg", 2)
    page = open_phone(browser, app.url)
    unlock(page)
    tap(page, "button", "Identify a victim")
    for question in ("record personal information", "be referred to services"):
        choose(page, f"Consent to {question} *", "Yes")
    choose(page, "Consent to share anonymised data *", "Yes")
    # the limits are said before anything is taken
    expect(page.get_by_text("At most 10.0 MB per file", exact=False).first).to_be_visible()
    tap(page, "button", "Sign")
    draw_signature(page)
    tap(page, "button", "Save signature")
    expect(said(page, "Attached (")).to_have_count(1)  # its thumbnail, its size, Remove
    expect(page.get_by_role("button", name="Remove")).to_have_count(1)
    attach_photo(page, "Take photo", first)
    expect(said(page, "Attached (")).to_have_count(2)
    expect(page.get_by_role("button", name="Remove")).to_have_count(2)
    tap(page, "button", "Next")
    type_into(page, page.get_by_label("Case code *"), "KH-2026-0101")
    attach_photo(page, "Choose file", second)
    expect(reveal(page, said(page, "Attached ("))).to_be_visible()
    expect(page.get_by_role("button", name="Remove")).to_have_count(1)
    tap(page, "button", "Back")  # the records list says what is still to send
    tap(page, "button", "Records")
    tap(page, "button", "Drafts (1)")
    expect(page.get_by_text("3 attachments waiting", exact=False)).to_be_visible()
    app.stop()

    raw = (app.data_dir / "fieldapp.db").read_bytes()
    assert CANARY.encode() not in raw and b"CanaryCam" not in raw
    store = Store(app.data_dir / "fieldapp.db")
    try:
        store.keyring.unlock(PASSPHRASE)
        [draft] = store.records.page(status="draft").items
        values = store.records.get(draft.id).values
        refs = {ref.field: ref for ref in store.attachments.for_record(draft.id)}
        assert set(refs) == {"consent_signature", "consent_form_photo", "document_photo"}
        assert {values[name] for name in refs} == {ref.id for ref in refs.values()}
        for name, ref in refs.items():
            data = store.attachments.read(ref.id)
            assert len(data) == ref.size
            middle = data[len(data) // 2 : len(data) // 2 + 48]
            assert middle not in raw, f"{name}: plaintext on disk"
            with Image.open(io.BytesIO(data)) as image:
                if name == "consent_signature":
                    assert (image.format, ref.media_type) == ("PNG", "image/png")
                    assert image.convert("L").getextrema()[0] < 64  # ink was drawn
                    continue
                assert (image.format, ref.media_type) == ("JPEG", "image/jpeg")
                assert max(image.size) == 1600  # the form's max-pixels
                assert not image.getexif() and "exif" not in image.info
            assert CANARY.encode() not in data
    finally:
        store.close()
