"""Offline bundles at the server: a device's bundle ingested as a push, and the bundles the
server writes for devices (the changes a pull brings, the receipts of an import).

A device bundle is refused whole, before anything is written, if its frame or digest is
damaged (truncated, a flipped byte), it is not signed by the enrolled key of the device it
names, that device is revoked or of another organisation. Otherwise its envelopes go through
`ingest_push` exactly as a network push (each verified and answered on its own) and its
roster entries through the roster's own storage; importing it again, or after the same
records arrived by network, only answers `duplicate`/`unchanged`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fieldapp import crypto
from sync.protocol import (
    ROSTER_ROLES,
    BundleError,
    ChangesPage,
    RecordOutcome,
    ServerPayload,
    pack_bundle,
    read_bundle,
)
from sync.server.admin import find_org, open_server_storage
from sync.server.checks import FormRules, RefusedForm
from sync.server.ingest import (
    ReceiptSigner,
    RulesLookup,
    device_actor,
    ingest_push,
    published_rules,
)
from sync.server.keys import load_server_key, server_key_id
from sync.server.settings import ServerSettings
from sync.server.storage import Device, NotFound, Storage

__all__ = [
    "BundleImport",
    "BundleServer",
    "bundle_server",
    "export_for_device",
    "export_for_region",
    "import_device_bundle",
]

_PAGE = 5_000


@dataclass(frozen=True)
class BundleImport:
    """What a device bundle's import did: the writer, one outcome per envelope (in the
    bundle's order), one status per roster entry (key, status), and the answer bundle for
    the writer (receipts of the stored records, and its changes)."""

    device_id: str
    outcomes: list[RecordOutcome]
    roster: list[tuple[str, str]]
    answer: bytes


def import_device_bundle(
    storage: Storage, data: bytes, *, now: datetime, rules: RulesLookup, signer: ReceiptSigner
) -> BundleImport:
    """Ingest a device bundle as that device's push; BundleError (nothing written) if it is
    damaged, not signed by its writer's enrolled key, or its writer is revoked or unknown."""
    signed = read_bundle(data)
    header = signed.header
    if header.kind != "device":
        raise BundleError("this is a bundle for devices, not one a device wrote: import it there")
    try:
        device = storage.get_device(header.writer_id)
    except NotFound:
        raise BundleError(
            f"the bundle's writer {header.writer_id} is not a device enrolled here"
        ) from None
    if device.org_id != header.org_id:
        raise BundleError(f"the bundle names organisation {header.org_id}, not its writer's")
    try:
        crypto.verify(device.public_key, signed.signature, header.signing_bytes())
    except crypto.SignatureError:
        raise BundleError(
            f"the bundle is not signed by device {device.id}: it was altered or forged"
        ) from None
    if device.revoked_at is not None:
        storage.append_audit(
            device_actor(device), "bundle_import", "refused:revoked", now, org_id=device.org_id
        )
        raise BundleError(
            f"the bundle's writer, device {device.id}, was revoked on"
            f" {device.revoked_at:%Y-%m-%d %H:%M} UTC: nothing imported"
        )
    payload = signed.device_payload()
    if header.counts != payload.counts():
        raise BundleError("the bundle's content does not match its signed counts")
    outcomes = ingest_push(
        storage,
        device,
        payload.records,
        now=now,
        rules=rules,
        signer=signer,
        receipts="batch",
        action="bundle_import",
    )
    roster: list[tuple[str, str]] = []
    if payload.roster:
        keys = [str(entry.key) for entry in payload.roster]
        if device.role in ROSTER_ROLES:
            statuses = storage.put_roster(
                device, [(str(e.key), e.sealed) for e in payload.roster], now
            )
        else:
            statuses = ["refused"] * len(keys)
        roster = list(zip(keys, statuses, strict=True))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    storage.append_audit(
        device_actor(device),
        "bundle_import",
        ",".join(f"{status}:{n}" for status, n in sorted(counts.items())) or "empty",
        now,
        org_id=device.org_id,
        device_id=device.id,
    )
    answer = export_for_device(storage, device.id, now=now, signer=signer, outcomes=outcomes)
    return BundleImport(device.id, outcomes, roster, answer)


