"""Sync for the screens: one client and its connectivity monitor per device, "Sync now", and
what a sync's report means to the person who asked.

One SyncClient (with its own lock) is shared by "Sync now" and the monitor, so two syncs
never overlap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fieldapp.errors import StorageFull
from fieldapp.ui.messages import MessageKey
from fieldapp.ui.services.device import Device
from sync.client import MonitorState, SyncClient, SyncError, SyncMonitor, SyncReport
from sync.protocol import InsecureServerURL

__all__ = ["Sync", "SyncOutcome", "describe_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync means to the person who tapped "Sync now": a message key and counts."""

    ok: bool
    message_key: MessageKey
    params: dict[str, Any] = field(default_factory=dict)


class Sync:
    """The device's sync client and monitor, started once it is enrolled and unlocked."""

    def __init__(self, device: Device, *, probe_interval: float) -> None:
        self._device = device
        self.probe_interval = probe_interval
        self._client: SyncClient | None = None
        self._monitor: SyncMonitor | None = None
        self._lock = threading.RLock()
        self.on_progress: Callable[[int, int, int], None] | None = None
        self.on_monitor: Callable[[MonitorState], None] | None = None

    def start(self) -> None:
        """A sync client (it reads the token now, while unlocked) and the monitor; nothing
        while the device is not enrolled, or already running."""
        with self._lock:
            if self._client is not None or not self._device.enrolled:
                return
            try:
                self._client = SyncClient(
                    self._device.store, on_progress=self._progress, timeout=15.0
                )
            except (SyncError, InsecureServerURL) as exc:
                log.warning("sync not started: %s", exc)
                return
            self._monitor = SyncMonitor(
                self._client,
                probe_interval=self.probe_interval,
                probe_timeout=3.0,
                on_state=self._monitor_state,
            )
            self._monitor.start()

    def stop(self) -> None:
        with self._lock:
            monitor, client = self._monitor, self._client
            self._monitor = self._client = None
        if monitor is not None:
            monitor.stop(timeout=5)
        if client is not None:
            client.close()

    def client(self) -> SyncClient | None:
        """The sync client, started if need be; None while the device is not enrolled."""
        if not self._device.enrolled:
            return None
        self.start()
        return self._client

    def _progress(self, done: int, total: int, sent_bytes: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total, sent_bytes)

    def _monitor_state(self, state: MonitorState) -> None:
        if self.on_monitor is not None:
            self.on_monitor(state)

    def sync_now(self) -> SyncOutcome:
        """One sync now, in the caller's thread; the outcome in words, never a traceback."""
        client = self.client()
        if client is None:
            return SyncOutcome(False, "not_enrolled")
        health = client.health(timeout=5.0)
        if health is None:
            return SyncOutcome(False, "sync_unreachable")
        if health.status != "ok":
            return SyncOutcome(False, "server_degraded")
        try:
            report = client.sync()
        except StorageFull:
            return SyncOutcome(False, "storage_full")
        return describe_report(report)


def describe_report(report: SyncReport) -> SyncOutcome:
    counts = {
        "sent": report.sent,
        "rejected": report.rejected,
        "conflict": report.conflict,
        "pulled": report.pulled,
    }
    if report.ok and report.clock_offset is not None and report.clock_skewed:
        minutes = round(abs(report.clock_offset).total_seconds() / 60)
        return SyncOutcome(True, "sync_clock_skew", {**counts, "minutes": minutes})
    if report.ok:
        return SyncOutcome(True, "sync_result", counts)
    return SyncOutcome(False, "sync_problem", {**counts, "detail": report.errors[0]})
