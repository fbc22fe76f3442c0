"""Team rosters: the participants a team registers, sealed with the team key the server does
not hold, shared through it with the devices of the same region (`PUT /v1/team/roster`)."""

from __future__ import annotations

import math
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, WithJsonSchema, field_validator

from sync.protocol.wire import PROTOCOL_VERSION, B64Bytes, ProtocolVersion, Role, WireModel

__all__ = [
    "MAX_ROSTER_ENTRIES",
    "MAX_ROSTER_ENTRY_BYTES",
    "ROSTER_ROLES",
    "RosterEntry",
    "RosterOutcome",
    "RosterPush",
    "RosterPushResponse",
    "RosterStatus",
]

# The roles that register people in the field, and so share them with their team's roster.
ROSTER_ROLES: frozenset[Role] = frozenset({"collector", "trainer"})
MAX_ROSTER_ENTRIES = 500
# One participant's details, sealed with the team key: a few hundred bytes in practice.
MAX_ROSTER_ENTRY_BYTES = 16 * 1024

# Sealed roster bytes as /openapi.json publishes them: base64 of 1 to MAX_ROSTER_ENTRY_BYTES.
_SealedEntry = Annotated[
    B64Bytes,
    WithJsonSchema(
        {
            "type": "string",
            "format": "byte",
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|"
            "[A-Za-z0-9+/]{4})$",
            "maxLength": 4 * math.ceil(MAX_ROSTER_ENTRY_BYTES / 3),
        }
    ),
]


class RosterEntry(WireModel):
    """One person of a team roster (`PUT /v1/team/roster`): `key` is the repeat instance's
    `_id`; `sealed` its details AES-256-GCM-encrypted with the team key (fieldapp.crypto:
    `encrypt(team key, ..., team_aad("roster", org, region, key))`), which the server does not
    hold. `sealed` None withdraws the entry (the person was removed from the event).
    `device_id`: set by a relay only, the device whose entry it passes on (left out by
    devices, and ignored from them: a device's entries are its own)."""

    key: UUID
    sealed: _SealedEntry | None
    device_id: str | None = Field(
        default=None, min_length=1, max_length=64, exclude_if=lambda said: said is None
    )

    @field_validator("sealed")
    @classmethod
    def _bounded(cls, value: bytes | None) -> bytes | None:
        if value is not None and not 0 < len(value) <= MAX_ROSTER_ENTRY_BYTES:
            raise ValueError(f"a sealed roster entry is 1 to {MAX_ROSTER_ENTRY_BYTES} bytes")
        return value


class RosterPush(WireModel):
    """A batch of roster entries, taken in order (a key named twice: the later one counts)."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    entries: list[RosterEntry] = Field(min_length=1, max_length=MAX_ROSTER_ENTRIES)


RosterStatus = Literal["stored", "unchanged", "withdrawn", "refused"]
"""stored: new or changed, other devices of the team get it by pull; unchanged: the server
holds exactly this already (a repeated push); withdrawn: removed, the team gets a tombstone;
refused: the key belongs to another region's entry (nothing written)."""


class RosterOutcome(WireModel):
    key: UUID
    status: RosterStatus


class RosterPushResponse(WireModel):
    protocol: ProtocolVersion = PROTOCOL_VERSION
    outcomes: list[RosterOutcome]
