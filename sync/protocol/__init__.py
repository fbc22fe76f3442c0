"""The sync wire protocol, version 1: every model that crosses the wire, defined once.

See docs/sync-protocol.md for the exchange. The protocol is built so that relays (a server that
is also a client of an upstream server) and offline file bundles reuse it unchanged: a record
envelope is self-contained (sealed content, clear statistics, the device's signature), and
its identity is `(id, revision)`, so replaying it anywhere, any number of times, is harmless.

One module per job, every public name re-exported here (`from sync.protocol import X`):

- `wire`: the base model, the field types every message shares, roles, `Health`;
- `canonical`: canonical JSON, the bytes that are signed and hashed;
- `errors`: the protocol's exceptions and the error bodies on the wire;
- `records`: record envelopes, pushes and their outcomes, a record's revisions;
- `receipts`: signed receipts, batch receipts' Merkle tree, the receipts check;
- `changes`: the change log, one model per kind of change;
- `enrolment`: enrolling a device, enrolment codes and links, the server URL rule;
- `roster`: team rosters;
- `office`: the office's records list and reviews.

It imports nothing of the project: the phone, the server and the office tools all stand on it.
"""

from __future__ import annotations

from sync.protocol.canonical import (
    canonical_json,
)
from sync.protocol.changes import (
    Change,
    ChangeKind,
    ChangesPage,
    EventChange,
    FormChange,
    FormChangeData,
    LenientChangesPage,
    PublishedForm,
    RecordChange,
    RecordChangeData,
    ReferenceChange,
    ReviewChange,
    ReviewChangeData,
    RevocationChange,
    RevocationChangeData,
    RosterChange,
    RosterChangeData,
    UnknownChange,
)
from sync.protocol.enrolment import (
    ENROL_CHECK_SYMBOLS,
    ENROL_CODE_ALPHABET,
    ENROL_SECRET_SYMBOLS,
    EnrolmentCode,
    EnrolmentLink,
    EnrolRequest,
    EnrolResponse,
    check_server_url,
    normalise_enrol_code,
    parse_fingerprint,
)
from sync.protocol.errors import (
    MAX_FIELD_ERRORS,
    MORE_ERRORS,
    BadEnrolmentCode,
    BadEnrolmentLink,
    ErrorBody,
    InsecureServerURL,
    ProtocolError,
    WireFieldError,
    capped_field_errors,
)
from sync.protocol.office import (
    MAX_OFFICE_PAGE,
    MAX_REVIEW_COMMENT,
    REVIEW_REQUEST,
    OfficeRecord,
    OfficeRecordsPage,
    ReviewDecision,
    ReviewRequest,
    ReviewResult,
    ReviewState,
)
from sync.protocol.receipts import (
    MAX_RECEIPT_CHECK,
    Receipt,
    ReceiptCheck,
    ReceiptCheckResponse,
    ReceiptMode,
    ReceiptProof,
    RevisionRef,
    batch_receipt_signing_bytes,
    receipt_tree,
)
from sync.protocol.records import (
    MAX_RELAY_HOPS,
    MAX_STATS_DEPTH,
    OutcomeStatus,
    PushRequest,
    PushResponse,
    RecordEnvelope,
    RecordOutcome,
    RecordView,
    RelayHop,
)
from sync.protocol.roster import (
    MAX_ROSTER_ENTRIES,
    MAX_ROSTER_ENTRY_BYTES,
    ROSTER_ROLES,
    RosterEntry,
    RosterOutcome,
    RosterPush,
    RosterPushResponse,
    RosterStatus,
)
from sync.protocol.wire import (
    MAX_BATCH_RECORDS,
    PROTOCOL_VERSION,
    REVISION_RE,
    B64Bytes,
    Health,
    Role,
)

__all__ = [
    "ENROL_CHECK_SYMBOLS",
    "ENROL_CODE_ALPHABET",
    "ENROL_SECRET_SYMBOLS",
    "MAX_BATCH_RECORDS",
    "MAX_FIELD_ERRORS",
    "MAX_OFFICE_PAGE",
    "MAX_RECEIPT_CHECK",
    "MAX_RELAY_HOPS",
    "MAX_REVIEW_COMMENT",
    "MAX_ROSTER_ENTRIES",
    "MAX_ROSTER_ENTRY_BYTES",
    "MAX_STATS_DEPTH",
    "MORE_ERRORS",
    "PROTOCOL_VERSION",
    "REVIEW_REQUEST",
    "REVISION_RE",
    "ROSTER_ROLES",
    "B64Bytes",
    "BadEnrolmentCode",
    "BadEnrolmentLink",
    "Change",
    "ChangeKind",
    "ChangesPage",
    "EnrolRequest",
    "EnrolResponse",
    "EnrolmentCode",
    "EnrolmentLink",
    "ErrorBody",
    "EventChange",
    "FormChange",
    "FormChangeData",
    "Health",
    "InsecureServerURL",
    "LenientChangesPage",
    "OfficeRecord",
    "OfficeRecordsPage",
    "OutcomeStatus",
    "ProtocolError",
    "PublishedForm",
    "PushRequest",
    "PushResponse",
    "Receipt",
    "ReceiptCheck",
    "ReceiptCheckResponse",
    "ReceiptMode",
    "ReceiptProof",
    "RecordChange",
    "RecordChangeData",
    "RecordEnvelope",
    "RecordOutcome",
    "RecordView",
    "ReferenceChange",
    "RelayHop",
    "ReviewChange",
    "ReviewChangeData",
    "ReviewDecision",
    "ReviewRequest",
    "ReviewResult",
    "ReviewState",
    "RevisionRef",
    "RevocationChange",
    "RevocationChangeData",
    "Role",
    "RosterChange",
    "RosterChangeData",
    "RosterEntry",
    "RosterOutcome",
    "RosterPush",
    "RosterPushResponse",
    "RosterStatus",
    "UnknownChange",
    "WireFieldError",
    "batch_receipt_signing_bytes",
    "canonical_json",
    "capped_field_errors",
    "check_server_url",
    "normalise_enrol_code",
    "parse_fingerprint",
    "receipt_tree",
]
