"""Administration of a server's database: the library under `fieldapp admin ...` and the
`/v1/admin/...` endpoints.

Every function takes an open `Storage` (`open_server_storage(settings)` opens and migrates
one from `ServerSettings`) and records what it did in the audit log under `actor`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, StrictFloat

from fieldapp.crypto import (
    OrgKeyPair,
    RecipientKey,
    enrolment_fingerprint,
    wrap_match_key,
    wrap_team_key,
)
from fieldapp.errors import FieldappError
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec
from fieldapp.forms.validate import check
from sync.protocol import EnrolmentCode, EnrolmentLink, Role, check_server_url
from sync.server.auth import enrol_code_hash, enrol_proof_key, new_enrol_secret
from sync.server.keys import load_server_key
from sync.server.settings import ServerSettings
from sync.server.storage import (
    Device,
    FormVersion,
    NotFound,
    NotResolvable,
    Organisation,
    RecordHead,
    Storage,
    open_storage,
)

__all__ = [
    "CLI_ACTOR",
    "AdminError",
    "EnrolCodeRequest",
    "IssuedCode",
    "ResolveRequest",
    "ResolvedRecord",
    "RevokedDevice",
    "create_org",
    "derive_match_key",
    "derive_team_key",
    "enrol_code",
    "find_org",
    "open_server_storage",
    "publish_form",
    "resolve_conflict",
    "revoke",
    "server_public_key",
    "share_event",
    "stats",
    "withdraw_event",
    "write_enrolment_qr",
]

CLI_ACTOR = "admin:cli"
MAX_CODE_TTL_HOURS = 24 * 30


class AdminError(FieldappError):
    """An administrative request cannot be carried out; the message says why."""


class IssuedCode(BaseModel):
    """A new enrolment code: `code` is shown once and only its secret part is stored, as a
    hash. `fingerprint` (64 hex digits) is the enrolment fingerprint the code's check was
    made from (fieldapp.crypto.enrolment_fingerprint): public, the QR link carries it whole."""

    model_config = ConfigDict(extra="forbid")

    code: str
    fingerprint: str
    org_id: str
    role: Role
    region: str | None
    expires_at: datetime


class EnrolCodeRequest(BaseModel):
    """Body of `POST /v1/admin/enrol-codes`; the organisation is the admin's own."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    region: str | None = Field(default=None, min_length=1, max_length=64)
    ttl_hours: StrictFloat = Field(default=24.0, gt=0, le=MAX_CODE_TTL_HOURS)


class RevokedDevice(BaseModel):
    """Answer of `POST /v1/admin/devices/{device_id}:revoke`."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    revoked_at: datetime


class ResolveRequest(BaseModel):
    """Body of `POST /v1/admin/records/{record_id}:resolve`: the version the office keeps."""

    model_config = ConfigDict(extra="forbid")

    keep_revision: str = Field(min_length=1, max_length=64)


class ResolvedRecord(BaseModel):
    """Answer of `POST /v1/admin/records/{record_id}:resolve`: the record's head now."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    form_id: str
    head_revision: str
    deleted: bool
    in_conflict: bool

    @classmethod
    def of(cls, head: RecordHead) -> ResolvedRecord:
        return cls(
            id=head.id,
            form_id=head.form_id,
            head_revision=head.head_revision,
            deleted=head.deleted,
            in_conflict=head.in_conflict,
        )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


@contextmanager
def open_server_storage(settings: ServerSettings) -> Iterator[Storage]:
    """The server's storage, migrated, closed on exit."""
    storage = open_storage(settings.database_url)
    try:
        storage.migrate()
        yield storage
    finally:
        storage.close()


def find_org(storage: Storage, org: str) -> Organisation:
    """An organisation by id, else by name; AdminError if neither matches."""
    for lookup in (storage.get_organisation, storage.organisation_by_name):
        try:
            return lookup(org)
        except NotFound:
            continue
    raise AdminError(f"no organisation has the id or name {org!r}")


def create_org(
    storage: Storage,
    name: str,
    *,
    recipients: Sequence[RecipientKey] = (),
    now: datetime | None = None,
    actor: str = CLI_ACTOR,
) -> Organisation:
    """Create an organisation, optionally with the public keys its devices seal records to."""
    name = name.strip()
    if not name:
        raise AdminError("an organisation needs a name")
    when = _now(now)
    org = storage.create_organisation(name, when)
    if recipients:
        org = storage.set_recipients(org.id, [r.model_dump(mode="json") for r in recipients])
    storage.append_audit(actor, "create_org", "ok", when, org_id=org.id)
    return org


