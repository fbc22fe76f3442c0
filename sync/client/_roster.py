"""The roster push: participants waiting in the roster outbox (held there until their record
was sent) go to the team, sealed with the team key, in batches."""

from __future__ import annotations

import uuid

from fieldapp.store import Store
from sync.client._exchange import Exchange, answer
from sync.client._report import SyncReport
from sync.client._state import STATE_ROLE
from sync.protocol import (
    MAX_ROSTER_ENTRIES,
    ROSTER_ROLES,
    RosterEntry,
    RosterPush,
    RosterPushResponse,
)

__all__ = ["push_roster"]

_Pending = list[tuple[str, str, bytes | None]]  # (key, digest, sealed), as the store holds them


def push_roster(
    store: Store, exchange: Exchange, token: str, report: SyncReport, max_batch_bytes: int
) -> None:
    """Share the participants waiting in the roster outbox with the team, in batches of at
    most `max_batch_bytes`; an entry leaves the outbox once the server answered for it (a
    repeat is harmless), a refused one stays and is named in `report.errors`. Devices whose
    role does not register people keep theirs (the server would refuse). Raises
    ServerRefused or ServerUnreachable when a batch cannot go."""
    if store.settings.get(STATE_ROLE) not in ROSTER_ROLES:
        return
    after = ""
    while page := store.roster.pending(after=after, limit=MAX_ROSTER_ENTRIES):
        batch: _Pending = []
        size = 0
        for item in page:
            entry_size = 100 + 2 * len(item[2] or b"")  # base64 and JSON around it
            if batch and size + entry_size > max_batch_bytes:
                _send(store, exchange, token, batch, report)
                batch, size = [], 0
            batch.append(item)
            size += entry_size
        _send(store, exchange, token, batch, report)
        after = page[-1][0]


def _send(
    store: Store, exchange: Exchange, token: str, batch: _Pending, report: SyncReport
) -> None:
    body = RosterPush(
        entries=[RosterEntry(key=uuid.UUID(key), sealed=sealed) for key, _, sealed in batch]
    )
    response = exchange.send_json("PUT", "/v1/team/roster", body, token=token)
    stored = answer(response, RosterPushResponse, "answer to a roster push")
    digests = {key: digest for key, digest, _ in batch}
    answered = {}
    for outcome in stored.outcomes:
        key = str(outcome.key)
        if key not in digests:
            continue
        answered[key] = digests[key]
        if outcome.status == "refused":
            report.errors.append(
                f"participant entry {key} was refused by the server: it stays on this device"
            )
        elif outcome.status in ("stored", "unchanged"):
            report.team_entries += 1
    store.roster.pushed(answered)
