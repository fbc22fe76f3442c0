"""Record rows: reading one, opening its encrypted fields, naming a revision, turning a row
into the Record a caller gets. Every room that touches a record needs a few of these, so they
live once here, below all of them (the records, the outbox, the roster, consent, conflicts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fieldapp import crypto
from fieldapp.errors import RecordNotFound, StoreError
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.values import join_parts
from fieldapp.store._core import Core
from fieldapp.store._forms import Forms
from fieldapp.store._keyring import Keyring
from fieldapp.store._types import Record

__all__ = ["NO_ENVELOPE", "RecordRows", "base_of"]

# A record's outgoing envelope and what was kept beside it, all gone at once (an edit, a
# purge, an erasure): the revision and digest never outlive the envelope they describe.
NO_ENVELOPE: dict[str, Any] = dict.fromkeys(
    ("sealed", "envelope_revision", "envelope_digest", "envelope_sha256")
)


def base_of(row: Mapping[str, Any]) -> str | None:
    """What an edit builds on: a revision in flight may already be on the server, so an edit
    made meanwhile is based on it (else the server would see a stale base: a false conflict);
    otherwise the last revision the server acknowledged."""
    return row["revision"] if row["status"] == "queued" else row["base_revision"]


class RecordRows:
    def __init__(self, core: Core, keyring: Keyring, forms: Forms) -> None:
        self._core = core
        self._keyring = keyring
        self._forms = forms

    def get(self, record_id: str) -> dict[str, Any]:
        """The record's row; raises RecordNotFound."""
        with self._core.lock:
            row = next(self._core.db.query("SELECT * FROM records WHERE id = ?", [record_id]), None)
        if row is None:
            raise RecordNotFound(f"no record {record_id} on this device")
        return row

    def insert(self, row: Mapping[str, Any]) -> None:
        """Write a new record row (one statement: no table introspection on the way)."""
        marks = ", ".join("?" * len(row))
        self._core.db.execute(
            f"INSERT INTO records ({', '.join(row)}) VALUES ({marks})",  # noqa: S608
            list(row.values()),
        )

    def update(self, record_id: str, changes: Mapping[str, Any]) -> None:
        """Change columns of a record row (one statement). Column names come from this
        package, never from input; values are bound parameters."""
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self._core.db.execute(
            f"UPDATE records SET {assignments} WHERE id = ?",  # noqa: S608
            [*changes.values(), record_id],
        )

    def editable(self, record_id: str) -> dict[str, Any]:
        """The record's row if it may still be edited here; else StoreError saying why."""
        row = self.get(record_id)
        if row["consent_withdrawn_at"] is not None:
            raise StoreError(
                f"record {record_id}: consent was withdrawn and its personal details erased,"
                " so it can no longer be edited"
            )
        if row["purged_at"] is not None:
            raise StoreError(
                f"record {record_id} was removed from this device after the server confirmed"
                " it: edit it from the office, where the organisation's key opens it"
            )
        return row

    def revision(self, row: Mapping[str, Any], values: Mapping[str, Any] | None) -> str:
        """`<generation>-<keyed hash of the content>`: the same edit always gets the same name
        (`values` None: a consent withdrawal, which holds none).

        Keyed, so the clear revision reveals nothing about the encrypted content.
        """
        base = row["base_revision"]
        generation = int(base.split("-", 1)[0]) + 1 if base else 1
        content = {"id": row["id"], "base": base, "form": row["form_id"], "values": values}
        digest = crypto.keyed_hash(
            crypto.subkey(self._keyring.require_key(), "revision"), crypto.canonical_json(content)
        )
        return f"{generation}-{digest[:32]}"

    def encrypt_fields(self, row: Mapping[str, Any], secret: Mapping[str, Any]) -> bytes:
        """The sensitive part, encrypted and bound to the record's id and revision."""
        aad = crypto.record_aad(row["id"], row["revision"])
        return crypto.encrypt(self._keyring.require_key(), crypto.canonical_json(secret), aad)

    def fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The sensitive part, decrypted ({} once erased)."""
        blob = row["fields"]
        if blob is None:
            return {}
        aad = crypto.record_aad(row["id"], row["revision"])
        try:
            plain = crypto.decrypt(self._keyring.require_key(), blob, aad)
        except crypto.IntegrityError as exc:
            raise crypto.IntegrityError(
                f"record {row['id']}: its encrypted fields were altered or damaged ({exc})"
            ) from None
        result: dict[str, Any] = json.loads(plain)
        return result

    def usable_forms(self) -> list[FormSpec]:
        """The newest version of every form on the device that still loads."""
        return self._forms.usable()

    def form(self, row: Mapping[str, Any]) -> FormSpec:
        """The form version the record was made with."""
        return self._forms.get(row["form_id"], row["form_version"])

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Every answer: the clear statistics joined with the decrypted sensitive part."""
        return join_parts(self.form(row), json.loads(row["stats"]), self.fields(row))

    @staticmethod
    def record(row: Mapping[str, Any], values: dict[str, Any]) -> Record:
        """The Record a caller gets for `row`, whose answers are `values`."""
        return Record(
            id=row["id"],
            form_id=row["form_id"],
            form_version=row["form_version"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            device_id=row["device_id"],
            revision=row["revision"],
            base_revision=row["base_revision"],
            values=values,
            problems=json.loads(row["problems"] or "[]"),
            server_revision=row.get("server_revision"),
            purged=row.get("purged_at") is not None,
            consent_withdrawn=row.get("consent_withdrawn_at") is not None,
            conflict_settled=row.get("conflict_settled_at") is not None,
        )
