"""`PUT /v1/team/roster`: a device shares participants with its team, sealed with the team
key the server does not hold."""

from __future__ import annotations

from sync.protocol import RosterOutcome, RosterPush, RosterPushResponse
from sync.server.auth import ROSTER_ROLES
from sync.server.relaying import relayed_roster_writers
from sync.server.routes.common import Context, CurrentDevice, audit, require_role, v1_router

__all__ = ["router"]

router = v1_router()


@router.put("/team/roster", response_model=RosterPushResponse)
def put_roster(body: RosterPush, device: CurrentDevice, context: Context) -> RosterPushResponse:
    """Share participants with the device's team (its organisation and region), sealed with
    the team key the server does not hold; other devices of the region get them by pull.
    Idempotent: pushing the same entries again changes nothing. A relay passes on its
    devices' entries, each as its own device's (`relayed_roster_writers`)."""
    if device.role != "relay":
        require_role(device, ROSTER_ROLES, "share participants with a team")
    storage, now = context.storage, context.now()
    statuses = storage.put_roster(
        device,
        [(str(entry.key), entry.sealed) for entry in body.entries],
        now,
        relayed_roster_writers(storage, device, body),
    )
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    outcome = ",".join(f"{status}:{count}" for status, count in counts.items())
    audit(context, device, "roster_push", outcome, now=now)
    return RosterPushResponse(
        outcomes=[
            RosterOutcome(key=entry.key, status=status)
            for entry, status in zip(body.entries, statuses, strict=True)
        ]
    )
