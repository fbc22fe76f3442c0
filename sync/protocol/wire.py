"""What every message of the protocol shares: its base model, the field types that cross the
wire (base64 bytes, revisions, timestamps, the protocol version), the roles, and `Health`,
which announces the version."""

from __future__ import annotations

import binascii
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
)

__all__ = [
    "MAX_BATCH_RECORDS",
    "PROTOCOL_VERSION",
    "REVISION_RE",
    "B64Bytes",
    "Health",
    "ProtocolVersion",
    "Revision",
    "Role",
    "Timestamp",
    "WireModel",
]

PROTOCOL_VERSION: Literal[1] = 1
# Records in one push, and so leaves of one batch's receipt tree.
MAX_BATCH_RECORDS = 500
REVISION_RE = re.compile(r"^[1-9][0-9]{0,8}-[0-9a-f]{32}$")

# `relay`: a regional office's node, which forwards the envelopes of the devices enrolled
# at it unchanged (see docs/sync-protocol.md, *Relays*).
Role = Literal["collector", "trainer", "coordinator", "case_manager", "admin", "relay"]


def _b64decode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected base64 text")
    try:  # what base64.b64decode(value, validate=True) does, without its layers
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError as exc:
        raise ValueError("not valid base64") from exc


B64Bytes = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(
        lambda b: binascii.b2a_base64(b, newline=False).decode("ascii"), return_type=str
    ),
    # What /openapi.json publishes: base64 text (OpenAPI's "byte" format), not raw octets.
    WithJsonSchema({"type": "string", "format": "byte"}),
]


def _revision_shape(value: str) -> str:
    if not REVISION_RE.fullmatch(value):
        raise ValueError("revision must look like '<generation>-<32 hex digits>'")
    return value


# A revision, checked, and as /openapi.json publishes it.
Revision = Annotated[
    str,
    AfterValidator(_revision_shape),
    WithJsonSchema({"type": "string", "pattern": REVISION_RE.pattern}),
]


def _iso_text(value: Any) -> Any:
    """Timestamps cross the wire as ISO 8601 text only: pydantic alone would also take numbers
    (and digit strings) as Unix times, which the published schema does not allow."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME.match(value)):
        return value
    raise ValueError("timestamps must be ISO 8601 text, e.g. 2026-11-02T09:30:00Z")


def _exact_protocol(value: Any) -> Any:
    if type(value) is not int:  # not True, not 1.0: the schema says the integer 1
        raise ValueError(f"protocol must be the integer {PROTOCOL_VERSION}")
    return value


_ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
Timestamp = Annotated[datetime, BeforeValidator(_iso_text)]
ProtocolVersion = Annotated[Literal[1], BeforeValidator(_exact_protocol)]


class WireModel(BaseModel):
    """The base of every wire model: a field the protocol does not name is refused."""

    model_config = ConfigDict(extra="forbid")


class Health(WireModel):
    """`GET /v1/health`: the server is up and speaks this protocol version; `degraded`, with
    a `reason`, while its storage cannot write (a device then keeps its records). `reason` is
    left out when ok, so the answer is the same as before `degraded` existed; a client older
    than it sees a 200 and pushes, and the push is refused with 503 `storage_unavailable`."""

    status: Literal["ok", "degraded"] = "ok"
    protocol: int = PROTOCOL_VERSION
    reason: str | None = None
