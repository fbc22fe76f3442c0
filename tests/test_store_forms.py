"""The forms on the device: a form stored by an earlier version of the app that fails today's
stricter checks (a statistical calculation that is not coarse) is left out of the forms list
with its reason logged, an older version that still loads stands in, and its records are never
lost. Real store files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.spec import FormSpec
from fieldapp.store import FormUnusable, Store
from fieldapp.ui.services import Services
from tests.conftest import PASSPHRASE


def form(form_id: str, version: str, *, copies_name: bool = False) -> dict[str, Any]:
    """A small form; `copies_name` adds a statistical calculation that copies a name into the
    clear (accepted before the checks grew stricter, refused today)."""
    children: list[dict[str, Any]] = [
        {"name": "name", "type": "text", "label": {"en": "Name"}},
        {
            "name": "people",
            "type": "integer",
            "label": {"en": "People"},
            "sensitivity": "statistical",
        },
    ]
    if copies_name:
        children.append(
            {
                "name": "who",
                "type": "calculate",
                "calculation": "${name}",
                "sensitivity": "statistical",
            }
        )
    return {"id": form_id, "version": version, "title": {"en": form_id}, "children": children}


def stored_before_the_checks(store: Store, body: dict[str, Any]) -> None:
    """Put a form version on the device as an earlier app version stored it."""
    store.core.db.execute(
        "UPDATE forms SET spec = ? WHERE id = ? AND version = ?",
        [json.dumps(body), body["id"], body["version"]],
    )


def test_a_stored_form_failing_todays_checks_is_left_out_and_its_records_stay(
    store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.create(store_path, PASSPHRASE)
    store.forms.add(FormSpec.model_validate(form("census", "1")))
    census = [
        store.records.create_final("census", {"name": f"Person {n}", "people": n}).id
        for n in range(2)
    ]
    store.forms.add(FormSpec.model_validate(form("visit", "1")))
    store.forms.add(FormSpec.model_validate(form("visit", "2")))
    stored_before_the_checks(store, form("census", "1", copies_name=True))
    stored_before_the_checks(store, form("visit", "2", copies_name=True))
    store.close()

    reopened = Store(store_path)  # the app, updated, starts again
    try:
        reopened.keyring.unlock(PASSPHRASE)
        with caplog.at_level(logging.WARNING, logger="fieldapp.store"):
            usable = {spec.id: spec.version for spec in reopened.forms.usable()}
            reopened.forms.usable()  # asked again: nothing logged again
        assert "census" not in usable and usable["visit"] == "1"  # the older version stands in
        assert {"victim_screening", "training_attendance"} <= set(usable)
        reasons = sorted(record.getMessage() for record in caplog.records)
        assert len(reasons) == 2  # once each, however often the list is asked for
        assert reasons[0].startswith("form 'census' version 1 on this device no longer passes")
        assert "'who' is statistical" in reasons[0] and "its records stay listed" in reasons[0]
        assert reasons[1].startswith("form 'visit' version 2 on this device no longer passes")

        assert reopened.forms.get("visit").version == "1"
        assert reopened.records.new_draft("visit").form_version == "1"
        with pytest.raises(FormUnusable, match="form 'census' version 1 on this device"):
            reopened.forms.get("census")

        listed = reopened.records.page(form_id="census").items
        assert sorted(item.id for item in listed) == sorted(census)
        assert reopened.records.count(form_id="census") == 2
        with pytest.raises(FormUnusable, match="'who' is statistical"):
            reopened.records.get(census[0])
    finally:
        reopened.close()

    services = Services(store_path.parent)  # the app's gateway lists the forms that load
    try:
        services.unlock(PASSPHRASE)
        assert "census" not in {spec.id for spec in services.records.forms()}
    finally:
        services.close()
