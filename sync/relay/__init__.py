"""The relay: a regional office's node (see docs/sync-protocol.md, *Relays*).

It is the sync server app with its own database for the devices enrolled at it, and a
client of its upstream (the centre, or a regional relay above a district one): it passes
its devices' enrolments up, forwards their envelopes unchanged with the hops they came
through, and passes forms, shared items, reviews and revocations down. It imports the
server and the sync client's exchange; nothing but the command line imports it.
"""

from __future__ import annotations

from sync.relay.identity import IDENTITY_FILE, RelayIdentity, RelayIdentityError
from sync.relay.node import RelayEnrolError, RelayNode, enrol_relay, relay_device_id
from sync.relay.serve import create_relay_app, prepare_relay, serve_relay

__all__ = [
    "IDENTITY_FILE",
    "RelayEnrolError",
    "RelayIdentity",
    "RelayIdentityError",
    "RelayNode",
    "create_relay_app",
    "enrol_relay",
    "prepare_relay",
    "relay_device_id",
    "serve_relay",
]
