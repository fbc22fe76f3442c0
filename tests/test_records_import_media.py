"""`fieldapp records import` with media columns: file paths relative to the CSV, kept as the
app keeps a capture (pictures re-encoded without metadata, encrypted under the record), every
missing or unreadable file reported by row before anything is saved."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from fieldapp.store import Store
from tests._media import CANARY, exif_photo
from tests.conftest import PASSPHRASE
from tests.test_cli import data, run  # noqa: F401  (the CLI's device, and running it)

HEADER = (
    "consent_record,consent_refer,consent_share,case_code,sex,age_band,nationality,"
    "identification_country,identified_by,screening_outcome,exploitation_types,"
    "consent_form_photo\n"
)
ROW = "yes,yes,no,{code},female,18_24,KH,TH,ngo,presumed_victim,forced_labour,{photo}\n"


def test_a_media_column_of_relative_paths_is_imported_encrypted(
    data: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    exif_photo(tmp_path / "scans" / "kh-1.jpg", 3, (3000, 2000))  # a scanned consent form
    sheet = tmp_path / "cases.csv"
    sheet.write_text(
        HEADER
        + ROW.format(code="KH-2026-0001", photo="scans/kh-1.jpg")
        + ROW.format(code="KH-2026-0002", photo=""),
        encoding="utf-8",
    )
    result = run(data, "records", "import", str(sheet), "--form", "victim_screening")
    assert (result.returncode, result.stdout) == (0, "2 rows saved as final records\n")
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
    assert CANARY.encode() not in raw
    store = Store(data / "fieldapp.db")
    try:
        store.keyring.unlock(PASSPHRASE)
        records = [store.records.get(s.id) for s in store.records.page(status="final").items]
        [with_photo] = [r for r in records if r.values["case_code"] == "KH-2026-0001"]
        [ref] = store.attachments.for_record(with_photo.id)
        assert with_photo.values["consent_form_photo"] == ref.id
        photo = store.attachments.read(ref.id)
        assert photo[len(photo) // 2 : len(photo) // 2 + 32] not in raw  # encrypted at rest
        with Image.open(io.BytesIO(photo)) as image:
            assert (image.format, max(image.size)) == ("JPEG", 1600)
            assert not image.getexif()
    finally:
        store.close()


def test_a_missing_or_unreadable_file_is_reported_by_row_and_nothing_is_saved(
    data: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.jpg").write_text("not a picture", encoding="utf-8")
    sheet = tmp_path / "cases.csv"
    sheet.write_text(
        HEADER
        + ROW.format(code="KH-2026-0001", photo="missing.jpg")
        + ROW.format(code="KH-2026-0002", photo="notes.jpg")
        + ROW.format(code="KH-2026-0003", photo="/etc/hostname"),
        encoding="utf-8",
    )
    result = run(data, "records", "import", str(sheet), "--form", "victim_screening")
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert any(e.startswith("row 2:") and "missing.jpg cannot be read" in e for e in errors)
    assert any(e.startswith("row 3:") and "not an image" in e for e in errors)
    assert any(e.startswith("row 4:") and "relative to the spreadsheet" in e for e in errors)
    assert json.loads(run(data, "records", "list", "--json").stdout) == []