def server_public_key(settings: ServerSettings, storage: Storage) -> bytes:
    """The deployment's receipt-signing public key, which enrolment codes vouch for (the key
    is created here if no server has started yet, exactly as the first server would)."""
    return load_server_key(settings, storage, datetime.now(UTC)).public_key


def enrol_code(
    storage: Storage,
    org: str,
    role: Role,
    region: str | None = None,
    ttl_hours: float = 24.0,
    *,
    server_key: bytes,
    team_key: bytes | None = None,
    match_key: bytes | None = None,
    relay_id: str | None = None,
    now: datetime | None = None,
    actor: str = CLI_ACTOR,
) -> IssuedCode:
    """Issue a one-time enrolment code for a device of `org` (id or name) with this role.

    The code carries a check of the organisation's current recipient keys and of
    `server_key`, the server's receipt-signing public key (see `server_public_key`): the
    device refuses any other keys in the answer to it. Issue new codes after changing either.
    `team_key` (see `derive_team_key`) is stored wrapped by the code itself: the server keeps
    only the hash of the code's secret, so it cannot open it; the device that redeems it can.
    `match_key` (see `derive_match_key`: duplicate detection) is stored wrapped the same way.
    With `relay_id` (see `relay_for_code`, which gives the region and `server_key`), the code
    is for a device enrolling at that relay only: the relay takes its hash while online and
    may enrol the device with it while the line to here is down (docs/sync-protocol.md,
    *Relays*); here it is refused, and any other relay's enrolment with it too.
    """
    if not 0 < ttl_hours <= MAX_CODE_TTL_HOURS:
        raise AdminError(f"a code lives between 0 and {MAX_CODE_TTL_HOURS} hours")
    organisation = find_org(storage, org)
    when = _now(now)
    recipients = [RecipientKey.model_validate(r) for r in organisation.recipients]
    fingerprint = enrolment_fingerprint(recipients, server_key)
    code = EnrolmentCode.issue(new_enrol_secret(), fingerprint)
    wrapped = (
        None if team_key is None else wrap_team_key(code.secret, team_key, organisation.id, region)
    )
    stored = storage.create_enrol_code(
        organisation.id,
        enrol_code_hash(code.secret),
        role,
        region,
        when + timedelta(hours=ttl_hours),
        when,
        wrapped_team_key=wrapped,
        wrapped_match_key=(
            None if match_key is None else wrap_match_key(code.secret, match_key, organisation.id)
        ),
        relay_id=relay_id,
        proof_key=None if relay_id is None else enrol_proof_key(code.secret),
    )
    storage.append_audit(actor, "enrol_code", "ok", when, org_id=organisation.id)
    return IssuedCode(
        code=str(code),
        fingerprint=fingerprint.hex(),
        org_id=organisation.id,
        role=stored.role,
        region=stored.region,
        expires_at=stored.expires_at,
    )


def derive_team_key(storage: Storage, org: str, org_key: OrgKeyPair, region: str | None) -> bytes:
    """The team key of one region of `org`, from the organisation's private key (the one the
    coordinator guards); AdminError if that key is not one of the organisation's."""
    return org_key.team_key(_org_of_key(storage, org, org_key), region)


def derive_match_key(storage: Storage, org: str, org_key: OrgKeyPair) -> bytes:
    """The match key of `org` (one for all its regions), from the organisation's private key;
    AdminError if that key is not one of the organisation's."""
    return org_key.match_key(_org_of_key(storage, org, org_key))


def _org_of_key(storage: Storage, org: str, org_key: OrgKeyPair) -> str:
    organisation = find_org(storage, org)
    if org_key.recipient.model_dump(mode="json") not in organisation.recipients:
        raise AdminError(
            f"the key {org_key.recipient.key_id} is not one of {organisation.name}'s keys"
        )
    return organisation.id


