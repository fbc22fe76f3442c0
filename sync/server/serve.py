"""Run the server under uvicorn: `serve(settings)` is what `fieldapp serve` calls.

It listens on 127.0.0.1 by default: exposing it means putting a TLS-terminating proxy in
front, never binding it bare to a public address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from sync.server.app import create_app
from sync.server.settings import ServerSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "running_in_thread", "serve", "uvicorn_server"]

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
        date_header=False,  # the app stamps Date with its own clock (the receipts' one)
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(settings: ServerSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    uvicorn_server(settings, host, port).run()


@contextmanager
def running_in_thread(app: FastAPI, port: int = 0, *, timeout: float = 30) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (port 0: a free one) in a background thread;
    yield its base URL; stop it on exit. For the demo and the tests."""
    config = uvicorn.Config(
        app, host=DEFAULT_HOST, port=port, log_level="warning", lifespan="on", date_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fieldapp-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{DEFAULT_HOST}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout)
