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
- `batch_signing`: one device signature per pushed batch, over a Merkle root;
- `changes`: the change log, one model per kind of change;
- `enrolment`: enrolling a device, enrolment codes and links, the server URL rule;
- `roster`: team rosters;
- `office`: the office's records list and reviews, and sealed parts for case managers;
- `bundles`: offline bundle files (a signed, compressed outbox or set of changes);
- `matching`: keyed match digests, duplicate pairs and people counts.

It imports nothing of the project: the phone, the server and the office tools all stand on it.
"""

from __future__ import annotations

from sync.protocol.batch_signing import (
    BATCH_SIGNATURES_HEADER,
    record_batch_signing_bytes,
    sign_record_batch,
)
from sync.protocol.bundles import (
    BUNDLE_FORMAT,
    BundleError,
    BundleHeader,
    DevicePayload,
    ServerPayload,
    SignedBundle,
    pack_bundle,
    read_bundle,
)
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
from sync.protocol.matching import (
    MAX_MATCH_KEYS,
    MAX_PAIR_ID,
    DuplicatePair,
    DuplicatesPage,
    MatchDecision,
    MatchDecisionResult,
    MatchKey,
    MatchKind,
    MergeRequest,
    PeopleReport,
    PersonAttendance,
    PersonPair,
)
from sync.protocol.office import (
    APP_VERSION_HEADER,
    MAX_APP_VERSION,
    MAX_OFFICE_PAGE,
    MAX_RECORDS_WAITING,
    MAX_REVIEW_COMMENT,
    REVIEW_REQUEST,
    WAITING_HEADER,
    DeviceRevoked,
    OfficeDevice,
    OfficeDevices,
    OfficeRecord,
    OfficeRecordsPage,
    ReviewDecision,
    ReviewRequest,
    ReviewResult,
    ReviewState,
    SealedRecordView,
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
    "APP_VERSION_HEADER",
    "BATCH_SIGNATURES_HEADER",
    "BUNDLE_FORMAT",
    "ENROL_CHECK_SYMBOLS",
    "ENROL_CODE_ALPHABET",
    "ENROL_SECRET_SYMBOLS",
    "MAX_APP_VERSION",
    "MAX_BATCH_RECORDS",
    "MAX_FIELD_ERRORS",
    "MAX_MATCH_KEYS",
    "MAX_OFFICE_PAGE",
    "MAX_PAIR_ID",
    "MAX_RECEIPT_CHECK",
    "MAX_RECORDS_WAITING",
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
    "WAITING_HEADER",
    "B64Bytes",
    "BadEnrolmentCode",
    "BadEnrolmentLink",
    "BundleError",
    "BundleHeader",
    "Change",
    "ChangeKind",
    "ChangesPage",
    "DevicePayload",
    "DeviceRevoked",
    "DuplicatePair",
    "DuplicatesPage",
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
    "MatchDecision",
    "MatchDecisionResult",
    "MatchKey",
    "MatchKind",
    "MergeRequest",
    "OfficeDevice",
    "OfficeDevices",
    "OfficeRecord",
    "OfficeRecordsPage",
    "OutcomeStatus",
    "PeopleReport",
    "PersonAttendance",
    "PersonPair",
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
    "SealedRecordView",
    "ServerPayload",
    "SignedBundle",
    "UnknownChange",
    "WireFieldError",
    "batch_receipt_signing_bytes",
    "canonical_json",
    "capped_field_errors",
    "check_server_url",
    "normalise_enrol_code",
    "pack_bundle",
    "parse_fingerprint",
    "read_bundle",
    "receipt_tree",
    "record_batch_signing_bytes",
    "sign_record_batch",
]