def write_enrolment_qr(path: Path, server_url: str, issued: IssuedCode) -> EnrolmentLink:
    """Draw the enrolment link (the server devices reach, the one-time code and its full
    fingerprint) as a QR code PNG at `path`, mode 0o600: the picture is as secret as the code
    until it is used or expires."""
    import segno  # the `server` extra's: the app only ever reads codes

    link = EnrolmentLink(
        server=check_server_url(server_url), code=issued.code, fingerprint=issued.fingerprint
    )
    picture = io.BytesIO()
    segno.make_qr(link.uri(), error="M").save(picture, kind="png", scale=8, border=4)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        os.chmod(path, 0o600)  # the file may have been there with a wider mode
        file.write(picture.getvalue())
    return link


def revoke(
    storage: Storage, device_id: str, *, now: datetime | None = None, actor: str = CLI_ACTOR
) -> Device:
    """Revoke a device: its token stops working at once (idempotent)."""
    when = _now(now)
    try:
        device = storage.revoke_device(device_id, when)
    except NotFound:
        raise AdminError(f"no device has the id {device_id!r}") from None
    storage.append_audit(actor, "revoke", "ok", when, org_id=device.org_id, device_id=device.id)
    return device


def relay_for_code(storage: Storage, relay_id: str, region: str | None) -> tuple[str | None, bytes]:
    """The region and receipt key of a code for a device that enrols at the relay
    `relay_id`: the relay's region (AdminError for another one), and the relay's key, which
    signs its receipts, for the code's check. AdminError if it is not an active relay."""
    try:
        relay = storage.get_device(relay_id)
    except NotFound:
        raise AdminError(f"no device has the id {relay_id!r}") from None
    if relay.role != "relay" or relay.revoked_at is not None:
        raise AdminError(f"device {relay_id} is not an active relay")
    if region is not None and relay.region is not None and region != relay.region:
        raise AdminError(f"relay {relay_id} serves region {relay.region}, not {region}")
    return (region if relay.region is None else relay.region), relay.public_key


def stats(storage: Storage, org_id: str | None = None, *, relayed: int = 0) -> dict[str, Any]:
    """Record counts by organisation, form and status, as JSON-ready data.

    `{"organisations": [{"id", "name", "forms": {form_id: {"current", "conflict",
    "deleted"}}, "records", "waiting_for_attachments"}], "records": total}` (records whose head
    names attachment chunks the server does not hold yet); with `org_id`, only that one.
    With `relayed`, also `"relayed"`: the newest revisions that came through relays, each
    `{"id", "revision", "device_id", "relay", "hops": [{"node", "received_at"}],
    "received_at"}` (`relay`: the one that pushed it here; `received_at`: here).
    """
    names = {org.id: org.name for org in storage.list_organisations()}
    waiting = storage.records_waiting_for_attachments()
    by_org: dict[str, dict[str, dict[str, int]]] = {}
    for row in storage.stats():
        if org_id is not None and row.org_id != org_id:
            continue
        forms = by_org.setdefault(row.org_id, {})
        counts = forms.setdefault(row.form_id, {"current": 0, "conflict": 0, "deleted": 0})
        counts[row.status] += row.records
    organisations = [
        {
            "id": oid,
            "name": names.get(oid, ""),
            "forms": forms,
            "records": sum(sum(c.values()) for c in forms.values()),
            "waiting_for_attachments": waiting.get(oid, 0),
        }
        for oid, forms in sorted(by_org.items(), key=lambda item: names.get(item[0], item[0]))
    ]
    answer: dict[str, Any] = {
        "organisations": organisations,
        "records": sum(org["records"] for org in organisations),
    }
    if relayed:
        answer["relayed"] = [
            {
                "id": str(revision.id),
                "revision": revision.revision,
                "device_id": revision.device_id,
                "relay": revision.pushed_by,
                "hops": list(revision.hops),
                "received_at": revision.received_at.isoformat(),
            }
            for revision in storage.relayed_revisions(org_id, relayed)
        ]
    return answer


def publish_form(
    storage: Storage,
    spec: FormSpec,
    *,
    org: str | None = None,
    now: datetime | None = None,
    actor: str = CLI_ACTOR,
    files: Mapping[str, bytes] | None = None,
) -> FormVersion:
    """Publish a form version for one organisation (id or name), or for all with `org` None,
    with the content of its attached files by SHA-256 (`files`).

    Publishing the identical spec again changes nothing; another spec under a published
    (form id, version) raises `AlreadyExists`: a new spec needs a new version.
    """
    org_id = find_org(storage, org).id if org is not None else None
    when = _now(now)
    published = storage.publish_form(
        org_id, spec.id, spec.version, spec.model_dump(mode="json"), when, files
    )
    storage.append_audit(actor, "publish_form", "ok", when, org_id=org_id)
    return published


