"""What the storage contract's tests share: enrolled members making signed envelopes like a
phone, the usual records (a conflict, a victim's record) and reads of the database behind
the storage's back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldapp.crypto import SigningKey
from sync.protocol import (
    Change,
    RecordChange,
    RecordEnvelope,
    Role,
    RosterChange,
    RosterChangeData,
)
from sync.protocol.attachments import AttachmentRef
from sync.server.storage import (
    Device,
    Storage,
)
from tests.server.conftest import Backend

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def revision(generation: int = 1) -> str:
    return f"{generation}-{uuid.uuid4().hex}"


class Member:
    """An enrolled device with its own signing key, making signed envelopes like a phone."""

    def __init__(self, storage: Storage, org_id: str, role: Role, region: str | None) -> None:
        self.key = SigningKey.generate()
        code_hash = uuid.uuid4().hex
        storage.create_enrol_code(org_id, code_hash, role, region, NOW + timedelta(days=7), NOW)
        self.token_hash = uuid.uuid4().hex
        self.device: Device = storage.redeem_enrol_code(
            code_hash, f"dev-{uuid.uuid4().hex[:8]}", self.key.public_key, "", self.token_hash, NOW
        )

    def envelope(
        self,
        record_id: uuid.UUID | None = None,
        rev: str | None = None,
        base: str | None = None,
        stats: dict[str, Any] | None = None,
        deleted: bool = False,
        form_id: str = "attendance",
        sealed: bytes = b"\x00sealed-bytes\xff",
        withdrawn: bool = False,
        match: list[dict[str, str]] | None = None,
        attachments: list[AttachmentRef] | None = None,
    ) -> RecordEnvelope:
        unsigned = RecordEnvelope(
            id=record_id or uuid.uuid4(),
            form_id=form_id,
            form_version="1",
            revision=rev or revision(),
            base_revision=base,
            created_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
            updated_at=datetime(2026, 11, 28, 11, 15, 30, 123456, tzinfo=UTC),
            device_id=self.device.id,
            stats=stats if stats is not None else {"count": 3},
            sealed=None if deleted or withdrawn else sealed,
            deleted=deleted,
            consent_withdrawn=withdrawn,
            match=match or [],
            attachments=attachments or [],
            signature=b"\x00" * 64,
        )
        return unsigned.model_copy(update={"signature": self.key.sign(unsigned.signing_bytes())})


def all_changes(storage: Storage, viewer: Device, cursor: int = 0) -> list[Change]:
    page = storage.changes_since(viewer, cursor, 1000)
    assert not page.has_more
    return page.changes


class Conflict:
    """Alice's edit is the head; Bob's edit of the same v1 is its conflicting sibling: Bob is
    the office (a case manager without a region), the only other device that may edit it."""

    def __init__(self, storage: Storage, org_id: str) -> None:
        self.alice = Member(storage, org_id, "collector", "north")
        self.bob = Member(storage, org_id, "case_manager", None)
        self.v1 = self.alice.envelope()
        storage.push_records(self.alice.device, [self.v1], NOW)
        self.alice_v2 = self.alice.envelope(
            record_id=self.v1.id, rev=revision(2), base=self.v1.revision
        )
        self.bob_v2 = self.bob.envelope(
            record_id=self.v1.id, rev=revision(2), base=self.v1.revision
        )
        [accepted] = storage.push_records(self.alice.device, [self.alice_v2], NOW)
        [conflict] = storage.push_records(self.bob.device, [self.bob_v2], NOW)
        assert (accepted.status, conflict.status) == ("accepted", "conflict")


def backend_state(storage: Storage, org_id: str, record_id: uuid.UUID) -> tuple[Any, ...]:
    return (
        storage.get_record(org_id, record_id),
        [(r.revision, r.status) for r in storage.list_revisions(org_id, record_id)],
        len(storage.list_audit()),
    )


def sealed_rows(backend: Backend, record_id: uuid.UUID) -> int:
    """Stored revisions of the record that still hold sealed bytes, counted by raw SQL."""
    sql = f"SELECT COUNT(*) FROM records WHERE id = '{record_id}' AND sealed IS NOT NULL"
    return int(backend.raw(sql)[0][0])


class Victim:
    """Alice's record, of region north: her first version and her edit of it, the head."""

    def __init__(self, storage: Storage, org_id: str) -> None:
        self.alice = Member(storage, org_id, "collector", "north")
        self.v1 = self.alice.envelope()
        self.v2 = self.alice.envelope(record_id=self.v1.id, rev=revision(2), base=self.v1.revision)
        storage.push_records(self.alice.device, [self.v1, self.v2], NOW)
        self.id = self.v1.id


def record_state(backend: Backend, storage: Storage, org_id: str, record_id: uuid.UUID) -> Any:
    """All a write to the record could change: its head, its revisions with their sealed
    bytes, its owner and the change log entries about it."""
    return (
        storage.get_record(org_id, record_id),
        [(r.revision, r.status, r.sealed) for r in storage.list_revisions(org_id, record_id)],
        backend.raw(
            "SELECT owner_device_id, owner_region, consent_withdrawn FROM record_heads"
            f" WHERE id = '{record_id}'"
        ),
        backend.raw(
            "SELECT c.seq, a.device_id FROM changes c LEFT JOIN change_audience a"
            f" ON a.seq = c.seq WHERE c.key = '{record_id}' ORDER BY 1, 2"
        ),
    )


def refusals(storage: Storage, org_id: str, member: Member) -> list[tuple[str, str | None]]:
    return [
        (e.outcome, e.record_id)
        for e in storage.list_audit(org_id)
        if e.device_id == member.device.id and e.outcome.startswith("refused")
    ]


def record_changes(storage: Storage, viewer: Device, cursor: int = 0) -> list[RecordChange]:
    """The record changes `viewer` sees after `cursor`, and nothing else: a test that asserts
    the changes of another kind are not there says so itself."""
    changes = all_changes(storage, viewer, cursor)
    records = [c for c in changes if isinstance(c, RecordChange)]
    assert len(records) == len(changes), changes
    return records


def roster(storage: Storage, member: Member, cursor: int = 0) -> list[RosterChange]:
    return [c for c in all_changes(storage, member.device, cursor) if isinstance(c, RosterChange)]


def sealed(data: bytes) -> RosterChangeData:
    """A roster change's data: the entry's sealed bytes."""
    return RosterChangeData(sealed=data)
