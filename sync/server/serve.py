"""Run the server under uvicorn: `serve(settings)` is what `fieldapp serve` calls.

It listens on 127.0.0.1 by default: exposing it means putting a TLS-terminating proxy in
front, never binding it bare to a public address.
"""

from __future__ import annotations

import uvicorn

from sync.server.app import create_app
from sync.server.settings import ServerSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "serve", "uvicorn_server"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def uvicorn_server(
    settings: ServerSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
) -> uvicorn.Server:
    """A configured, not yet started uvicorn server for the app (port 0: any free port)."""
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(settings: ServerSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    uvicorn_server(settings, host, port).run()
