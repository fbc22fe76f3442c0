"""The data collaborative (`fieldapp serve --hub`): member organisations share anonymised
counts with a hub, whose steward publishes pooled, k-suppressed releases.

Who is who is a key, not an account: a member organisation is its Ed25519 key (`org_key`),
admitted by the steward; the steward is the key the hub was started with. Every request is
signed by one of them (`HUB_KEY_HEADER`, `HUB_TIME_HEADER`, `HUB_SIGNATURE_HEADER` over
`hub_request_bytes`). The hub never holds a private key: a contribution is sealed (HPKE) to
the steward's hub key before it leaves the organisation, and stays sealed at the hub; a
release's true counts (which the differencing check needs) are sealed the same way; only its
published figures, hidden cells as null, are in clear.

Consent is a signed statement (`ConsentStatement`) the hub keeps as signed: opting out stops
contributions from then on and marks every earlier release that counted the organisation.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from sync.protocol.canonical import canonical_json
from sync.protocol.wire import B64Bytes, Timestamp, WireModel

__all__ = [
    "HUB_KEY_HEADER",
    "HUB_SIGNATURE_HEADER",
    "HUB_TIME_HEADER",
    "ConsentStatement",
    "HubConsent",
    "HubContribution",
    "HubInfo",
    "HubMember",
    "HubMemberRequest",
    "HubRelease",
    "HubReleaseUpload",
    "HubReleases",
    "HubSealedContribution",
    "HubSealedContributions",
    "Period",
    "consent_signed_bytes",
    "hub_request_bytes",
    "parse_period",
    "release_signed_bytes",
]

HUB_KEY_HEADER = "X-Hub-Key"
HUB_TIME_HEADER = "X-Hub-Time"
HUB_SIGNATURE_HEADER = "X-Hub-Signature"

_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


def parse_period(value: str) -> str:
    """A quarter as `2026Q3`: releases and contributions are made per fixed period, so two
    periods never overlap (the differencing check compares releases of one period)."""
    if not isinstance(value, str) or not _PERIOD.match(value):
        raise ValueError(f"period: {value!r} is not a quarter such as 2026Q3")
    return value


Period = Annotated[str, AfterValidator(parse_period)]


def release_signed_bytes(period: str, version: int, tables: list[dict[str, Any]]) -> bytes:
    """What the steward signs of a release: exactly its published tables, period, version."""
    return canonical_json({"period": period, "version": version, "tables": tables})


def consent_signed_bytes(statement: ConsentStatement) -> bytes:
    """What an organisation signs of its consent: the statement's canonical JSON."""
    return canonical_json(statement.model_dump(mode="json"))


def hub_request_bytes(method: str, path: str, time: str, body: bytes) -> bytes:
    """What a hub request's signature covers: method, path and query, time, body digest."""
    digest = hashlib.sha256(body).hexdigest()
    return f"fieldapp-hub/v1\n{method.upper()}\n{path}\n{time}\n{digest}".encode()


class HubInfo(WireModel):
    """`GET /v1/hub`: the keys a member needs: the steward's sealing key (contributions are
    sealed to it) and signing key (releases are signed by it)."""

    sealing_kem: Literal["MLKEM768_X25519", "X25519"]
    sealing_public_key: B64Bytes
    steward_key: B64Bytes
    k: int


class HubMemberRequest(WireModel):
    """The steward admits an organisation by its key (`POST /v1/hub/members`)."""

    org_key: B64Bytes
    name: str = Field(min_length=1, max_length=200)


class ConsentStatement(WireModel):
    """What the organisation signs: to share (or to stop sharing) with this hub, from when."""

    org_key: B64Bytes
    hub_steward_key: B64Bytes
    share: bool
    at: Timestamp


class HubConsent(WireModel):
    """`POST /v1/hub/consent`: the statement and the organisation's signature of its
    canonical JSON."""

    statement: ConsentStatement
    signature: B64Bytes


class HubMember(WireModel):
    """A member as the hub lists it: whether it shares now, and its last consent, signed."""

    org_key: B64Bytes
    name: str
    sharing: bool
    consent: HubConsent | None


class HubContribution(WireModel):
    """What an organisation seals to the hub: its counts for one period, every cell of the
    fixed tables (margins included), signed inside the seal. Counts only, never records."""

    org_key: B64Bytes
    period: Period
    form_id: str
    tables: list[list[str]]
    counts: list[list[Any]]
    signature: B64Bytes = b""


class HubSealedContribution(WireModel):
    """`POST /v1/hub/contributions`: a sealed `HubContribution` (only the steward opens it);
    in answer to the steward's `GET`, also when it arrived."""

    period: Period
    sealed: B64Bytes
    org_key: B64Bytes | None = None
    received_at: Timestamp | None = None


class HubSealedContributions(WireModel):
    contributions: list[HubSealedContribution]


class HubReleaseUpload(WireModel):
    """`POST /v1/hub/releases` (the steward): the published tables (hidden cells null) and
    the signature of their canonical JSON; the true counts sealed to the hub key, for the
    next release's differencing check; which members it counted."""

    period: Period
    version: int = Field(ge=1)
    tables: list[dict[str, Any]]
    contributors: list[B64Bytes]
    signature: B64Bytes
    sealed_counts: B64Bytes


class HubRelease(WireModel):
    """A release as anyone with access reads it; `withdrawn`: the members that counted in it
    and have since withdrawn their consent."""

    period: Period
    version: int
    tables: list[dict[str, Any]]
    contributors: list[B64Bytes]
    signature: B64Bytes
    published_at: Timestamp
    withdrawn: list[B64Bytes] = Field(default_factory=list)
    sealed_counts: B64Bytes | None = None


class HubReleases(WireModel):
    releases: list[HubRelease]
