"""What a relay and its upstream say to each other about enrolment while the line between
them comes and goes (docs/sync-protocol.md, *Relays*): the codes the centre issued for the
relay, which it checks while the centre is away (`GET /v1/relay/codes`), and the enrolments
it made with them, passed up once the line is back (`POST /v1/relay/enrolments`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from sync.protocol.enrolment import DevicePublicKey
from sync.protocol.wire import PROTOCOL_VERSION, B64Bytes, ProtocolVersion, Role, WireModel

__all__ = ["MAX_RELAY_CODES", "RelayCode", "RelayCodes", "RelayEnrolled", "RelayEnrolment"]

# Codes in one answer: an office pre-issues a few dozen for a trip, not thousands.
MAX_RELAY_CODES = 1000
_HEX_SHA256 = Field(pattern="^[0-9a-f]{64}$")


class RelayCode(WireModel):
    """A code issued for the relay, as the relay may know it: the sha256 of its secret (as
    every server keeps codes), never the code, nor its proof key; the team and match keys
    still wrapped by the code, which only the device that types it can open."""

    code_hash: Annotated[str, _HEX_SHA256]
    role: Role
    region: str | None
    expires_at: AwareDatetime
    wrapped_team_key: B64Bytes | None = None
    wrapped_match_key: B64Bytes | None = None
    # Asked with `?below=true`: the relay enrolled through the caller the code is bound to,
    # which the caller hands it on to; left out for a code bound to the caller itself.
    relay_id: str | None = Field(default=None, exclude_if=lambda relay_id: relay_id is None)


class RelayCodes(WireModel):
    """`GET /v1/relay/codes`: the codes issued for the calling relay, unused and unexpired
    (with `?below=true`, those of the relays enrolled through it too, each naming its
    relay: an older relay, which does not ask, gets only its own, as before)."""

    protocol: ProtocolVersion = PROTOCOL_VERSION
    codes: list[RelayCode] = Field(max_length=MAX_RELAY_CODES)


class RelayEnrolment(WireModel):
    """`POST /v1/relay/enrolments`: a device the relay enrolled while its upstream was away.
    `proof`: HMAC-SHA256 under the code's proof key (`sync.server.auth.enrol_proof`) of the
    device id and key, made by the relay from the code the device typed, which it then
    forgot: the centre, which keeps the proof key, so knows the device gave the code itself.
    `enrolled_at`: when the relay enrolled it (the code's expiry is checked at that time)."""

    device_id: str = Field(min_length=1, max_length=64)
    device_public_key: DevicePublicKey
    device_label: str = Field(default="", max_length=100)
    code_hash: Annotated[str, _HEX_SHA256]
    proof: Annotated[str, _HEX_SHA256]
    enrolled_at: AwareDatetime


class RelayEnrolled(WireModel):
    """The upstream took the enrolment: the device exists there with the key the relay
    passed up, and the relay may forward its records."""

    device_id: str
    enrolled_at: datetime
