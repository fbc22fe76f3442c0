"""Drafts imported on a server's data folder: a form whose data files were not all given is
kept here, beside the server, never in its database, so devices cannot receive it; the server
database only ever holds ready versions. One folder a draft (`<form id>@<version>`): the spec
as JSON, the organisation it is for, and the files already given, by SHA-256. These are form
definitions and lists of places, never answers.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fieldapp.errors import FormError
from fieldapp.forms.attachments import file_sha256
from fieldapp.forms.spec import FormSpec

__all__ = ["DraftFolder", "ServerDraft"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ServerDraft:
    spec: FormSpec
    org: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # given already, by SHA-256


class DraftFolder:
    """The drafts under `root` (the server's data folder `form-drafts`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, draft: ServerDraft) -> Path:
        """Keep (or replace) the draft of its form id and version."""
        folder = self._folder(draft.spec.id, draft.spec.version)
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "files").mkdir(parents=True, mode=0o700)
        meta = {"org": draft.org, "spec": draft.spec.model_dump(mode="json")}
        (folder / "draft.json").write_text(json.dumps(meta), encoding="utf-8")
        for digest, content in draft.files.items():
            (folder / "files" / digest).write_bytes(content)
        return folder

    def load(self, form_id: str, version: str | None = None) -> ServerDraft | None:
        """The draft of `form_id` (this version, else the one there is), or None. FormError
        when several versions wait and none is named, or a kept file was changed."""
        found = sorted(self.root.glob(f"{_safe(form_id)}@*")) if self.root.is_dir() else []
        if version is not None:
            found = [f for f in found if f.name == f"{_safe(form_id)}@{_safe(version)}"]
        if not found:
            return None
        if len(found) > 1:
            versions = ", ".join(f.name.split("@", 1)[1] for f in found)
            raise FormError(f"form {form_id!r} has drafts of versions {versions}: give --version")
        meta = json.loads((found[0] / "draft.json").read_text(encoding="utf-8"))
        files = {}
        for path in (found[0] / "files").iterdir():
            content = path.read_bytes()
            if not _SHA256.match(path.name) or file_sha256(content) != path.name:
                raise FormError(f"draft {found[0].name}: kept file {path.name} was changed")
            files[path.name] = content
        return ServerDraft(FormSpec.model_validate(meta["spec"]), meta["org"], files)

    def remove(self, spec: FormSpec) -> None:
        shutil.rmtree(self._folder(spec.id, spec.version), ignore_errors=True)

    def _folder(self, form_id: str, version: str) -> Path:
        return self.root / f"{_safe(form_id)}@{_safe(version)}"


def _safe(text: str) -> str:
    """A form id or version as a folder name part (versions hold spaces and colons)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)
