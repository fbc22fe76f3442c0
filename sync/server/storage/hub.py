"""The data collaborative's hub: admitted members and their signed consent, sealed
contributions, releases. Nothing here can be read per organisation by someone holding the
database: contributions and releases' true counts are sealed to the steward's key; in clear
are members' public keys and names, their consent statements, and published figures."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sync.protocol.hub import (
    HubConsent,
    HubMember,
    HubRelease,
    HubReleaseUpload,
    HubSealedContribution,
)
from sync.server.storage.errors import AlreadyExists, NotFound, StorageError
from sync.server.storage.tx import Tx, json_text

__all__ = [
    "NotSharing",
    "admit",
    "contributions",
    "member",
    "members",
    "put_contribution",
    "put_release",
    "record_consent",
    "releases",
]


class NotSharing(StorageError):
    """The organisation has not consented to share (or has withdrawn): nothing is stored."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _member(row: Any) -> HubMember:
    consent = HubConsent.model_validate_json(row["consent"]) if row["consent"] else None
    return HubMember(
        org_key=base64.b64decode(row["org_key"]),
        name=row["name"],
        sharing=bool(row["sharing"]),
        consent=consent,
    )


def admit(tx: Tx, org_key: bytes, name: str, now: datetime) -> HubMember:
    """A new member, not sharing until it consents; AlreadyExists if its key is admitted."""
    try:
        tx.run(
            "INSERT INTO hub_members (org_key, name, sharing, consent, admitted_at)"
            " VALUES (?, ?, ?, NULL, ?)",
            (_b64(org_key), name, False, tx.ts(now)),
        )
    except tx.integrity_errors as exc:
        raise AlreadyExists(f"the key of {name!r} is already a member") from exc
    return member(tx, org_key)


def member(tx: Tx, org_key: bytes) -> HubMember:
    """Raises NotFound for a key the steward has not admitted."""
    row = tx.one("SELECT * FROM hub_members WHERE org_key = ?", (_b64(org_key),))
    if row is None:
        raise NotFound("this key is not a member of the hub")
    return _member(row)


def members(tx: Tx) -> list[HubMember]:
    return [_member(row) for row in tx.all("SELECT * FROM hub_members ORDER BY name")]


def record_consent(tx: Tx, consent: HubConsent) -> HubMember:
    """Keep the signed statement; a withdrawal also drops the member's contributions (no
    release counts them again) and marks every release that counted it."""
    key = consent.statement.org_key
    found = member(tx, key)
    if found.consent is not None and found.consent.statement.at >= consent.statement.at:
        raise AlreadyExists("a consent statement as recent or newer is on record")
    tx.run(
        "UPDATE hub_members SET sharing = ?, consent = ? WHERE org_key = ?",
        (consent.statement.share, consent.model_dump_json(), _b64(key)),
    )
    if not consent.statement.share:
        tx.run("DELETE FROM hub_contributions WHERE org_key = ?", (_b64(key),))
        for row in tx.all("SELECT period, version, contributors, withdrawn FROM hub_releases"):
            counted, marked = json.loads(row["contributors"]), json.loads(row["withdrawn"])
            if _b64(key) in counted and _b64(key) not in marked:
                tx.run(
                    "UPDATE hub_releases SET withdrawn = ? WHERE period = ? AND version = ?",
                    (json_text([*marked, _b64(key)]), row["period"], row["version"]),
                )
    return member(tx, key)


def put_contribution(tx: Tx, org_key: bytes, period: str, sealed: bytes, now: datetime) -> None:
    """Store (or replace) the member's sealed counts for `period`; NotSharing without consent."""
    if not member(tx, org_key).sharing:
        raise NotSharing("the organisation does not share with this hub: consent first")
    tx.run(
        "DELETE FROM hub_contributions WHERE org_key = ? AND period = ?", (_b64(org_key), period)
    )
    tx.run(
        "INSERT INTO hub_contributions (org_key, period, sealed, received_at) VALUES (?, ?, ?, ?)",
        (_b64(org_key), period, sealed, tx.ts(now)),
    )


def contributions(tx: Tx, period: str) -> list[HubSealedContribution]:
    """The period's contributions of members sharing now, by key."""
    rows = tx.all(
        "SELECT c.* FROM hub_contributions c JOIN hub_members m ON m.org_key = c.org_key"
        " WHERE c.period = ? AND m.sharing = ? ORDER BY c.org_key",
        (period, True),
    )
    return [
        HubSealedContribution(
            period=row["period"],
            sealed=bytes(row["sealed"]),
            org_key=base64.b64decode(row["org_key"]),
            received_at=tx.dt(row["received_at"]),
        )
        for row in rows
    ]


def put_release(tx: Tx, upload: HubReleaseUpload, now: datetime) -> HubRelease:
    """Store a release as the next version of its period; AlreadyExists otherwise."""
    row = tx.one(
        "SELECT MAX(version) AS latest FROM hub_releases WHERE period = ?",
        (upload.period,),
    )
    latest = (row["latest"] if row else None) or 0
    if upload.version != latest + 1:
        raise AlreadyExists(
            f"version: {upload.period} is at version {latest}; the next is {latest + 1}"
        )
    try:
        _insert_release(tx, upload, now)
    except tx.integrity_errors as exc:
        raise AlreadyExists(f"version: {upload.period} version {upload.version} exists") from exc
    return releases(tx, upload.period, sealed=True)[-1]


def _insert_release(tx: Tx, upload: HubReleaseUpload, now: datetime) -> None:
    tx.run(
        "INSERT INTO hub_releases (period, version, tables, contributors, signature,"
        " sealed_counts, withdrawn, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            upload.period,
            upload.version,
            json_text(upload.tables),
            json_text([_b64(key) for key in upload.contributors]),
            upload.signature,
            upload.sealed_counts,
            "[]",
            tx.ts(now),
        ),
    )


def releases(tx: Tx, period: str | None, *, sealed: bool = False) -> list[HubRelease]:
    """Releases by period and version (the sealed true counts only with `sealed`)."""
    where, params = ("WHERE period = ?", (period,)) if period else ("", ())
    rows = tx.all(f"SELECT * FROM hub_releases {where} ORDER BY period, version", params)  # noqa: S608
    return [
        HubRelease(
            period=row["period"],
            version=row["version"],
            tables=json.loads(row["tables"]),
            contributors=[base64.b64decode(k) for k in json.loads(row["contributors"])],
            signature=bytes(row["signature"]),
            published_at=tx.dt(row["published_at"]),
            withdrawn=[base64.b64decode(k) for k in json.loads(row["withdrawn"])],
            sealed_counts=bytes(row["sealed_counts"]) if sealed else None,
        )
        for row in rows
    ]
