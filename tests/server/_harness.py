"""The real server app on 127.0.0.1 (uvicorn in a thread) and a world to exercise it:
organisations, enrolled devices with real Ed25519 keys, published forms, signed envelopes.

Not a conftest: the storage suite owns tests/server/conftest.py; the app tests import this.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from fieldapp import crypto
from fieldapp.forms.spec import FormSpec
from sync.protocol import PushRequest, RecordEnvelope, Role
from sync.protocol.attachments import AttachmentRef
from sync.server import admin
from sync.server.serve import running_in_thread
from sync.server.storage import Organisation, Storage

CANARY = "Zorblaxqua"

FORM = FormSpec.model_validate(
    {
        "id": "screening",
        "version": "1",
        "title": {"en": "Screening"},
        "choices": {"sex": [{"value": v, "label": {"en": v}} for v in ("female", "male", "x")]},
        "children": [
            {"kind": "field", "name": "given_name", "type": "text"},
            {"kind": "field", "name": "age", "type": "integer", "sensitivity": "statistical"},
            {
                "kind": "field",
                "name": "sex",
                "type": "select_one",
                "choices": "sex",
                "sensitivity": "statistical",
            },
            {
                "kind": "field",
                "name": "identified_on",
                "type": "date",
                "sensitivity": "statistical",
            },
            {
                "kind": "repeat",
                "name": "children",
                "children": [
                    {"kind": "field", "name": "child_name", "type": "text"},
                    {
                        "kind": "field",
                        "name": "child_age",
                        "type": "integer",
                        "sensitivity": "statistical",
                    },
                ],
            },
        ],
    }
)
STATS = {"age": 19, "sex": "female", "identified_on": "2026-11-02"}


running = running_in_thread  # the real server, in a thread of the test process


def revision(generation: int = 1) -> str:
    return f"{generation}-{uuid.uuid4().hex}"


@dataclass
class Phone:
    """An enrolled device: its id, signing key and bearer token."""

    device_id: str
    key: crypto.SigningKey
    token: str
    org_id: str
    role: Role
    region: str | None
    recipients: list[dict[str, Any]]
    server_public_key: bytes

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def envelope(
        self,
        *,
        record_id: uuid.UUID | None = None,
        rev: str | None = None,
        base: str | None = None,
        stats: dict[str, Any] | None = None,
        form: tuple[str, str] = (FORM.id, FORM.version),
        name: str = CANARY,
        device_id: str | None = None,
        sealed_to: list[crypto.RecipientKey] | None = None,
        withdrawn: bool = False,
        match: list[dict[str, str]] | None = None,
        attachments: list[AttachmentRef] | None = None,
    ) -> RecordEnvelope:
        """A record revision sealed to the organisation (or to `sealed_to`) and signed by
        this device (a consent withdrawal, sealing nothing, with `withdrawn`), with the
        match digests `match` (sync.protocol.MatchKey dicts)."""
        record_id = record_id or uuid.uuid4()
        rev = rev or revision()
        recipients = sealed_to or [crypto.RecipientKey.model_validate(r) for r in self.recipients]
        sealed = None
        if not withdrawn:
            sealed = crypto.seal(
                f'{{"given_name": "{name}"}}'.encode(),
                recipients,
                crypto.record_aad(str(record_id), rev),
            )
        now = datetime.now(UTC)
        unsigned = RecordEnvelope(
            id=record_id,
            form_id=form[0],
            form_version=form[1],
            revision=rev,
            base_revision=base,
            created_at=now,
            updated_at=now,
            device_id=device_id or self.device_id,
            stats=dict(STATS) if stats is None else stats,
            sealed=sealed,
            consent_withdrawn=withdrawn,
            match=match or [],
            attachments=attachments or [],
            signature=b"\0" * 64,
        )
        return unsigned.model_copy(update={"signature": self.key.sign(unsigned.signing_bytes())})


def chunk_manifest(*chunks: bytes, field: str = "photo") -> AttachmentRef:
    """The manifest of an attachment whose ciphertext chunks are `chunks` (sizes to match)."""
    return AttachmentRef(
        id=uuid.uuid4().hex,
        field=field,
        media_type="image/jpeg",
        size=(len(chunks) - 1) * 256 * 1024 + 1,
        chunks=[hashlib.sha256(chunk).hexdigest() for chunk in chunks],
    )


def push_body(*envelopes: RecordEnvelope) -> bytes:
    return PushRequest(records=list(envelopes)).model_dump_json().encode()


class World:
    """Organisations and devices on one running server (`app`), made through the real API."""

    def __init__(self, app: FastAPI, client: httpx.Client, org_key: crypto.OrgKeyPair) -> None:
        self.storage: Storage = app.state.fieldapp.storage
        self.server_key: bytes = app.state.fieldapp.signing_key.public_key
        self.client = client
        self.org_key = org_key

    def issue(
        self, org: str, role: Role = "collector", region: str | None = None, **options: Any
    ) -> admin.IssuedCode:
        """A one-time code for `org`, vouching for this server's key (`admin.enrol_code`)."""
        return admin.enrol_code(
            self.storage, org, role, region, server_key=self.server_key, **options
        )

    def org(self, name: str, *, own_form: bool = True) -> Organisation:
        org = admin.create_org(self.storage, name, recipients=[self.org_key.recipient])
        if own_form:
            admin.publish_form(self.storage, FORM, org=org.id)
        return org

    def enrol(
        self, org: Organisation, role: Role = "collector", region: str | None = None
    ) -> Phone:
        issued = self.issue(org.id, role, region)
        key = crypto.SigningKey.generate()
        device_id = f"dev-{uuid.uuid4().hex[:12]}"
        response = self.client.post(
            "/v1/enrol",
            json={
                "code": issued.code,
                "device_id": device_id,
                "device_public_key": base64.b64encode(key.public_key).decode(),
                "device_label": "test phone",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Phone(
            device_id,
            key,
            body["token"],
            org.id,
            role,
            region,
            body["recipients"],
            base64.b64decode(body["server_public_key"]),
        )

    def push(self, phone: Phone, *envelopes: RecordEnvelope) -> httpx.Response:
        return self.client.post(
            "/v1/records:push",
            content=push_body(*envelopes),
            headers={**phone.auth, "Content-Type": "application/json"},
        )
