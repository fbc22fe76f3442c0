"""`GET /v1/health`: the server is up, and which protocol it speaks."""

from __future__ import annotations

from sync.protocol import PROTOCOL_VERSION, Health
from sync.server.routes.common import Context, v1_router

__all__ = ["router"]

router = v1_router()


@router.get("/health", response_model=Health, response_model_exclude_none=True)
def health(context: Context) -> Health:
    """Cheap and unauthenticated: what the client's connectivity monitor probes. `degraded`,
    with the reason, while the database cannot store anything (devices then keep their
    records instead of pushing them into failures)."""
    problem = context.storage.write_problem()
    if problem is not None:
        return Health(status="degraded", protocol=PROTOCOL_VERSION, reason=problem)
    return Health(status="ok", protocol=PROTOCOL_VERSION)
