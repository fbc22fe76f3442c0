"""Sync for the screens: one client and its connectivity monitor per device (per process, never
per page), "Sync now", and one truthful status (`SyncStatus`) every open page subscribes to.

One SyncClient (with its own lock) is shared by "Sync now" and the monitor, so two syncs
never overlap. The monitor and the status belong to the process: a page subscribes when it
opens and unsubscribes when it closes; a subscriber that raises (a page gone without saying
so) is logged and dropped, and the worker goes on. What must outlive the process (the last
successful sync, the last attempt, the last error) is kept in the store's clear settings.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fieldapp.errors import StorageFull, StoreError
from fieldapp.ui.messages import MessageKey
from fieldapp.ui.services.device import Device
from sync.client import MonitorState, SyncClient, SyncError, SyncMonitor, SyncReport
from sync.protocol import InsecureServerURL

__all__ = ["Sync", "SyncOutcome", "SyncStatus", "describe_report"]

log = logging.getLogger(__name__)

# Kept in the store's clear settings (never anything secret): sentences about the server.
_STATE_LAST_ATTEMPT = "sync_last_attempt_at"
_STATE_LAST_ERROR = "sync_last_error"
_STATE_LAST_ERROR_AT = "sync_last_error_at"

UNREACHABLE = "the server is not reachable"


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync means to the person who tapped "Sync now": a message key and counts."""

    ok: bool
    message_key: MessageKey
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncStatus:
    """Sync as it is now, in one snapshot: what the screens show, and nothing else.

    `waiting`/`waiting_bytes`: records finalised and not yet accepted by the server, and the
    size of their signed envelopes. `running` with `done` of `total` and `sent_bytes`: a sync
    in flight. `sent`: records the last finished sync sent (None before one finished in this
    process). `online` as last found out at `probed_at` (None: not yet). The last successful
    sync, last attempt and last error (a sentence, None once a sync succeeds) outlive the
    process. `outcome`: what the latest sync, automatic or asked for, means in words.
    """

    enrolled: bool = False
    online: bool | None = None
    probed_at: datetime | None = None
    waiting: int = 0
    waiting_bytes: int = 0
    running: bool = False
    done: int = 0
    total: int = 0
    sent_bytes: int = 0
    sent: int | None = None
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    outcome: SyncOutcome | None = None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Sync:
    """The device's sync client, monitor and status, started once it is enrolled and
    unlocked; `subscribe(listener)` to hear every new `SyncStatus`."""

    def __init__(
        self,
        device: Device,
        *,
        probe_interval: float,
        max_waiting_interval: float = 3.0,
        background: bool = True,
    ) -> None:
        self._device = device
        self.background = background  # False: no monitor, only "Sync now" syncs
        self.probe_interval = probe_interval
        self.max_waiting_interval = max_waiting_interval
        self._client: SyncClient | None = None
        self._monitor: SyncMonitor | None = None
        self._lock = threading.RLock()
        self._status = SyncStatus()
        self._status_lock = threading.RLock()
        self._deliver_lock = threading.Lock()
        self._subscribers: dict[int, Callable[[SyncStatus], None]] = {}
        self._keys = itertools.count(1)
        self._seen_report: SyncReport | None = None
        self._monitor_running = False
        self._manual_running = False

    # -- the status and who hears it ------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        with self._status_lock:
            return self._status

    def subscribe(self, listener: Callable[[SyncStatus], None]) -> int:
        """Call `listener` with every new status (from any thread) until `unsubscribe(key)`;
        one that raises is dropped. Returns the key."""
        key = next(self._keys)
        with self._status_lock:
            self._subscribers[key] = listener
        return key

    def unsubscribe(self, key: int) -> None:
        with self._status_lock:
            self._subscribers.pop(key, None)

    @property
    def subscribers(self) -> int:
        with self._status_lock:
            return len(self._subscribers)

    def refresh(self) -> SyncStatus:
        """The status read again from the store (what waits, the kept times and error), told
        to every subscriber."""
        self._publish()
        return self.status

    def _stored(self) -> dict[str, Any]:
        """What the store says: waiting records and the kept times and error."""
        device = self._device
        if device.state not in ("locked", "unlocked"):
            return {"enrolled": False, "waiting": 0, "waiting_bytes": 0}
        try:
            store = device.store
            waiting, size = store.outbox.waiting()
            settings = store.settings
            return {
                "enrolled": device.enrolled,
                "waiting": waiting,
                "waiting_bytes": size,
                "last_success_at": _moment(device.last_sync_at),
                "last_attempt_at": _moment(settings.get(_STATE_LAST_ATTEMPT)),
                "last_error": settings.get(_STATE_LAST_ERROR) or None,
                "last_error_at": _moment(settings.get(_STATE_LAST_ERROR_AT)),
            }
        except (StoreError, OSError):  # the screens say what the store says elsewhere
            log.exception("sync status: the store could not be read")
            return {}

    def _publish(self, **changes: Any) -> None:
        """A new status (`changes` over what the store says), told to every subscriber."""
        stored = self._stored()
        with self._status_lock:
            running = self._monitor_running or self._manual_running
            self._status = replace(self._status, **{**stored, **changes, "running": running})
        with self._deliver_lock:  # the last one told is always the newest
            with self._status_lock:
                status, listeners = self._status, list(self._subscribers.items())
            for key, listener in listeners:
                try:
                    listener(status)
                except Exception:  # a page gone without a word: forget it, go on
                    log.warning("sync status subscriber %d failed: dropped", key, exc_info=True)
                    self.unsubscribe(key)

    def _keep(self, key: str, value: str) -> None:
        with contextlib.suppress(StoreError):
            self._device.store.settings.set(key, value)

    def _record_attempt(self, at: datetime) -> None:
        self._keep(_STATE_LAST_ATTEMPT, at.isoformat())

    def _record_error(self, why: str | None, at: datetime | None = None) -> None:
        """The last error in words (None: the last sync went well), kept in the store."""
        self._keep(_STATE_LAST_ERROR, why or "")
        self._keep(_STATE_LAST_ERROR_AT, (at or _now()).isoformat() if why else "")

    def _record_report(self, report: SyncReport) -> dict[str, Any]:
        self._seen_report = report
        self._record_error(report.errors[0] if report.errors else None, report.finished_at)
        return {"sent": report.sent, "outcome": describe_report(report)}

    # -- the worker -----------------------------------------------------------------------
    def start(self) -> None:
        """A sync client (it reads the token now, while unlocked) and the monitor; nothing
        while the device is not enrolled, or already running."""
        with self._lock:
            if self._client is not None or not self._device.enrolled:
                self._publish()
                return
            try:
                self._client = SyncClient(
                    self._device.store, on_progress=self._progress, timeout=15.0
                )
            except (SyncError, InsecureServerURL) as exc:
                log.warning("sync not started: %s", exc)
                self._record_error(str(exc))
                self._publish()
                return
            if not self.background:
                self._publish()
                return
            self._monitor = SyncMonitor(
                self._client,
                probe_interval=self.probe_interval,
                probe_timeout=3.0,
                max_waiting_interval=self.max_waiting_interval,
                on_state=self._monitor_state,
            )
            self._monitor.start()
        self._publish()

    def stop(self) -> None:
        with self._lock:
            monitor, client = self._monitor, self._client
            self._monitor = self._client = None
        if monitor is not None:
            monitor.stop(timeout=5)
        if client is not None:
            client.close()
        self._monitor_running = False

    @property
    def worker_alive(self) -> bool:
        """Whether the monitor's thread runs (it should whenever the device is enrolled)."""
        monitor = self._monitor
        return monitor is not None and monitor.alive

    def client(self) -> SyncClient | None:
        """The sync client, started if need be; None while the device is not enrolled."""
        if not self._device.enrolled:
            return None
        self.start()
        return self._client

    def _progress(self, done: int, total: int, sent_bytes: int) -> None:
        self._publish(done=done, total=total, sent_bytes=sent_bytes)

    def _monitor_state(self, state: MonitorState) -> None:
        changes: dict[str, Any] = {}
        current = self.status
        if state.probed_at is not None and (
            current.probed_at is None or state.probed_at >= current.probed_at
        ):
            changes.update(online=state.online, probed_at=state.probed_at)
        if state.running and not self._monitor_running:
            changes.update(done=0, total=0, sent_bytes=0)
            if state.last_attempt_at is not None:
                self._record_attempt(state.last_attempt_at)
        self._monitor_running = state.running
        if state.last_report is not None and state.last_report is not self._seen_report:
            changes.update(self._record_report(state.last_report))
        elif (
            state.last_error is not None
            and state.last_error != current.last_error
            and not (state.online is False and state.last_error == UNREACHABLE)
        ):  # offline is said by `online`, not as a problem
            self._record_error(state.last_error)
        self._publish(**changes)

    def sync_now(self) -> SyncOutcome:
        """One sync now, in the caller's thread; the outcome in words, never a traceback."""
        client = self.client()
        if client is None:
            outcome = SyncOutcome(False, "not_enrolled")
            self._publish(outcome=outcome)
            return outcome
        self._manual_running = True
        self._publish(done=0, total=0, sent_bytes=0, outcome=SyncOutcome(True, "syncing"))
        changes: dict[str, Any] = {}
        try:
            outcome, changes = self._sync_now(client)
        finally:
            self._manual_running = False
            self._publish(**changes)
        return outcome

    def _sync_now(self, client: SyncClient) -> tuple[SyncOutcome, dict[str, Any]]:
        asked = _now()  # a probe tells how things were when it was sent
        self._record_attempt(asked)
        health = client.health(timeout=5.0)
        probed = {"online": health is not None, "probed_at": asked}
        if health is None:
            self._record_error(UNREACHABLE)
            outcome = SyncOutcome(False, "sync_unreachable")
            return outcome, {**probed, "outcome": outcome}
        if health.status != "ok":
            self._record_error(f"the server cannot store records now ({health.reason})")
            outcome = SyncOutcome(False, "server_degraded")
            return outcome, {**probed, "outcome": outcome}
        try:
            report = client.sync()
        except StorageFull as exc:
            self._record_error(str(exc))
            outcome = SyncOutcome(False, "storage_full")
            return outcome, {**probed, "outcome": outcome}
        changes = self._record_report(report)
        if not report.ok:
            asked = _now()
            probed = {"online": client.probe(3.0), "probed_at": asked}
        return changes["outcome"], {**probed, **changes}


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
