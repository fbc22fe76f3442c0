"""The sync client, as the phone and the laptop use it: enrol a device (`enrol`), sync its
store with the server (`SyncClient`), as soon as the server is reachable (`SyncMonitor`).

One public namespace over private modules of one job each, in layers (each imports only
from below; see the `client-rooms` contract in pyproject.toml):

- `_monitor`: the connectivity monitor, over
- `_client`: `SyncClient` (one sync: receipts check, push, roster, pull), over
- `_case_files`: a case manager opening a sealed record with the organisation's key, over
- `_referrals`: referrals between organisations (the directory, kept for offline use;
  referrals sealed to the receiver, listed, answered, opened with the receiver's key), over
- `_enrol`, `_push`, `_receipt_check`, `_roster`, `_pull`, `_office`, `_bundle`: one step
  each (`_office`: the office's records list, reviews and sealed parts; `_bundle`: offline
  bundle files), over
- `_changes` (one handler per kind of pulled change), `_ahead` (a pipeline stage in a
  thread), over
- `_outcomes`: a push answer's outcome and receipt, per record, over
- `_exchange`: the HTTP exchange with one server, what an answer means, over
- `_transports`: retries and byte counting as httpx transports, over
- `_backoff`, `_errors`, `_report`, `_state`: retry timing, the error tree, the report,
  the store keys.
"""

from __future__ import annotations

from sync.client._attachments import waiting_uploads
from sync.client._backoff import RetryPolicy, jitter_source
from sync.client._bundle import BundleProgress, ExportedBundle, export_bundle, import_bundle
from sync.client._case_files import (
    OpenedAttachment,
    OpenedRecord,
    OpenedRevision,
    open_attachments,
    open_record,
)
from sync.client._client import RecordVersions, SyncClient
from sync.client._enrol import EnrolResult, enrol
from sync.client._errors import (
    EnrolmentNotTrusted,
    EnrolRefused,
    NoConsentToRefer,
    NotEnrolled,
    NotInDirectory,
    ReferralRefused,
    ServerRefused,
    ServerUnreachable,
    SyncError,
)
from sync.client._exchange import Exchange, answer, refusal
from sync.client._hub import HubClient
from sync.client._monitor import MonitorState, SyncMonitor
from sync.client._office import DEFAULT_SILENT_DAYS, OfficeClient, is_silent
from sync.client._outcomes import Outgoing, ReceiptVerifier
from sync.client._push import DEFAULT_MAX_BATCH_BYTES
from sync.client._receipt_check import RECEIPT_CHECK_INTERVAL, RECEIPT_RECHECK_MARGIN
from sync.client._referrals import (
    REFERRAL_FIELDS,
    ReferralContents,
    ReferralsClient,
    cached_directory,
    open_referral,
)
from sync.client._report import (
    CLOCK_SKEW_WARNING,
    AttachmentProgressCallback,
    ProgressCallback,
    SyncReport,
)
from sync.client._state import (
    SECRET_TOKEN,
    STATE_REGION,
    STATE_ROLE,
    STATE_SERVER_PUBLIC_KEY,
    STATE_SERVER_URL,
)
from sync.client._transports import CountingTransport, RetryingTransport, Traffic

__all__ = [
    "CLOCK_SKEW_WARNING",
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_SILENT_DAYS",
    "RECEIPT_CHECK_INTERVAL",
    "RECEIPT_RECHECK_MARGIN",
    "REFERRAL_FIELDS",
    "SECRET_TOKEN",
    "STATE_REGION",
    "STATE_ROLE",
    "STATE_SERVER_PUBLIC_KEY",
    "STATE_SERVER_URL",
    "AttachmentProgressCallback",
    "BundleProgress",
    "CountingTransport",
    "EnrolRefused",
    "EnrolResult",
    "EnrolmentNotTrusted",
    "Exchange",
    "ExportedBundle",
    "HubClient",
    "MonitorState",
    "NoConsentToRefer",
    "NotEnrolled",
    "NotInDirectory",
    "OfficeClient",
    "OpenedAttachment",
    "OpenedRecord",
    "OpenedRevision",
    "Outgoing",
    "ProgressCallback",
    "ReceiptVerifier",
    "RecordVersions",
    "ReferralContents",
    "ReferralRefused",
    "ReferralsClient",
    "RetryPolicy",
    "RetryingTransport",
    "ServerRefused",
    "ServerUnreachable",
    "SyncClient",
    "SyncError",
    "SyncMonitor",
    "SyncReport",
    "Traffic",
    "answer",
    "cached_directory",
    "enrol",
    "export_bundle",
    "import_bundle",
    "is_silent",
    "jitter_source",
    "open_attachments",
    "open_record",
    "open_referral",
    "refusal",
    "waiting_uploads",
]
