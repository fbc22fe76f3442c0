"""Sync: the wire protocol, the httpx client and the central server.

The client's public names (and the protocol's server-URL rule it applies) are importable
from here, loaded on first use: importing `sync` (which every `sync.protocol` or
`sync.server` import does) stays light and never pulls in httpx, the local store or the
server.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DEFAULT_MAX_BATCH_BYTES",
    "EnrolRefused",
    "EnrolResult",
    "EnrolmentNotTrusted",
    "InsecureServerURL",
    "MonitorState",
    "NotEnrolled",
    "ProgressCallback",
    "RecordVersions",
    "RetryPolicy",
    "ServerRefused",
    "ServerUnreachable",
    "SyncClient",
    "SyncError",
    "SyncMonitor",
    "SyncReport",
    "check_server_url",
    "enrol",
]

_HOMES = {
    "InsecureServerURL": "sync.protocol",
    "check_server_url": "sync.protocol",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES.get(name, "sync.client")), name)
