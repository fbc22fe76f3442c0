"""The forms on this device: the built-in ones, imported ones and those the server publishes,
each version kept as its FormSpec JSON and parsed once per session.

A form stored by an earlier version of the app may fail today's stricter checks (statistical
calculations must be coarse since 2026-11): it is left out of the usable list, with its
reason logged once, and the newest version that still loads stands in for it. Its records
are never touched: they stay listed and counted (a list needs no form), and opening one says
which form is at fault (FormUnusable) instead of breaking the screen.

A version with attached files (`FormSpec.attachments`) is handed out with its file-backed
lists read from them (`fieldapp.forms.attachments.bind`) once the store is unlocked; one
whose file is not on the device yet cannot be used (FormUnusable, saying which file and to
sync), and is listed all the same. A draft imported here whose data files were not given
(`FormSpec.awaiting_files`) is kept, shown (`stored`), completed (`complete`), never used.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pydantic import ValidationError

from fieldapp.errors import FormError, StoreError, StoreLocked
from fieldapp.forms.attachments import MissingFormFile, awaiting_message, bind
from fieldapp.forms.builtin import load_archived_forms, load_builtin_forms
from fieldapp.forms.spec import FormSpec
from fieldapp.store._core import Core
from fieldapp.store._form_files import FormFiles
from fieldapp.store._types import FormFileMissing, FormUnusable

__all__ = ["Forms"]

log = logging.getLogger(__name__)


class Forms:
    def __init__(self, core: Core, files: FormFiles) -> None:
        self._core = core
        self.files = files
        # (form id, version) -> the parsed spec, or why it no longer loads
        self._specs: dict[tuple[str, str], FormSpec | str] = {}
        # (form id, version) -> the spec with its attached files read (see `_bound`)
        self._bound: dict[tuple[str, str], FormSpec] = {}

    def install_builtin(self) -> None:
        """The built-in forms, and their earlier versions (the server publishes those for
        their records: a device that has them need not download them)."""
        for spec in [*load_archived_forms(), *load_builtin_forms().values()]:
            self.add(spec, source="builtin")

    def add(self, spec: FormSpec, *, source: str = "import") -> None:
        """Add a form version; an existing id+version is replaced only by an identical spec,
        or, when it is a draft awaiting files (never used), by the version imported again. A
        draft comes only from an import here: never from a server."""
        if spec.awaiting_files and source == "server":
            files = ", ".join(a.file for a in spec.awaiting_files.values())
            raise StoreError(
                f"form {spec.id} version {spec.version} awaits its data files ({files}):"
                " a draft is not taken from a server"
            )
        with self._core.lock:
            exists = self._core.db.execute(
                "SELECT 1 FROM forms WHERE id = ? AND version = ?", [spec.id, spec.version]
            ).fetchone()
            if exists is not None:
                stored = self._spec(spec.id, spec.version)
                if isinstance(stored, FormSpec) and stored.awaiting_files:
                    self._replace(spec)  # a draft was never used: imported again, replaced
                    return
                if stored != spec:
                    raise StoreError(
                        f"form {spec.id} version {spec.version} already exists with other "
                        "content: give the new form a new version"
                    )
                return
            self._core.db.execute(
                "INSERT INTO forms (id, version, spec, source, added_at) VALUES (?, ?, ?, ?, ?)",
                [spec.id, spec.version, spec.model_dump_json(), source, self._core.now()],
            )

    def complete(self, ready: FormSpec) -> None:
        """Replace the stored draft of `ready`'s id and version (awaiting files) by `ready`,
        whose files must be here (`files.put` first). StoreError when there is no such draft
        or a file is missing."""
        with self._core.lock:
            draft = self._spec(ready.id, ready.version)
            if not isinstance(draft, FormSpec) or not draft.awaiting_files:
                raise StoreError(f"form {ready.id} version {ready.version} is not a draft")
            missing = self.files.missing(ready)
            if missing:
                raise StoreError(f"form {ready.id}: {len(missing)} attached files are not here")
            self._replace(ready)

    def _replace(self, spec: FormSpec) -> None:
        self._core.db.execute(
            "UPDATE forms SET spec = ? WHERE id = ? AND version = ?",
            [spec.model_dump_json(), spec.id, spec.version],
        )
        self._specs.pop((spec.id, spec.version), None)
        self._bound.pop((spec.id, spec.version), None)

    def stored(self, form_id: str, version: str | None = None) -> FormSpec:
        """A form version as stored, a draft awaiting files included (the newest when
        `version` is None), its files not read: for showing and completing it. StoreError,
        FormUnusable as `get`."""
        with self._core.lock:
            version = version or self._versions(form_id)[0]
            return _usable(self._spec(form_id, version))

    def get(self, form_id: str, version: str | None = None) -> FormSpec:
        """A form version, or (`version` None) the newest version that still loads (see
        `newest_first`). Raises StoreError if there is none, FormUnusable if it fails today's
        checks."""
        with self._core.lock:
            if version is not None:
                return self._with_files(_ready(_usable(self._spec(form_id, version))))
            loaded = [self._spec(form_id, v) for v in self._versions(form_id)]
            usable = [s for s in loaded if isinstance(s, FormSpec) and not s.awaiting_files]
            return self._with_files(usable[0] if usable else _ready(_usable(loaded[0])))

    def _versions(self, form_id: str) -> list[str]:
        """The form's stored versions, newest first; StoreError when there is none."""
        versions = newest_first(
            self._core.db.execute(
                "SELECT id, version, added_at FROM forms WHERE id = ?", [form_id]
            ).fetchall()
        )
        if not versions:
            raise StoreError(f"no form {form_id!r} on this device")
        return [row[1] for row in versions]

    def holds(self, spec: FormSpec) -> bool:
        """Whether this very version is stored (as stored: attached files not read)."""
        with self._core.lock:
            try:
                return self._spec(spec.id, spec.version) == spec
            except StoreError:
                return False

    def holds_as_sent(self, form_id: str, version: str, spec: dict[str, Any]) -> bool:
        """Whether this very version is stored, told from a server's JSON of it without
        validating it (a pull from cursor 0 meets every published form again); False if the
        JSON differs at all, even in order only where `holds` would say True."""
        with self._core.lock:
            found = self._core.db.execute(
                "SELECT spec FROM forms WHERE id = ? AND version = ?", [form_id, version]
            ).fetchone()
        return found is not None and json.loads(found[0]) == spec

    def missing_files(self) -> dict[str, str]:
        """Every attached file a stored form version names that is not on the device: its
        file name by SHA-256 (what a sync fetches)."""
        with self._core.lock:
            rows = self._core.db.execute("SELECT id, version FROM forms").fetchall()
            missing: dict[str, str] = {}
            for form_id, version in rows:
                spec = self._spec(form_id, version)
                if isinstance(spec, FormSpec):
                    for ref in spec.attachments.values():
                        if ref.sha256 not in missing and not self.files.has(ref.sha256):
                            missing[ref.sha256] = ref.file
            return missing

    def usable(self) -> list[FormSpec]:
        """The newest version of every form that still loads, by id; a form none of whose
        versions does is left out (logged)."""
        with self._core.lock:
            rows = newest_first(
                self._core.db.execute("SELECT id, version, added_at FROM forms").fetchall()
            )
            newest: dict[str, FormSpec] = {}
            for form_id, version, _added in sorted(rows, key=lambda row: row[0]):
                if form_id not in newest:
                    spec = self._spec(form_id, version)
                    if isinstance(spec, FormSpec) and not spec.awaiting_files:
                        newest[form_id] = spec
            return list(newest.values())

    def _with_files(self, spec: FormSpec) -> FormSpec:
        """The spec with its file-backed lists read from the attached files (kept for the
        session); as stored while the store is locked (nothing is decrypted then). Raises
        FormUnusable when a file is missing or cannot be read."""
        if not spec.attachments:
            return spec
        key = (spec.id, spec.version)
        bound = self._bound.get(key)
        if bound is not None:
            return bound
        missing = self.files.missing(spec)
        if missing:
            names = [ref.file for ref in spec.attachments.values() if ref.sha256 in missing]
            raise FormFileMissing(str(MissingFormFile(spec.id, spec.version, names)), names)
        try:
            contents = {ref.sha256: self.files.get(ref.sha256) for ref in spec.attachments.values()}
        except StoreLocked:
            return spec
        try:
            bound = self._bound[key] = bind(spec, contents)
        except FormError as exc:
            raise FormUnusable(f"form {spec.id!r} version {spec.version}: {exc}") from None
        return bound

    def _spec(self, form_id: str, version: str) -> FormSpec | str:
        """The stored form version parsed (once per session), or why it no longer loads
        (logged the first time)."""
        cached = self._specs.get((form_id, version))
        if cached is not None:
            return cached
        found = self._core.db.execute(
            "SELECT spec FROM forms WHERE id = ? AND version = ?", [form_id, version]
        ).fetchone()
        if found is None:
            raise StoreError(f"no form {form_id!r} version {version} on this device")
        loaded: FormSpec | str
        try:
            loaded = FormSpec.model_validate_json(found[0])
        except ValidationError as exc:
            loaded = _unusable(form_id, version, "; ".join(e["msg"] for e in exc.errors()))
        self._specs[(form_id, version)] = loaded
        return loaded


def newest_first(rows: list[Any]) -> list[Any]:
    """(id, version, added_at) rows, the newest version first: the higher version number
    (`"3"` after `"2"`, `"2026.1"` after `"2025.12"`), else the later added. An older
    version arriving later (the server publishes a built-in form's earlier versions, for
    their records) never stands in for the newer one new records are made on."""
    return sorted(rows, key=lambda row: (_version_number(row[1]), row[2]), reverse=True)


def _version_number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:8])


def _unusable(form_id: str, version: str, reason: str) -> str:
    message = (
        f"form {form_id!r} version {version} on this device no longer passes the form checks"
        f" ({reason}): it is left out of the forms list and its records stay listed; ask the"
        " coordinator for a corrected version"
    )
    log.warning("%s", message)
    return message


def _ready(spec: FormSpec) -> FormSpec:
    """A draft awaiting its data files is never filled in: its lists are not there."""
    if spec.awaiting_files:
        raise FormUnusable(awaiting_message(spec))
    return spec


def _usable(loaded: FormSpec | str) -> FormSpec:
    if isinstance(loaded, str):
        raise FormUnusable(loaded)
    return loaded
