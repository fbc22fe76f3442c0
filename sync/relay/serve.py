"""`fieldapp serve --upstream URL --enrol-code CODE`: a regional node, the sync server app
with its own database for the devices enrolled at it, and a client of its upstream."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import uvicorn
from fastapi import FastAPI

from fieldapp.errors import FieldappError
from sync.protocol import check_server_url
from sync.relay.identity import RelayIdentity
from sync.relay.node import RelayEnrolError, RelayNode, enrol_relay
from sync.server.app import create_app
from sync.server.keys import load_server_key
from sync.server.serve import DEFAULT_HOST, DEFAULT_PORT
from sync.server.settings import ServerSettings
from sync.server.storage import open_storage

__all__ = ["create_relay_app", "prepare_relay", "serve_relay"]


def prepare_relay(
    settings: ServerSettings,
    upstream: str,
    code: str | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> RelayIdentity:
    """The relay's identity with its upstream: the saved one, else a new enrolment with
    `code`. RelayEnrolError if there is none and no code, or the saved one is of another
    upstream (a relay serves one upstream: use another data directory)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    identity = RelayIdentity.load(settings.data_dir)
    if identity is not None:
        if identity.upstream != check_server_url(upstream):
            raise RelayEnrolError(
                f"this relay forwards to {identity.upstream}, not {upstream}: use another"
                " --data-dir for another upstream"
            )
        return identity
    if not code:
        raise RelayEnrolError("this relay is not enrolled upstream yet: pass --enrol-code CODE")
    storage = open_storage(settings.database_url)
    try:
        storage.migrate()
        key = load_server_key(settings, storage, datetime.now(UTC))
        return enrol_relay(settings, storage, key, upstream, code, transport=transport)
    finally:
        storage.close()


def create_relay_app(
    settings: ServerSettings,
    identity: RelayIdentity,
    *,
    transport: httpx.BaseTransport | None = None,
    forward_every: float = 2.0,
) -> FastAPI:
    """The server app for the relay's devices, forwarding to and pulling from its upstream
    while it serves (`app.state.relay` is the `RelayNode`)."""
    node: RelayNode | None = None

    def relay() -> RelayNode:
        if node is None:
            raise FieldappError("the relay is not started yet")
        return node

    app = create_app(
        settings,
        upstream_enrol=lambda body: relay().enrol_upstream(body),
        background=lambda: relay().run(),
        upstream_capabilities=lambda: relay().identity.upstream_capabilities or {},
    )
    node = RelayNode(
        settings,
        app.state.fieldapp.storage,
        identity,
        transport=transport,
        forward_every=forward_every,
    )
    app.state.relay = node
    return app


def serve_relay(
    settings: ServerSettings,
    upstream: str,
    code: str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    forward_every: float = 2.0,
) -> None:
    """Enrol upstream if not yet, then serve until interrupted."""
    identity = prepare_relay(settings, upstream, code)
    config = uvicorn.Config(
        create_relay_app(settings, identity, forward_every=forward_every),
        host=host,
        port=port,
        log_level="info",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