def resolve_conflict(
    storage: Storage,
    org: str,
    record_id: str | UUID,
    keep_revision: str,
    *,
    now: datetime | None = None,
    actor: str = CLI_ACTOR,
    by: Device | None = None,
) -> RecordHead:
    """Settle a record's conflict at the office: `keep_revision` (the head or one of its
    conflicting siblings) becomes the head, the others are kept as superseded, and the devices
    involved learn it by pull. Resolving again with the kept version changes nothing.

    The office chooses with the organisation's key, which opens every version; the server
    only records the choice. `by` is the office device asking through the API (an admin or
    case manager of the record's region, else NotRecordOwner); None is this CLI, which acts
    as an organisation-wide admin.
    """
    organisation = find_org(storage, org)
    try:
        record = record_id if isinstance(record_id, UUID) else UUID(record_id)
    except ValueError:
        raise AdminError(f"{record_id!r} is not a record id (a UUID)") from None
    try:
        return storage.resolve_conflict(
            organisation.id, record, keep_revision, _now(now), actor=actor, by=by
        )
    except (NotFound, NotResolvable) as exc:
        raise AdminError(f"{organisation.name}: {exc}") from None


TRAINING_FORM = "training_attendance"
EVENT_GROUP = "event"


class SharedEvent(BaseModel):
    """A training event the office shared with its trainers; `seq` is its change-log entry."""

    model_config = ConfigDict(extra="forbid")

    key: str
    org_id: str
    region: str | None
    seq: int
    data: dict[str, Any]


def _event_fields() -> tuple[FormSpec, dict[str, FieldSpec]]:
    """The training form and the fields of its event group: a shared event fills exactly those."""
    spec = load_builtin_forms()[TRAINING_FORM]
    group = next(n for n in spec.walk() if isinstance(n, GroupSpec) and n.name == EVENT_GROUP)
    fields = {
        node.name: node
        for node in spec.walk(group.children)
        if isinstance(node, FieldSpec) and node.type not in ("calculate", "note")
    }
    return spec, fields


def share_event(
    storage: Storage,
    org: str,
    details: dict[str, Any],
    *,
    region: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
    actor: str = CLI_ACTOR,
) -> SharedEvent:
    """Share a training event with the organisation's trainers (of one region, or all): their
    devices pull it and start its attendance register with these details filled in.

    `details` holds answers to the training form's event fields (title and start date at
    least), checked like a form: every problem names the field. Sharing again under the same
    `key` replaces the event. The details travel in clear: share only what every trainer of
    the region may see (never participants: they are registered and sealed on the devices).
    """
    organisation = find_org(storage, org)
    spec, fields = _event_fields()
    unknown = sorted(set(details) - set(fields))
    if unknown:
        raise AdminError(
            f"not an event field: {', '.join(unknown)} (the event fields are: {', '.join(fields)})"
        )
    given = {name: value for name, value in details.items() if value not in (None, "", [])}
    problems = [f"{name}: required" for name in ("title", "start_date") if name not in given]
    checked = check(spec, given, partial=True)
    problems += [f"{e.field}: {e.message}" for e in checked.errors if e.field in given]
    if problems:
        raise AdminError("the event is not valid: " + "; ".join(problems))
    data = {
        name: checked.values[name]
        for name in fields
        if name in checked.values and checked.values[name] not in (None, "", [])
    }
    event_key = key or str(uuid4())
    when = _now(now)
    seq = storage.put_shared(organisation.id, "event", event_key, data, region, when)
    storage.append_audit(actor, "share_event", "ok", when, org_id=organisation.id)
    return SharedEvent(key=event_key, org_id=organisation.id, region=region, seq=seq, data=data)


def withdraw_event(
    storage: Storage, org: str, key: str, *, now: datetime | None = None, actor: str = CLI_ACTOR
) -> int:
    """Stop sharing an event: devices drop it on their next pull (registers already started
    on a device stay its records). Returns the tombstone's seq."""
    organisation = find_org(storage, org)
    when = _now(now)
    try:
        seq = storage.delete_shared(organisation.id, "event", key, when)
    except NotFound:
        raise AdminError(f"{organisation.name} shares no event {key!r}") from None
    storage.append_audit(actor, "withdraw_event", "ok", when, org_id=organisation.id)
    return seq
