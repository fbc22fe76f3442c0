"""`GET /v1/health`: the server is up, and which protocol it speaks."""

from __future__ import annotations

from sync.protocol import PROTOCOL_VERSION, Health
from sync.server.routes.common import v1_router

__all__ = ["router"]

router = v1_router()


@router.get("/health", response_model=Health)
def health() -> Health:
    """Cheap and unauthenticated: what the client's connectivity monitor probes."""
    return Health(status="ok", protocol=PROTOCOL_VERSION)
