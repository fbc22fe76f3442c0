"""The storage contract of the audit log and the record counts."""

from __future__ import annotations

import pytest

from sync.server.storage import (
    StatsRow,
    Storage,
)
from tests.server.conftest import Backend
from tests.server.storage._support import (
    NOW,
    Member,
    revision,
)


def test_audit_is_append_only(backend: Backend, storage: Storage, org_id: str) -> None:
    member = Member(storage, org_id, "collector", None)
    env = member.envelope()
    storage.push_records(member.device, [env, env], NOW)
    storage.append_audit("admin:cli", "revoke", "ok", NOW, org_id=org_id, device_id="x")
    storage.append_audit("admin:cli", "create_org", "ok", NOW)
    entries = storage.list_audit(org_id)
    assert [(e.action, e.outcome, e.record_id) for e in entries] == [
        ("push", "accepted", str(env.id)),
        ("push", "duplicate", str(env.id)),
        ("revoke", "ok", None),
    ]
    assert entries[0].actor == f"device:{member.device.id}" and entries[0].at == NOW
    assert len(storage.list_audit()) == 3 + 1
    assert storage.list_audit(after_id=entries[1].id, limit=1) == [entries[2]]

    for statement in ("UPDATE audit SET outcome = 'forged'", "DELETE FROM audit"):
        with pytest.raises(backend.db_error, match="append-only"):
            backend.raw(statement)
    assert backend.count("audit") == 4
    assert storage.list_audit(org_id)[0].outcome == "accepted"


def test_stats_count_records_by_org_form_and_status(storage: Storage, org_id: str) -> None:
    b_org = storage.create_organisation("Org B", NOW).id
    a, b = Member(storage, org_id, "collector", None), Member(storage, b_org, "collector", None)
    a_records = [a.envelope() for _ in range(3)] + [a.envelope(form_id="screening")]
    storage.push_records(a.device, a_records, NOW)
    first = a_records[0]
    storage.push_records(a.device, [
        a.envelope(record_id=first.id, rev=revision(2), base=first.revision),
        a.envelope(record_id=first.id, rev=revision(2), base=first.revision),  # conflict
        a.envelope(record_id=a_records[1].id, rev=revision(2), base=a_records[1].revision,
                   deleted=True),
    ], NOW)  # fmt: skip
    storage.push_records(b.device, [b.envelope(), b.envelope()], NOW)
    assert sorted(storage.stats(), key=lambda r: (r.org_id != org_id, r.form_id, r.status)) == [
        StatsRow(org_id, "attendance", "conflict", 1),
        StatsRow(org_id, "attendance", "current", 1),
        StatsRow(org_id, "attendance", "deleted", 1),
        StatsRow(org_id, "screening", "current", 1),
        StatsRow(b_org, "attendance", "current", 2),
    ]
