"""Launching the app: a desktop window where there is a display, else the web view on 127.0.0.1.

One `Services` (one device store, one sync worker) per process; each window or browser session
gets its own `AppState` over it. Background events (the sync status, the inactivity lock) reach
the state through `page.run_thread`, which gives them the session's context. A session
subscribes to the sync status when it opens and unsubscribes when it closes or disconnects;
one that went without a word is dropped by the worker at its first failed delivery.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flet as ft

from fieldapp.paths import assets_dir
from fieldapp.ui.context import AppContext
from fieldapp.ui.screens.shell import APP_NAME, Shell
from fieldapp.ui.services import Services, SyncStatus
from fieldapp.ui.state import AppState
from fieldapp.ui.theme import FONTS, app_theme

__all__ = ["LOCK_CHECK_SECONDS", "build_main", "run_app"]

LOCK_CHECK_SECONDS = 2.0

log = logging.getLogger(__name__)


def build_main(services: Services) -> Callable[[ft.Page], None]:
    """The Flet entry point for `services`: `main(page)` sets up one session."""

    def main(page: ft.Page) -> None:
        state = AppState(services=services)
        page.title = APP_NAME
        page.padding = 0
        page.spacing = 0
        page.fonts = FONTS
        page.theme = app_theme()
        page.dark_theme = app_theme()
        page.theme_mode = ft.ThemeMode.DARK if state.theme == "dark" else ft.ThemeMode.LIGHT
        stop = threading.Event()

        def on_sync_status(status: SyncStatus) -> None:
            if stop.is_set():
                raise RuntimeError("the page is closed")  # the worker drops this subscriber
            page.run_thread(state.on_sync_status, status)

        subscription = services.sync.subscribe(on_sync_status)

        def watch_lock() -> None:
            while not stop.wait(LOCK_CHECK_SECONDS):
                try:
                    page.run_thread(state.check_lock)
                except Exception:  # the session went without a word: stop watching it
                    log.info("autolock watcher: the page is gone", exc_info=True)
                    stop.set()
                    services.sync.unsubscribe(subscription)

        def closed(_: Any = None) -> None:
            stop.set()
            services.sync.unsubscribe(subscription)

        page.on_close = closed
        page.on_disconnect = closed
        threading.Thread(target=watch_lock, name="fieldapp-autolock", daemon=True).start()
        page.render(lambda: AppContext(state, lambda: Shell()))

    return main


def _has_display() -> bool:
    """A desktop window needs a display: always on Windows and macOS, on Linux only with X or
    Wayland (a server or container gets the web view instead)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def run_app(
    data_dir: Path,
    *,
    web: bool,
    host: str = "127.0.0.1",
    port: int | None = None,
    server_url: str | None = None,
) -> None:
    """Run until the window closes (or the process is stopped, for the web view)."""
    services = Services(Path(data_dir), server_url=server_url)
    try:
        use_web = web or not _has_display()
        if use_web:
            ft.run(
                build_main(services),
                view=ft.AppView.WEB_BROWSER,
                host=host,
                port=port if port is not None else _free_port(host),
                assets_dir=str(assets_dir()),
                no_cdn=True,
            )
        else:
            ft.run(build_main(services), assets_dir=str(assets_dir()))
    finally:
        services.close()