def export_for_device(
    storage: Storage,
    device_id: str,
    *,
    now: datetime,
    signer: ReceiptSigner,
    outcomes: list[RecordOutcome] | None = None,
    cursor: int = 0,
) -> bytes:
    """A server bundle for one device: every change after `cursor` it may see (forms, shared
    events, its region's roster, reviews of its records, revocations) and `outcomes` (the
    answers, with receipts, to the device's bundle just imported)."""
    try:
        device = storage.get_device(device_id)
    except NotFound:
        raise BundleError(f"no device {device_id} is enrolled here") from None
    if device.revoked_at is not None:
        raise BundleError(f"device {device_id} is revoked: it gets no bundle")
    return _server_bundle(
        storage, device, now=now, signer=signer, outcomes=outcomes or [], cursor=cursor,
        for_device=device.id, for_region=None,
    )  # fmt: skip


def export_for_region(
    storage: Storage,
    org_id: str,
    region: str,
    *,
    now: datetime,
    signer: ReceiptSigner,
    cursor: int = 0,
) -> bytes:
    """A server bundle any collector or trainer of `region` may import: the changes such a
    device sees (its own reviews excepted: those need `export_for_device`)."""
    viewer = Device(
        id=f"region:{region}",
        org_id=org_id,
        role="collector",
        region=region,
        public_key=b"",
        label="",
        enrolled_at=now,
    )
    return _server_bundle(
        storage, viewer, now=now, signer=signer, outcomes=[], cursor=cursor,
        for_device=None, for_region=region,
    )  # fmt: skip


def _server_bundle(
    storage: Storage,
    viewer: Device,
    *,
    now: datetime,
    signer: ReceiptSigner,
    outcomes: list[RecordOutcome],
    cursor: int,
    for_device: str | None,
    for_region: str | None,
) -> bytes:
    changes = []
    start = cursor
    while True:
        page: ChangesPage = storage.changes_since(viewer, cursor, _PAGE)
        changes.extend(page.changes)
        cursor = page.next_cursor
        if not page.has_more:
            break
    payload = ServerPayload(
        changes=changes, from_cursor=start, next_cursor=cursor, outcomes=outcomes
    )
    return pack_bundle(
        "server",
        writer_id=signer.key_id,
        org_id=viewer.org_id,
        created_at=now,
        counts={"changes": len(changes), "outcomes": len(outcomes)},
        payload=payload.model_dump_json().encode("utf-8"),
        sign=signer.key.sign,
        for_device=for_device,
        for_region=for_region,
    )


@contextmanager
def bundle_server(settings: ServerSettings) -> Iterator[BundleServer]:
    """The server's storage (migrated) with its receipt-signing key and form rules, as a
    bundle command at the centre needs them; closed on exit."""
    with open_server_storage(settings) as storage:
        key = load_server_key(settings, storage, datetime.now(UTC))
        cache: dict[int, FormRules | RefusedForm] = {}

        def rules(org_id: str, form_id: str, version: str) -> FormRules | RefusedForm | None:
            return published_rules(storage, cache, org_id, form_id, version)

        yield BundleServer(storage, ReceiptSigner(key, server_key_id(key.public_key)), rules)


@dataclass(frozen=True)
class BundleServer:
    storage: Storage
    signer: ReceiptSigner
    rules: RulesLookup

    def import_bundle(self, data: bytes) -> BundleImport:
        return import_device_bundle(
            self.storage, data, now=datetime.now(UTC), rules=self.rules, signer=self.signer
        )

    def export_for(self, target: str, org: str | None = None) -> tuple[str, bytes]:
        """A bundle for a device (by id) or else a region (of `org`, or of the only
        organisation); returns what it is for ("device X" / "region R") and its bytes."""
        now = datetime.now(UTC)
        try:
            self.storage.get_device(target)
        except NotFound:
            pass
        else:
            return f"device {target}", export_for_device(
                self.storage, target, now=now, signer=self.signer
            )
        if org is None:
            organisations = self.storage.list_organisations()
            if len(organisations) != 1:
                raise BundleError(
                    f"{target!r} is no device here; as a region it needs --org (this server"
                    " has several organisations, or none)"
                )
            org_id = organisations[0].id
        else:
            org_id = find_org(self.storage, org).id
        return f"region {target}", export_for_region(
            self.storage, org_id, target, now=now, signer=self.signer
        )
