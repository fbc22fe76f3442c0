"""Published form versions: one organisation's own, or global (for every organisation),
immutable once published; an organisation's own version shadows a global one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fieldapp.forms.files import MAX_FILE_BYTES
from sync.protocol import FormChangeData
from sync.server.storage import changes, organisations
from sync.server.storage.errors import AlreadyExists, FormFileInvalid, NotFound
from sync.server.storage.models import FormVersion
from sync.server.storage.tx import Tx, json_text

__all__ = ["get", "get_file", "list_versions", "publish", "published_seq"]


def _form(tx: Tx, row: Any) -> FormVersion:
    return FormVersion(
        form_id=row["form_id"],
        version=row["version"],
        org_id=row["org_id"],
        spec=json.loads(row["spec"]),
        published_at=tx.dt(row["published_at"]),
        seq=int(row["seq"]),
    )


def publish(
    tx: Tx,
    org_id: str | None,
    form_id: str,
    version: str,
    spec: dict[str, Any],
    now: datetime,
    files: Mapping[str, bytes] | None = None,
) -> FormVersion:
    """Publish a version with a `form` change, or return the identical one published before;
    AlreadyExists if a different spec holds the version, NotFound (organisation),
    FormFileInvalid if a file the spec names is neither given nor stored, or if the spec is
    a draft still awaiting data files (devices must never receive a form missing its lists)."""
    awaited = spec.get("awaiting_files")
    if awaited:
        pairs = awaited.items() if isinstance(awaited, dict) else ((n, n) for n in awaited)
        names = sorted(str(a.get("file", n) if isinstance(a, dict) else n) for n, a in pairs)
        raise FormFileInvalid(
            f"form {form_id} version {version} is a draft awaiting its data files"
            f" {', '.join(names)}: attach them before publishing"
        )
    scope = org_id or ""  # the scope of a global form (it is part of the primary key)
    spec_text = json_text(spec)
    if org_id is not None:
        organisations.require(tx, org_id)
    _store_files(tx, scope, spec, files or {})
    existing = tx.one(
        "SELECT * FROM forms WHERE scope = ? AND form_id = ? AND version = ?",
        (scope, form_id, version),
    )
    if existing is not None:
        if existing["spec"] != spec_text:
            raise AlreadyExists(f"form {form_id} version {version} differs")
        return _form(tx, existing)
    data = FormChangeData(form_id=form_id, version=version, spec=spec)
    change = changes.NewChange(org_id, None, "form", f"{form_id}@{version}", False, data)
    changes.append(tx, [change])
    tx.run(
        "INSERT INTO forms (scope, form_id, version, org_id, spec, published_at, seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (scope, form_id, version, org_id, spec_text, tx.ts(now), change.seq),
    )
    return FormVersion(form_id, version, org_id, spec, now, change.seq)


def _store_files(tx: Tx, scope: str, spec: dict[str, Any], files: Mapping[str, bytes]) -> None:
    """Keep each file the spec names (content-addressed: one already stored is not written
    again); refuse one that is missing, too large or not what its digest says."""
    attachments = spec.get("attachments") or {}
    if not isinstance(attachments, dict):
        raise FormFileInvalid("attachments must map instance names to files")
    for name, ref in attachments.items():
        digest = ref.get("sha256") if isinstance(ref, dict) else None
        label = ref.get("file", name) if isinstance(ref, dict) else name
        if not isinstance(digest, str):
            raise FormFileInvalid(f"attached file {label}: no sha256")
        stored = tx.one("SELECT 1 FROM form_files WHERE scope = ? AND sha256 = ?", (scope, digest))
        if stored is not None:
            continue
        content = files.get(digest)
        if content is None:
            raise FormFileInvalid(f"attached file {label} ({digest[:12]}...) was not given")
        if len(content) > MAX_FILE_BYTES:
            raise FormFileInvalid(
                f"attached file {label}: {len(content):,} bytes, over {MAX_FILE_BYTES:,}"
            )
        if hashlib.sha256(content).hexdigest() != digest:
            raise FormFileInvalid(f"attached file {label}: content does not match its sha256")
        tx.run(
            "INSERT INTO form_files (scope, sha256, size, content) VALUES (?, ?, ?, ?)",
            (scope, digest, len(content), content),
        )


def get_file(tx: Tx, org_id: str, sha256: str) -> bytes:
    """An attached file of a form version the organisation sees (its own or global), by
    SHA-256; NotFound."""
    row = tx.one(
        "SELECT content FROM form_files WHERE scope IN (?, '') AND sha256 = ?"
        " ORDER BY scope DESC LIMIT 1",
        (org_id, sha256),
    )
    if row is None:
        raise NotFound(f"no attached file {sha256}")
    return bytes(row["content"])


def get(tx: Tx, org_id: str, form_id: str, version: str) -> FormVersion:
    """The version the organisation sees (its own first, else the global one); NotFound."""
    rows = tx.all(
        "SELECT * FROM forms WHERE scope IN (?, '') AND form_id = ? AND version = ?"
        " ORDER BY scope DESC",
        (org_id, form_id, version),
    )
    if not rows:
        raise NotFound(f"form {form_id} version {version} is not published")
    return _form(tx, rows[0])


def published_seq(tx: Tx, org_id: str, form_id: str, version: str) -> int | None:
    """The seq of the version `get` would return, None if there is none."""
    row = tx.one(
        "SELECT seq FROM forms WHERE scope IN (?, '') AND form_id = ? AND version = ?"
        " ORDER BY scope DESC LIMIT 1",
        (org_id, form_id, version),
    )
    return None if row is None else int(row["seq"])


def list_versions(tx: Tx, org_id: str, form_id: str | None) -> list[FormVersion]:
    """Versions the organisation sees, by form id then publication order."""
    sql = "SELECT * FROM forms WHERE scope IN (?, '')"
    params: list[Any] = [org_id]
    if form_id is not None:
        sql += " AND form_id = ?"
        params.append(form_id)
    forms: dict[tuple[str, str], FormVersion] = {}
    for row in tx.all(sql + " ORDER BY form_id, seq", params):
        # An organisation's own version shadows the global one.
        if row["scope"] or (row["form_id"], row["version"]) not in forms:
            forms[(row["form_id"], row["version"])] = _form(tx, row)
    return sorted(forms.values(), key=lambda f: (f.form_id, f.seq))
