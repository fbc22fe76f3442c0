"""A form whose data files were never given imports as a draft (as ODK Central does), safer:
a warning per row naming the file and what reads it, `forms show` listing what it awaits,
never filled in nor published (device, server and the server's storage all refuse it) until
`forms attach` gives each file, checked as the import checks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldapp.errors import FormError, StoreError
from fieldapp.office.xlsform import import_form
from fieldapp.office.xlsform.draft_folder import DraftFolder, ServerDraft
from fieldapp.office.xlsform.drafts import AttachRefused, attach_files
from fieldapp.store import FormUnusable, Store
from sync.server import admin
from sync.server.settings import ServerSettings
from sync.server.storage import FormFileInvalid
from tests._cascade_form import PROVINCES_CSV, write_cascade_form
from tests.test_cli_server import create_org
from tests.test_xlsform_geojson import PLACES, write_places_form


def draft_of_cascade(tmp_path: Path) -> tuple[Path, Path]:
    """The cascade form without its provinces.csv (moved aside): (form, the file)."""
    form = write_cascade_form(tmp_path / "form", repeat_count=False)
    aside = tmp_path / "given" / "provinces.csv"
    aside.parent.mkdir()
    (tmp_path / "form" / "provinces.csv").rename(aside)
    return form, aside


def test_a_form_without_its_file_imports_as_a_draft_naming_each_row(tmp_path: Path) -> None:
    form, _ = draft_of_cascade(tmp_path)
    spec = import_form(form).spec
    assert not spec.attachments
    awaited = spec.awaiting_files["provinces"]
    assert awaited.file == "provinces.csv" and awaited.choices
    assert awaited.reads == [
        "survey row 4: the question's choices",
        "survey row 5: the calculation expression",
    ]
    warnings = [w for w in spec.import_warnings if "provinces.csv is not attached" in w]
    assert [w.split(":")[0] for w in warnings] == ["survey row 4", "survey row 5"]
    assert "`fieldapp forms attach cascade provinces.csv`" in warnings[0]


def test_a_draft_is_never_filled_in_then_attach_makes_it_ready(
    store: Store, tmp_path: Path
) -> None:
    form, given = draft_of_cascade(tmp_path)
    draft = import_form(form).spec
    store.forms.add(draft, source="cascade.xlsx")
    assert "cascade" not in [s.id for s in store.forms.usable()]
    with pytest.raises(FormUnusable, match=r"draft awaiting its data files provinces\.csv"):
        store.forms.get("cascade")
    with pytest.raises(FormUnusable, match=r"fieldapp forms attach cascade provinces\.csv"):
        store.records.new_draft("cascade", {"case_code": "C-1"})
    assert store.forms.stored("cascade").awaiting_files  # shown, as stored

    # a file the form does not await, or one that fails the checks, is refused by name
    stray = tmp_path / "stray.csv"
    stray.write_text("name,label\na,A\n")
    bad = tmp_path / "bad" / "provinces.csv"
    bad.parent.mkdir()
    bad.write_text("name,title\na,A\n")
    with pytest.raises(AttachRefused) as refused:
        attach_files(draft, [stray, bad])
    assert refused.value.problems == [
        "stray.csv is not a file the form awaits (it awaits provinces.csv)",
        "provinces.csv, column 'label': the file has no 'label' column",
    ]

    ready, contents = attach_files(draft, [given])
    assert not ready.awaiting_files and ready.attachments["provinces"].file == "provinces.csv"
    assert not [w for w in ready.import_warnings if "is not attached" in w]
    with pytest.raises(StoreError, match="attached files are not here"):
        store.forms.complete(ready)  # the file first
    for digest, content in contents.items():
        store.forms.files.put(digest, content)
    store.forms.complete(ready)
    spec = store.forms.get("cascade")
    assert [c.value for c in spec.choices["provinces"]][:2] == ["nairobi", "mombasa"]
    record = store.records.create_final(
        "cascade", {"case_code": "C-2", "country": "ke", "province": "mombasa", "n": 0}
    )
    assert record.values["capital"] == "Mombasa Island"
    with pytest.raises(StoreError, match="is not a draft"):
        store.forms.complete(ready)


def test_attaching_takes_away_the_files_awaited_warnings_and_no_others(tmp_path: Path) -> None:
    form, given = draft_of_cascade(tmp_path)
    draft = import_form(form).spec
    awaited = [w for w in draft.import_warnings if "provinces.csv is not attached" in w]
    assert draft.awaiting_files["provinces"].warnings == awaited and len(awaited) == 2
    # another kind of warning whose text happens to read like an awaited file's
    other = "survey row 9: provinces.csv is not attached (a hint's text, quoted)"
    draft = draft.model_copy(update={"import_warnings": [*draft.import_warnings, other]})
    ready, _ = attach_files(draft, [given])
    assert other in ready.import_warnings
    assert not set(awaited) & set(ready.import_warnings)
    assert ready.import_warnings == [w for w in draft.import_warnings if w not in awaited]


def test_a_draft_is_never_taken_from_a_server_nor_published(store: Store, tmp_path: Path) -> None:
    form, given = draft_of_cascade(tmp_path)
    draft = import_form(form).spec
    with pytest.raises(StoreError, match=r"awaits its data files \(provinces\.csv\)"):
        store.forms.add(draft, source="server")
    (tmp_path / "server").mkdir()
    settings = ServerSettings(data_dir=tmp_path / "server", database_url="")
    with admin.open_server_storage(settings) as storage:
        with pytest.raises(FormFileInvalid, match=r"draft awaiting its data files provinces\.csv"):
            admin.publish_form(storage, draft)
        ready, contents = attach_files(draft, [given])
        assert list(contents.values()) == [PROVINCES_CSV.encode()]
        assert admin.publish_form(storage, ready, files=contents).form_id == "cascade"


def published_versions(server: Path, form_id: str) -> list:  # type: ignore[type-arg]
    settings = ServerSettings(data_dir=server, database_url="")
    with admin.open_server_storage(settings) as storage:
        return [
            v
            for org in storage.list_organisations()
            for v in storage.list_form_versions(org.id, form_id)
        ]


def run_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDAPP_PASSPHRASE": "correct horse battery"}
    command = [sys.executable, "-m", "fieldapp", "--data-dir", str(data), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_the_cli_imports_a_draft_shows_refuses_to_publish_and_attaches(tmp_path: Path) -> None:
    form = write_places_form(tmp_path / "form")  # places.geojson nowhere
    device = tmp_path / "device"
    assert run_cli(device, "init").returncode == 0
    imported = run_cli(device, "forms", "import", str(form))
    assert imported.returncode == 0, imported.stderr
    assert "places 1 (a draft awaiting 1 data files: `fieldapp forms attach places" in (
        imported.stdout
    )
    assert "survey row 3: places.geojson is not attached (read by the question's" in (
        imported.stderr
    )
    listed = run_cli(device, "forms", "list")
    assert "places" not in listed.stdout.split()
    shown = run_cli(device, "forms", "show", "places")
    assert shown.returncode == 0, shown.stderr
    assert "draft awaiting its data files places.geojson (read at survey row 3" in shown.stdout

    # on a server's data folder the draft waits beside the server, never in its database
    server = tmp_path / "server"
    create_org(server, "Office")
    kept = run_cli(server, "forms", "import", str(form), "--org", "Office")
    assert kept.returncode == 0, kept.stderr
    assert "places 1 (a draft kept beside the server, not published)" in kept.stdout
    assert "not published: form 'places' version 1 is a draft awaiting its data files" in (
        kept.stderr
    )
    assert "`fieldapp forms attach places places.geojson`" in kept.stderr
    assert not published_versions(server, "places")
    on_server = run_cli(server, "forms", "show", "places")
    assert "draft awaiting its data files places.geojson" in on_server.stdout

    geojson = tmp_path / "places.geojson"
    geojson.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    bad = run_cli(device, "forms", "attach", "places", str(geojson))
    assert bad.returncode == 1
    assert "places.geojson, column 'id': feature 1 has no id" in bad.stderr
    geojson.write_text(json.dumps(PLACES))
    done = run_cli(device, "forms", "attach", "places", str(geojson))
    assert done.returncode == 0, done.stderr
    assert "attached places.geojson" in done.stdout and "places 1: ready" in done.stdout
    assert "places" in run_cli(device, "forms", "list").stdout.split()

    published = run_cli(server, "forms", "attach", "places", str(geojson))
    assert published.returncode == 0, published.stderr
    assert "places 1 (published on the server)" in published.stdout
    [version] = published_versions(server, "places")
    assert version.org_id is not None  # for the organisation the import named
    assert version.spec["attachments"]["places"]["file"] == "places.geojson"
    assert not (server / "form-drafts").exists() or not any((server / "form-drafts").iterdir())
    again = run_cli(server, "forms", "attach", "places", str(geojson))
    assert again.returncode != 0 and "no draft of form 'places'" in again.stderr


def test_a_draft_kept_beside_a_server_is_read_back_whole_or_refused(tmp_path: Path) -> None:
    form = write_cascade_form(tmp_path / "form", repeat_count=False)
    with_file = import_form(form)  # a ready spec and its file, made a draft by a version 2
    spec = with_file.spec.model_copy(
        update={"version": "2 (May)", "awaiting_files": import_form_draft(tmp_path)}
    )
    folder = DraftFolder(tmp_path / "form-drafts")
    folder.save(ServerDraft(spec, "Office", with_file.files))
    kept = folder.load("cascade")
    assert kept == ServerDraft(spec, "Office", with_file.files)
    assert folder.load("cascade", "1") is None and folder.load("other") is None
    folder.save(ServerDraft(spec.model_copy(update={"version": "3"}), None, {}))
    with pytest.raises(FormError, match="drafts of versions 2__May_, 3: give --version"):
        folder.load("cascade")
    [digest] = with_file.files
    (tmp_path / "form-drafts" / "cascade@2__May_" / "files" / digest).write_bytes(b"x")
    with pytest.raises(FormError, match=f"kept file {digest} was changed"):
        folder.load("cascade", "2 (May)")
    folder.remove(spec)
    assert folder.load("cascade", "2 (May)") is None


def import_form_draft(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    form, _ = draft_of_cascade(tmp_path / "draft")
    return dict(import_form(form).spec.awaiting_files)
