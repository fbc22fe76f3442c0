"""How the sync client's requests move, as httpx transports (one method, `handle_request`),
each wrapping any inner transport: `RetryingTransport` (full-jitter backoff, the server's
Retry-After and Backoff hints) over `CountingTransport` (requests and body bytes on the
wire) over whatever moves the bytes: `httpx.HTTPTransport`, `httpx.MockTransport`, an ASGI
or WSGI app's transport in tests.
"""

from __future__ import annotations

from sync.client._transports.counting import CountingTransport, Traffic
from sync.client._transports.retrying import (
    ONE_ATTEMPT,
    RetryingTransport,
    describe_transport_error,
    storage_unavailable,
)

__all__ = [
    "ONE_ATTEMPT",
    "CountingTransport",
    "RetryingTransport",
    "Traffic",
    "describe_transport_error",
    "storage_unavailable",
]
